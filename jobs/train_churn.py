"""Trains the churn model (logistic regression and boosted trees, hyperopt, MLflow) and promotes the best.

Reads gold/customer_features and the churn label from silver/events (docs/gold.md), splits by as-of
date, tunes both families with one nested MLflow run per trial, tests the best on the latest dates,
audits fairness per segment, and registers lakepulse-churn (champion only when it beats the current
one on test ROC AUC). With --byod, first maps your own transactions CSV (config section `byod`) onto
silver and builds the features from it.
"""

import sys

from lakepulse.jobs.train_churn import main

if __name__ == "__main__":
    sys.exit(main())
