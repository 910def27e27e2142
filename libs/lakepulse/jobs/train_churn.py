"""Trains the churn model (logistic regression and boosted trees, hyperopt, MLflow) and promotes the best.

Reads gold/customer_features and the churn label from silver/events (docs/gold.md), splits by as-of
date, tunes both families with one nested MLflow run per trial, tests the best on the latest dates,
audits fairness per segment, and registers lakepulse-churn (champion only when it beats the current
one on test ROC AUC). With --byod, first maps your own transactions CSV (config section `byod`) onto
silver and builds the features from it.
"""

from __future__ import annotations

import argparse
import sys

from lakepulse.runtime import connect
from lakepulse.runtime.cli import Job, add_byod_argument

SHOWN = (
    "test_roc_auc",
    "test_pr_auc",
    "test_log_loss",
    "test_top_decile_lift",
    "test_calibration_error",
    "baseline_recency_roc_auc",
    "oracle_roc_auc",
    "oracle_model_roc_auc",
    "oracle_baseline_recency_roc_auc",
    "auc_ratio_to_oracle",
)


def body(args, config, spark) -> int:
    from lakepulse.ml import byod, churn

    if args.byod is not None:
        config = byod.with_path(config, args.byod)
        print(byod.prepare(spark, config))
    result = churn.train(spark, config)
    print(f"MLflow run {result.run_id}: {result.promotion.summary()}")
    print(f"best family: {result.best_family}")
    for name, value in result.split.describe().items():
        print(f"  {name:<32}{value}")
    for name in SHOWN:
        if name in result.metrics:
            print(f"  {name:<32}{result.metrics[name]:.4f}")
    gap = result.metrics.get("fairness.largest_auc_gap", float("nan"))
    print(f"fairness audit: largest AUC gap {gap:.3f}; flagged: {', '.join(result.fairness_flags) or 'none'}")
    for line in result.fairness_lines:
        print("  " + line)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_byod_argument(
        parser,
        "train on your own transactions CSV (mapping in config section byod; CSV defaults to byod.path)",
    )


JOB = Job(
    "train_churn", __doc__, body, add_arguments, over_connect=connect.always(connect.MLFLOW_SPARK_FLAVOUR)
)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.train_churn
    sys.exit(main())
