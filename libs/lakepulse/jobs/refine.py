"""Refine bronze into silver Delta tables: typed, conformed, deduplicated and pseudonymised.

Incremental: only the ingest batches not refined yet are read. Running it again changes nothing; a
run killed midway is completed by the next one. See lakepulse.silver.runner.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession

from lakepulse.config import Config
from lakepulse.contracts.sources import SOURCES
from lakepulse.ops import lake
from lakepulse.ops.runs import new_run_id
from lakepulse.runtime import connect
from lakepulse.runtime.cli import Job, add_stream_arguments, trigger_interval
from lakepulse.silver import runner


def body(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    interval = trigger_interval(args, config.ingest.trigger_interval)
    lake.adopt_legacy_bookkeeping(spark, config)
    units = runner.units_for(args.source)
    run_id = new_run_id()
    if args.stream:
        runner.refine_stream(spark, config, units, run_id, interval)
    else:
        runner.refine(spark, config, units, run_id)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", choices=list(SOURCES), help="refine one source's silver table(s) (default: all)"
    )
    add_stream_arguments(
        parser,
        "run as Structured Streaming over _ops/ingest_audit",
        "with --stream: run continuously with this processing-time trigger (no value: ingest.trigger_interval)",
    )


JOB = Job("refine", __doc__, body, add_arguments, over_connect=connect.streaming, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.refine
    sys.exit(main())
