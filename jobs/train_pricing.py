"""Fits price elasticity per category (log-log demand, MLflow), registers lakepulse-pricing, writes prices.

Reads silver/events, silver/prices and silver/weather; writes gold/price_elasticities (estimate and 95%
interval per category) and gold/price_recommendations (from the pricing champion). On generated data
the planted elasticities are compared with the estimates and the errors are logged and printed.
"""

import sys

from lakepulse.jobs.train_pricing import main

if __name__ == "__main__":
    sys.exit(main())
