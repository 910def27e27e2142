"""Ingest landing files into bronze Delta tables, quarantining bad records, as a batch or a stream.

Every record read is loaded, quarantined with a machine-readable reason, or dropped as a duplicate,
and _ops/ingest_audit says how many of each per source and batch. Running it again adds nothing; a
run killed midway is completed by the next one. See lakepulse.bronze.batch for the commit protocol.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession

from lakepulse.bronze import runner
from lakepulse.config import Config
from lakepulse.contracts.sources import SOURCES
from lakepulse.ops import lake, runs
from lakepulse.runtime import connect
from lakepulse.runtime.cli import Job, add_stream_arguments, trigger_interval


def body(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    interval = trigger_interval(args, config.ingest.trigger_interval)
    lake.adopt_legacy_bookkeeping(spark, config)
    request = runner.resolve(config, args.source, args.path)
    run_id = runs.new_run_id()
    if args.stream:
        runner.run_stream_mode(spark, config, request, run_id, interval)
    else:
        runner.run_batch_mode(spark, config, request, run_id, full_check=args.full_check)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=list(SOURCES), help="one source (default: all)")
    parser.add_argument(
        "--path", help="read this file or folder instead of the source's landing folder (needs --source)"
    )
    parser.add_argument(
        "--full-check",
        action="store_true",
        help="look up every listed file in the bookkeeping, however old (default: files modified within "
        "ingest.max_file_age_hours of the newest ingested file)",
    )
    add_stream_arguments(
        parser,
        "run as Structured Streaming (default trigger: availableNow)",
        "with --stream: run continuously with this processing-time trigger, e.g. '1 minute' "
        "(no value: ingest.trigger_interval)",
    )


JOB = Job("ingest", __doc__, body, add_arguments, over_connect=connect.streaming, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.ingest
    sys.exit(main())
