"""Writes a self-contained HTML report with plots of KPIs, costs, market signals, promos, churn and pricing.

The report lands under the lake's reports folder (paths.reports) as index.html.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakepulse.app.report import build_report
from lakepulse.config import Config
from lakepulse.runtime.cli import Job


def body(args, config: Config, spark: SparkSession) -> int:
    page, plots = build_report(spark, config)
    out = Path(args.output or Path(config.paths.reports) / "index.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"report: {out} ({plots} plots)")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", help="HTML file to write (default: <paths.reports>/index.html)")


JOB = Job("report", __doc__, body, add_arguments)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.report
    sys.exit(main())
