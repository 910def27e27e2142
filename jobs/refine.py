"""Refine bronze into silver Delta tables: typed, conformed, deduplicated and pseudonymised.

Incremental: only the ingest batches not refined yet are read. Running it again changes nothing; a
run killed midway is completed by the next one. See lakepulse.refine.runner.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession

from lakepulse.cli import add_stream_arguments, job_parser, run, trigger_interval
from lakepulse.config import Config
from lakepulse.ingest.runner import new_run_id
from lakepulse.ingest.sources import SOURCES
from lakepulse.refine import runner


def body(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    interval = trigger_interval(args, config.ingest.trigger_interval)
    units = runner.units_for(args.source)
    run_id = new_run_id()
    if args.stream:
        runner.refine_stream(spark, config, units, run_id, interval)
    else:
        runner.refine(spark, config, units, run_id)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("refine", __doc__)
    parser.add_argument(
        "--source", choices=list(SOURCES), help="refine one source's silver table(s) (default: all)"
    )
    add_stream_arguments(
        parser,
        "run as Structured Streaming over bronze/ingest_audit",
        "with --stream: run continuously with this processing-time trigger (no value: ingest.trigger_interval)",
    )
    return run("refine", parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
