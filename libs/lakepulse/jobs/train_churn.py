"""Trains the churn model (logistic regression and boosted trees, hyperopt, MLflow) and promotes the best.

Reads gold/customer_features and gold/churn_labels (both written by the features job, docs/gold.md),
splits by as-of date, tunes both families with one nested MLflow run per trial, tests the best on the
latest dates, audits fairness per segment, and registers lakepulse-churn (champion only when it beats
the current one on test ROC AUC). With --byod, first maps your own transactions CSV (config section
`byod`) onto silver and builds the features and labels from it.
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
)


def load_byod(spark, config, path: str):
    """`--byod`: the user's transactions onto silver (silver.byod), the churn label fitted to the file,
    then the features job's gold tables rebuilt whole from them; returns the config naming the file and
    the label. train_churn and score share it."""
    from lakepulse.gold import rebuild, tables
    from lakepulse.silver import byod

    config = byod.with_path(config, path)
    loaded = byod.prepare(spark, config)
    config, label = byod.label_settings(config, loaded)
    for line in (*loaded.lines, label):
        print(line)
    print(rebuild.rebuild(spark, config, tables.FEATURE_TABLES))
    return config


def body(args, config, spark) -> int:
    from lakepulse.ml import churn

    if args.byod is not None:
        config = load_byod(spark, config, args.byod)
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
