"""Where ingestion's tables live, and how they get their schema.

Bookkeeping tables (audit, files, quarantine, expectation results) are first written from DataFrames
built with their StructType constant, so the table has the declared schema, NOT NULL included, and
Delta rejects a later write that breaks it. No separate CREATE commit: on a busy cluster every commit
costs several jobs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakepulse import delta_io, schemas
from lakepulse.config import Config

QUARANTINE = "quarantine"
AUDIT = "ingest_audit"
FILES = "_ingested_files"
EXPECTATION_RESULTS = "expectation_results"


# Bronze source tables keep every field as text; readers select by batch (refine) or by the partition
# column. Statistics on the ingestion metadata only: per-column min/max of 20 to 40 text columns (the
# raw line included) took as long to compute as writing the files.
BRONZE_TABLE_PROPERTIES = {
    "delta.dataSkippingStatsColumns": ",".join(f.name for f in schemas.BRONZE_METADATA.fields)
}
# Quarantine rows keep the line as received (`raw`), personal data included: statistics on it would copy
# the first characters of its smallest and largest lines (client IPs, customer ids) into the _delta_log
# JSON, where neither erasure nor a column's access rules reach. Statistics on the bookkeeping columns only.
QUARANTINE_TABLE_PROPERTIES = {
    "delta.dataSkippingStatsColumns": ",".join(
        f.name for f in schemas.QUARANTINE.fields if f.name not in ("raw", "source_file")
    )
}


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: T.StructType,
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
) -> None:
    if delta_io.is_delta(spark, path):
        return
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    builder.execute()


def bronze(config: Config, table: str) -> str:
    return config.table_path("bronze", table)


def small_frame(spark: SparkSession, rows: Sequence[tuple], schema: T.StructType) -> DataFrame:
    """A DataFrame of a few driver-side rows with exactly `schema` (nullability included).

    Timestamps are given as UTC text (yyyy-MM-dd HH:mm:ss.ffffff) and become UTC-aware datetimes, so
    Python's local time zone, which PySpark applies to naive datetimes, never shifts them. A table
    first created by such a write gets the declared schema, NOT NULL columns included.
    """
    stamps = [i for i, f in enumerate(schema.fields) if isinstance(f.dataType, T.TimestampType)]

    def convert(row: tuple) -> tuple:
        values = list(row)
        for i in stamps:
            if values[i] is not None:
                values[i] = dt.datetime.fromisoformat(values[i]).replace(tzinfo=dt.UTC)
        return tuple(values)

    # One partition: one file per write, where the default parallelism would make as many small files.
    return spark.createDataFrame([convert(r) for r in rows], schema).coalesce(1)
