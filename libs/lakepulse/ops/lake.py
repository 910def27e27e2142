"""Where the lake's bookkeeping lives, and how its tables get their schema.

Bookkeeping (ingest audit and files, expectation results, refine state, maintenance and erasure logs)
sits in its own area, <lake>/_ops, apart from the data layers that people and models read. Lakes made
before that area existed kept it in bronze/ and silver/: `adopt_legacy_bookkeeping` moves it once.

Bookkeeping tables are first written from DataFrames built with their StructType constant, so the
table has the declared schema, NOT NULL included, and Delta rejects a later write that breaks it. No
separate CREATE commit: on a busy cluster every commit costs several jobs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakepulse.config import OPS_AREA, Config
from lakepulse.contracts import expectations, schemas
from lakepulse.errors import LakepulseError
from lakepulse.runtime import delta_io, paths

log = logging.getLogger("lakepulse.ops")

QUARANTINE = "quarantine"  # bronze: the records themselves, not bookkeeping
AUDIT = "ingest_audit"
FILES = "_ingested_files"
EXPECTATION_RESULTS = "expectation_results"
REFINE_STATE = "_refine_state"
MAINTENANCE_LOG = "maintenance_log"
ERASURE_REQUESTS = "erasure_requests"
# Where each bookkeeping table lived before the _ops area.
LEGACY_LAYER = {
    AUDIT: "bronze",
    FILES: "bronze",
    EXPECTATION_RESULTS: "bronze",
    MAINTENANCE_LOG: "bronze",
    ERASURE_REQUESTS: "bronze",
    REFINE_STATE: "silver",
}


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
    delta_io.create_if_missing(spark, path, schema, partition_by, properties)


def ops(config: Config, table: str) -> str:
    """<lake>/_ops/<table>: a bookkeeping table."""
    return config.table_path(OPS_AREA, table)


def adopt_legacy_bookkeeping(spark: SparkSession, config: Config) -> list[str]:
    """Moves the bookkeeping of a lake made before the _ops area into it, once; returns the tables moved.

    A Delta table's log names its files relative to the table folder, so moving the folder moves the
    table (history, idempotent-write markers and streaming source identity included). On a local disk
    that is one rename per table; on object storage a move is a copy, which lakepulse leaves to the
    user's tools rather than risk a half-copied table: the run stops with one line saying what to move.
    """
    moved = []
    for table, layer in LEGACY_LAYER.items():
        old, new = config.table_path(layer, table), ops(config, table)
        if not delta_io.is_delta(spark, old) or delta_io.is_delta(spark, new):
            continue
        if not paths.is_local(old):
            raise LakepulseError(f"{old}: bookkeeping from before the _ops area; move this folder to {new}")
        os.makedirs(os.path.dirname(paths.local_path(new)), exist_ok=True)
        os.rename(paths.local_path(old), paths.local_path(new))
        moved.append(table)
    if moved:
        log.warning("moved bookkeeping into %s/%s: %s", config.paths.lake, OPS_AREA, ", ".join(moved))
    return moved


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


def expectation_rows(
    run_id: str,
    batch_id: str,
    recorded_at: str,
    layer: str,
    dataset: str,
    rules,
    outcome: expectations.Outcome,
    extra: Sequence[tuple[str, str, str, int]] = (),
) -> list[tuple]:
    base = (run_id, batch_id, layer, dataset)
    rows = [
        (*base, r.name, r.expr, r.action, outcome.failed_count(r.name), outcome.rows, recorded_at)
        for r in rules
    ]
    rows += [(*base, n, e, a, c, outcome.rows, recorded_at) for n, e, a, c in extra]
    return rows
