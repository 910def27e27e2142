"""The parts of lakepulse that cannot run over Spark Connect with the pinned Spark, Delta and MLflow.

A job declares which of these it needs (`Job.over_connect`); on a Connect session it stops before any
work with one line naming the part and why, instead of failing midway with a JVM-side trace. The
README's "Spark Connect" section lists the same parts.
"""

from __future__ import annotations

import argparse

MLFLOW_SPARK_FLAVOUR = (
    "the churn model is saved and loaded as MLflow's Spark flavour (mlflow.spark), which in mlflow 3.17.2 "
    "copies a pyspark.ml model through the driver JVM's Hadoop filesystem (SparkContext._jvm), and a "
    "Spark Connect client has no driver JVM"
)
FOREACH_BATCH = (
    "--stream runs lakepulse's batch routine in foreachBatch, whose function Spark Connect pickles and "
    "runs in a Python process of the server, where this process's session (which the routine uses) "
    "does not exist; run the batch mode, which is incremental too"
)


def everywhere(args: argparse.Namespace) -> str | None:
    """A job with no such part."""
    return None


def streaming(args: argparse.Namespace) -> str | None:
    """ingest and refine: only their --stream mode."""
    return FOREACH_BATCH if getattr(args, "stream", False) else None


def always(reason: str):
    """A job whose every run needs the part `reason` names."""

    def check(args: argparse.Namespace) -> str | None:
        return reason

    return check
