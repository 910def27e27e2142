"""Ingest landing files into bronze Delta tables, quarantining bad records, as a batch or a stream.

Every record read is loaded, quarantined with a machine-readable reason, or dropped as a duplicate,
and bronze/ingest_audit says how many of each per source and batch. Running it again adds nothing; a
run killed midway is completed by the next one. See lakepulse.ingest.batch for the commit protocol.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession

from lakepulse.cli import add_stream_arguments, job_parser, run, trigger_interval
from lakepulse.config import Config
from lakepulse.ingest import runner
from lakepulse.ingest.sources import SOURCES


def body(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    interval = trigger_interval(args, config.ingest.trigger_interval)
    request = runner.resolve(config, args.source, args.path)
    run_id = runner.new_run_id()
    if args.stream:
        runner.run_stream_mode(spark, config, request, run_id, interval)
    else:
        runner.run_batch_mode(spark, config, request, run_id, full_check=args.full_check)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("ingest", __doc__)
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
    return run("ingest", parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
