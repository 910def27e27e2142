"""Gold KPIs: daily KPIs, retention cohorts, market signals, promo response and cost KPIs, incrementally.

Writes gold/kpi_daily, gold/retention_cohorts, gold/market_signals, gold/promo_response and
gold/cost_kpis_daily from silver, each reading only the days its windows need and replacing the days
it computes. Default: every complete silver day not yet computed. See docs/gold.md.
"""

import sys

from lakepulse.cli import job_parser, run
from lakepulse.gold import runner


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("kpis", __doc__)
    runner.add_day_arguments(parser, "day", runner.KPI_TABLES)
    return run(
        "kpis",
        parser,
        argv,
        lambda args, config, spark: runner.run_job("kpis", args, config, spark, runner.KPI_TABLES),
    )


if __name__ == "__main__":
    sys.exit(main())
