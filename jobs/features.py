"""Gold customer features: one point-in-time row per customer and as-of date, computed incrementally.

Reads silver events (only the 90 days the windows need), customer history, prices and weather; writes
gold/customer_features, replacing the computed as-of dates. Default: every as-of date not yet
computed up to the day after the last complete silver day. See docs/gold.md.
"""

import sys

from lakepulse.cli import job_parser, run
from lakepulse.gold import runner


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("features", __doc__)
    runner.add_day_arguments(parser, "as-of date", runner.FEATURE_TABLES)
    return run(
        "features",
        parser,
        argv,
        lambda args, config, spark: runner.run_job("features", args, config, spark, runner.FEATURE_TABLES),
    )


if __name__ == "__main__":
    sys.exit(main())
