"""Gold KPIs: daily KPIs, retention cohorts, market signals, promo response, cost KPIs and product demand.

Writes gold/kpi_daily, gold/retention_cohorts, gold/market_signals, gold/promo_response,
gold/cost_kpis_daily and gold/product_demand_daily (the pricing model's input) from silver, each
reading only the days its windows need and replacing the days it computes. Default: every complete
silver day not yet computed. See docs/gold.md.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession

from lakepulse.config import Config
from lakepulse.gold import runner, tables
from lakepulse.runtime.cli import Job


def add_arguments(parser: argparse.ArgumentParser) -> None:
    runner.add_day_arguments(parser, "day", tables.KPI_TABLES)


def body(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    return runner.run_job("kpis", args, config, spark, tables.KPI_TABLES)


JOB = Job("kpis", __doc__, body, add_arguments, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.kpis
    sys.exit(main())
