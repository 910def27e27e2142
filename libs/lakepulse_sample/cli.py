"""Generate deterministic raw sources (events, logs, billing, ...) with planted truth into the landing area.

Parameters come from the config section `generate`; the flags below override them for one run. The
same seed and parameters always give the same data, whatever the cluster size. `--events N` sizes the
run by its output instead: the customers are derived from N and the days. Before writing anything,
the job states on stderr (and in its log) how many lines and bytes it is about to write.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from typing import TYPE_CHECKING

from lakepulse.jobs.pipeline import pipeline_job
from lakepulse.runtime.cli import Job

if TYPE_CHECKING:
    from lakepulse.config import Config
    from lakepulse_sample import GenerateParams

log = logging.getLogger("lakepulse_sample.cli")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--customers", type=int, help="number of customers (generate.customers)")
    size.add_argument(
        "--events",
        type=int,
        help="about this many events: the customers are derived from it and the days (not with --customers)",
    )
    parser.add_argument("--days", type=int, help="number of days (generate.days)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (generate.start)")
    parser.add_argument("--seed", type=int, help="random seed (generate.seed)")
    parser.add_argument(
        "--bad-rate", type=float, dest="bad_rate", help="share of bad records (generate.bad_record_rate)"
    )
    parser.add_argument(
        "--no-gzip", action="store_true", help="write events uncompressed (generate.gzip=false)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace what the landing folder already holds"
    )
    planted = parser.add_argument_group("planted truth (the defaults are the sample's)")
    planted.add_argument(
        "--promo-segment",
        metavar="CITY_TYPE/WEEKDAY/START-END",
        help="the segment whose promo views convert 5x more: city type, weekday, UTC hours [START, END) "
        "(default urban/Friday/18-22)",
    )
    planted.add_argument("--trend-category", help="the category of the search surge (default: from the seed)")
    planted.add_argument("--trend-country", help="the country of the search surge (default: from the seed)")
    planted.add_argument(
        "--trend-factor", type=float, help="the surge's search rate on the last day, x its start (default 3)"
    )
    planted.add_argument(
        "--anomalies", type=int, help="number of planted cost anomalies (default: 3 to 5, from the seed)"
    )


def body(args, config, spark) -> int:
    from lakepulse_sample import GenerateParams, generate_all
    from lakepulse_sample.params import parse_promo_segment

    segment = parse_promo_segment(args.promo_segment) if args.promo_segment else {}
    params = GenerateParams.from_config(
        config.generate,
        customers=args.customers,
        days=args.days,
        start=args.start,
        seed=args.seed,
        bad_record_rate=args.bad_rate,
        gzip=False if args.no_gzip else None,
        trend_category=args.trend_category,
        trend_country=args.trend_country,
        trend_factor=args.trend_factor,
        anomalies=args.anomalies,
        **segment,
    )
    if args.events is not None:
        params = _sized_by_events(params, args.events)
    _refuse_a_full_landing(config, args.overwrite)
    _announce(params, config.paths.landing)
    manifest = generate_all(spark, config, params, overwrite=args.overwrite)
    print(json.dumps({"landing": config.paths.landing, "records": manifest["records"]}, sort_keys=True))
    return 0


def _sized_by_events(params: GenerateParams, events: int) -> GenerateParams:
    from lakepulse.errors import UsageError
    from lakepulse_sample.plan import MAX_CUSTOMERS, customers_for_events

    if events < 1:
        raise UsageError(f"--events {events}: expected a positive number of events")
    customers = customers_for_events(events, params)
    if customers > MAX_CUSTOMERS:
        raise UsageError(
            f"--events {events}: needs more than {MAX_CUSTOMERS:,} customers over {params.days} days; "
            "add days (--days)"
        )
    return dataclasses.replace(params, customers=customers)


def _refuse_a_full_landing(config: Config, overwrite: bool) -> None:
    """The refusal to mix two generations comes before the plan: a run that writes nothing announces nothing."""
    from lakepulse_sample import SOURCES, landing

    root = landing.local_dir(config.paths.landing)
    if not overwrite and root.is_dir() and any(root.iterdir()):
        landing.ensure_empty(root, SOURCES, overwrite=False)  # raises the one-line usage error


def _announce(params: GenerateParams, landing: str) -> None:
    """Says how much is about to be written, before the (possibly long) run writes it."""
    from lakepulse_sample.plan import estimate

    plan = estimate(params)
    log.info("plan: %s", json.dumps(dataclasses.asdict(plan), sort_keys=True))
    print(plan.summary(landing.rstrip("/") + "/"), file=sys.stderr, flush=True)


GENERATE = Job("generate", __doc__, body, add_arguments)
# The product's pipeline with this kit's generate as its first step (jobs/pipeline.py).
PIPELINE = pipeline_job(sample=GENERATE)
