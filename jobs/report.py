"""Writes a self-contained HTML report with plots of KPIs, costs, market signals, promos, churn and pricing.

The report lands under the lake's reports folder (paths.reports) as index.html.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakepulse.cli import job_parser, run
from lakepulse.config import Config
from lakepulse.report import build_report


def body(args, config: Config, spark: SparkSession) -> int:
    page, plots = build_report(spark, config)
    out = Path(args.output or Path(config.paths.reports) / "index.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"report: {out} ({plots} plots)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("report", __doc__)
    parser.add_argument("--output", help="HTML file to write (default: <paths.reports>/index.html)")
    return run("report", parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
