"""Scores the latest customer features with the churn champion and refreshes price recommendations.

Loads models:/lakepulse-churn@champion, scores the newest as-of date of gold/customer_features into
gold/churn_scores (customer, as-of date, probability, risk band, model version; a rerun replaces that
date's rows), and recomputes gold/price_recommendations from models:/lakepulse-pricing@champion.
"""

import sys

from lakepulse.jobs.score import main

if __name__ == "__main__":
    sys.exit(main())
