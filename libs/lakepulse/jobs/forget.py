"""Right to erasure: removes one customer from every bronze, silver and gold table and from quarantine.

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
from lakepulse.config import Config
from lakepulse.ops import lake
from lakepulse.ops.erasure import check_customer_id, erase_from_table
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
    )
    # Recorded only once every delete (and vacuum) has committed; the request's own idempotent-write id
    # lets the record be retried after a conflict (maintain altering this table meanwhile) without a
    # second row.
    delta_io.append(
        spark.createDataFrame([request], AUDIT_SCHEMA), audit, txn=(f"lakepulse-erasure-{request_id}", 0)
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
