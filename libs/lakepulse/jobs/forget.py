"""Right to erasure: removes one customer from every bronze, silver and gold table, from quarantine and
from the landing files that still hold their records (rewritten without them, the rewrite booked so
that ingest does not read them again: lakepulse.bronze.landing_erasure).

The request is recorded, pseudonymised, in _ops/erasure_requests. With --vacuum the tables are then
vacuumed so that earlier table versions cannot be read back with the customer in them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import uuid

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakepulse import privacy
from lakepulse.bronze.landing_erasure import erase_from_landing
from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.ops import lake
from lakepulse.ops.erasure import check_customer_id, customer_source, erase_from_table
from lakepulse.ops.maintenance import all_tables, vacuum
from lakepulse.runtime import delta_io
from lakepulse.runtime.cli import Job, log

AUDIT_SCHEMA = T.StructType(
    [
        T.StructField("request_id", T.StringType()),
        T.StructField("customer_key", T.StringType()),
        T.StructField("requested_at", T.TimestampType()),
        T.StructField("tables", T.ArrayType(T.StringType())),
        T.StructField("rows_erased", T.LongType()),
        T.StructField("vacuumed", T.BooleanType()),
        # Landing files rewritten without the customer's lines, and those lines (null in requests
        # recorded before landing files were erased).
        T.StructField("landing_files", T.LongType()),
        T.StructField("landing_lines", T.LongType()),
    ]
)


def body(args, config: Config, spark: SparkSession) -> int:
    customer_id = check_customer_id(args.customer)
    lake.adopt_legacy_bookkeeping(spark, config)
    customer_key = privacy.pseudonymise_value(customer_id, privacy.pseudonym_key(config))
    audit = lake.ops(config, lake.ERASURE_REQUESTS)
    request_id = str(uuid.uuid4())
    erased = []
    for name, path in all_tables(spark, config):
        if path.rstrip("/") == audit.rstrip("/"):
            continue
        result = erase_from_table(spark, name, path, customer_id, customer_key, f"erasure {request_id}")
        if result is not None and result.rows:
            erased.append(result)
    landing = erase_from_landing(
        spark, config, customer_source(spark, customer_id, customer_key), customer_id, request_id
    )
    retention = config.maintenance.vacuum_retention_hours if args.retain_hours is None else args.retain_hours
    if args.vacuum:
        for result in erased:
            vacuum(spark, config.table_path(*result.table.split("/")), retention)
    request = (
        request_id,
        customer_key,
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
        [r.table for r in erased],
        sum(r.rows for r in erased),
        bool(args.vacuum),
        len(landing.rewritten),
        sum(r.lines_removed for r in landing.rewritten),
    )
    # Recorded only once every delete (and vacuum) has committed; the request's own idempotent-write id
    # lets the record be retried after a conflict (maintain altering this table meanwhile) without a
    # second row.
    delta_io.append(
        spark.createDataFrame([request], AUDIT_SCHEMA),
        audit,
        txn=(f"lakepulse-erasure-{request_id}", 0),
        merge_schema=True,  # a table recorded before its landing columns existed gets them
    )
    # Logs name the pseudonymised key only, never the id.
    log.info(
        "erasure %s: %d rows from %d tables (customer_key %s…)",
        request[0],
        request[4],
        len(erased),
        customer_key[:12],
    )
    for r in erased:
        print(f"  {r.table:<32}{r.rows:>8} rows erased")
    if landing.rewritten:
        print(f"  {'landing files':<32}{request[7]:>8} lines removed from {len(landing.rewritten)} files")
    if landing.refused:
        # The tables are erased and the request recorded (re-deliveries are refused); these files still
        # hold the customer until they are fixed or removed and forget runs again.
        raise LakepulseError(
            f"forget: {landing.refused[0]}; fix or remove it, then run forget again"
            + (f" ({len(landing.refused) - 1} more such files)" if len(landing.refused) > 1 else "")
        )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer", required=True, help="the customer id to erase, as the sources send it")
    parser.add_argument("--vacuum", action="store_true", help="VACUUM the affected tables afterwards")
    parser.add_argument(
        "--retain-hours", type=int, help="VACUUM retention (default: maintenance.vacuum_retention_hours)"
    )


JOB = Job("forget", __doc__, body, add_arguments)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.forget
    sys.exit(main())
