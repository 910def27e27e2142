"""Gold customer features: one point-in-time row per customer and as-of date, computed incrementally.

Reads silver events (only the 90 days the windows need), customer history, prices and weather; writes
gold/customer_features, replacing the computed as-of dates. Default: every as-of date not yet
computed up to the day after the last complete silver day. See docs/gold.md.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession

from lakepulse.config import Config
from lakepulse.gold import runner, tables
from lakepulse.runtime.cli import Job


def add_arguments(parser: argparse.ArgumentParser) -> None:
    runner.add_day_arguments(parser, "as-of date", tables.FEATURE_TABLES)


def body(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    return runner.run_job("features", args, config, spark, tables.FEATURE_TABLES)


JOB = Job("features", __doc__, body, add_arguments, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.features
    sys.exit(main())
