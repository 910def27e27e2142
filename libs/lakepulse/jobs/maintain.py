"""Compacts every Delta table (OPTIMIZE, Z-ordered where readers filter), VACUUMs, reports files and bytes.

The same pass the small-file guard applies after each write, for the whole lake on a schedule.
"""

from __future__ import annotations

import argparse
import sys
import threading
import uuid

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakepulse.config import Config
from lakepulse.errors import UsageError
from lakepulse.ops import lake
from lakepulse.ops.maintenance import TableMaintenance, all_tables, maintain_tables
from lakepulse.runtime import delta_io
from lakepulse.runtime.cli import Job

LOG_SCHEMA = T.StructType(
    [
        T.StructField("maintained_at", T.TimestampType()),
        T.StructField("table", T.StringType()),
        T.StructField("files_before", T.LongType()),
        T.StructField("bytes_before", T.LongType()),
        T.StructField("files_after", T.LongType()),
        T.StructField("bytes_after", T.LongType()),
        T.StructField("zorder_by", T.ArrayType(T.StringType())),
        T.StructField("seconds", T.DoubleType()),
    ]
)


def body(args, config: Config, spark: SparkSession) -> int:
    import datetime as dt

    lake.adopt_legacy_bookkeeping(spark, config)
    tables = all_tables(spark, config)
    if args.table:
        known = {name for name, _ in tables}
        unknown = sorted(set(args.table) - known)
        if unknown:
            raise UsageError(
                f"unknown table {unknown[0]!r} (tables: {', '.join(sorted(known)) or 'none yet'})"
            )
        tables = [(name, path) for name, path in tables if name in args.table]
    retention = config.maintenance.vacuum_retention_hours if args.retain_hours is None else args.retain_hours
    print(
        f"{'table':<32}{'files before':>14}{'bytes before':>16}{'files after':>13}{'bytes after':>15}  z-order"
    )
    rows = []
    lock = threading.Lock()

    def done(result: TableMaintenance, seconds: float) -> None:  # called from the maintenance threads
        with lock:
            print(
                f"{result.table:<32}{result.files_before:>14}{result.bytes_before:>16}{result.files_after:>13}"
                f"{result.bytes_after:>15}  {','.join(result.zorder_by) or '-'}",
                flush=True,
            )
            rows.append(
                (
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    result.table,
                    result.files_before,
                    result.bytes_before,
                    result.files_after,
                    result.bytes_after,
                    list(result.zorder_by),
                    seconds,
                )
            )

    maintain_tables(spark, tables, retention, done)
    if rows:  # the run's own idempotent-write id: retried after a conflict, recorded once
        log_path = lake.ops(config, lake.MAINTENANCE_LOG)
        run = (f"lakepulse-maintain-{uuid.uuid4()}", 0)
        delta_io.append(spark.createDataFrame(rows, LOG_SCHEMA), log_path, txn=run)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", action="append", default=[], help="only this layer/table (repeatable)")
    parser.add_argument("--retain-hours", type=int, help="VACUUM retention for this run (default: config)")


JOB = Job("maintain", __doc__, body, add_arguments, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.maintain
    sys.exit(main())
