"""Table upkeep: compaction with Z-ordering on the columns readers filter by, VACUUM, and the report.

The small-file guard itself runs after every write, as Delta's auto compaction (a post-commit hook,
configured in `lakepulse.runtime.spark_conf` from `maintenance.small_file_threshold`); `maintain` is the
scheduled full pass on top of it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.config import LAYERS, OPS_AREA, Config
from lakepulse.runtime import delta_io, threads

log = logging.getLogger("lakepulse.ops.maintenance")

# Columns readers filter by, per table (besides the partition columns, which Z-ordering cannot use).
ZORDER_BY: dict[str, tuple[str, ...]] = {
    "silver/events": ("customer_key", "event_type"),
    "silver/requests": ("service",),
    "silver/app_logs": ("service",),
    "silver/billing": ("ServiceName",),
    "gold/customer_features": ("customer_key",),
    "gold/churn_scores": ("customer_key",),
    "gold/cost_kpis_daily": ("service",),
}


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    zorder_by: tuple[str, ...]


@dataclass(frozen=True)
class TableDetail:
    """What one `DESCRIBE DETAIL` says of the table's current version: its live data files and bytes
    (what a reader scans; files replaced by OPTIMIZE stay on storage until VACUUM, uncounted), its
    partition columns and its properties."""

    files: int
    bytes: int
    partition_columns: tuple[str, ...]
    properties: dict[str, str]


def table_detail(spark: SparkSession, path: str) -> TableDetail:
    row = (
        spark.sql(f"DESCRIBE DETAIL {delta_io.sql_table(path)}")
        .select("numFiles", "sizeInBytes", "partitionColumns", "properties")
        .first()
    )
    return TableDetail(
        int(row["numFiles"] or 0),
        int(row["sizeInBytes"] or 0),
        tuple(row["partitionColumns"] or ()),
        dict(row["properties"] or {}),
    )


def stats_columns(table: DataFrame, properties: dict[str, str]) -> list[str]:
    """The top-level columns Delta collects min/max statistics for: `delta.dataSkippingStatsColumns`
    when set, else the first `delta.dataSkippingNumIndexedCols` (32) leaf columns."""
    if properties.get("delta.dataSkippingStatsColumns"):
        return [c.strip() for c in properties["delta.dataSkippingStatsColumns"].split(",")]
    limit = int(properties.get("delta.dataSkippingNumIndexedCols", "32"))
    out, leaves = [], 0
    for field in table.schema.fields:
        leaves += len(field.dataType.fields) if isinstance(field.dataType, T.StructType) else 1
        if leaves > limit >= 0:
            break
        out.append(field.name)
    return out


def zorder_columns(spark: SparkSession, table: str, path: str, detail: TableDetail) -> tuple[str, ...]:
    """The configured Z-order columns that exist in the table and are not partition columns.

    Z-ordering clusters files by a column so that min/max statistics can skip them; a wide table
    (FOCUS billing has more than 32 columns) may not collect statistics for that column, and Delta
    refuses to Z-order on it. Such a column is added to `delta.dataSkippingStatsColumns` (keeping the
    columns that already had statistics), so the files OPTIMIZE writes carry its statistics.
    """
    wanted = ZORDER_BY.get(table, ())
    if not wanted:
        return ()
    frame = spark.read.format("delta").load(path)
    chosen = tuple(c for c in wanted if c in frame.columns and c not in set(detail.partition_columns))
    with_stats = stats_columns(frame, detail.properties)
    missing = [c for c in chosen if c not in with_stats]
    if missing:
        columns = ",".join([*with_stats, *missing])
        log.info("%s: collecting statistics on %s for Z-ordering", table, ", ".join(missing))
        delta_io.commit_sql(
            spark,
            path,
            "ALTER TABLE SET TBLPROPERTIES",
            f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.dataSkippingStatsColumns' = '{columns}')",
        )
    return chosen


def crowded_partitions(spark: SparkSession, path: str, columns: Sequence[str]) -> str | None:
    """A predicate selecting the partitions that hold more than one data file ("" for an unpartitioned
    table that does), or None when there is none.

    Delta skips data by each file's min/max statistics, so Z-ordering pays only where a partition has
    several files to cluster across; rewriting the single file of every day's partition (most of the
    history after the small-file guard) would cost a full rewrite of the table and skip nothing more.
    Reads only the files' metadata (partition values and paths), no data column.
    """
    files = (
        spark.read.format("delta").load(path).select(*columns, F.col("_metadata.file_path").alias("_file"))
    )
    if not columns:
        return "" if files.select("_file").distinct().limit(2).count() > 1 else None
    # Bounded collect: one row per crowded partition (days with several files), not per record.
    crowded = (
        files.groupBy(*columns)
        .agg(F.countDistinct("_file").alias("_files"))
        .filter(F.col("_files") > 1)
        .collect()
    )
    if not crowded:
        return None

    def equals(name: str, value) -> str:
        if value is None:
            return f"`{name}` IS NULL"
        return f"`{name}` = '{str(value).replace(chr(39), chr(39) * 2)}'"

    return " OR ".join("(" + " AND ".join(equals(c, row[c]) for c in columns) + ")" for row in crowded)


def maintain_table(spark: SparkSession, table: str, path: str, retention_hours: int) -> TableMaintenance:
    """One table's pass; a retention of 0 hours needs `retention_check_lifted`.

    The footprint after it is the one before plus what OPTIMIZE reports having added and removed
    (VACUUM changes no live file): a second `DESCRIBE DETAIL` would rebuild the table state of the
    versions VACUUM itself commits (its start and end), for nothing.
    """
    detail = table_detail(spark, path)
    optimize = f"OPTIMIZE {delta_io.sql_table(path)}"
    zorder = zorder_columns(spark, table, path, detail)
    optimized = None
    if zorder:
        crowded = crowded_partitions(spark, path, detail.partition_columns)
        if crowded is not None:  # None: no partition holds more than one file, nothing to cluster
            where = "" if crowded == "" else f" WHERE {crowded}"
            zordered = f"{optimize}{where} ZORDER BY ({', '.join(f'`{c}`' for c in zorder)})"
            optimized = delta_io.commit_sql(spark, path, "OPTIMIZE", zordered)
        else:
            zorder = ()
    else:
        optimized = delta_io.commit_sql(spark, path, "OPTIMIZE", optimize)
    files_after, bytes_after = detail.files, detail.bytes
    if optimized is not None:
        m = optimized[0]["metrics"]
        files_after += int(m["numFilesAdded"]) - int(m["numFilesRemoved"])
        bytes_after += int(m["filesAdded"]["totalSize"] or 0) - int(m["filesRemoved"]["totalSize"] or 0)
    vacuum_table(spark, path, retention_hours, detail.properties)
    return TableMaintenance(table, detail.files, detail.bytes, files_after, bytes_after, zorder)


RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
DEFAULT_RETENTION_HOURS = 168  # Delta's default for the property: "interval 1 week"


def vacuum_table(
    spark: SparkSession, path: str, retention_hours: int, properties: dict[str, str] | None = None
) -> None:
    """VACUUM keeping `retention_hours` of removed files.

    Delta 4 ignores VACUUM's RETAIN argument unless it is 0 (with a warning, then it keeps the table's
    `delta.deletedFileRetentionDuration`, one week by default), so a configured retention of, say,
    30 days would silently become 7. The retention is therefore written into that property when it
    differs (one commit, the first time), and VACUUM runs without an argument; 0 is passed as such.
    """
    if retention_hours == 0:
        delta_io.commit_sql(spark, path, "VACUUM", f"VACUUM {delta_io.sql_table(path)} RETAIN 0 HOURS")
        return
    if properties is None:
        properties = table_detail(spark, path).properties
    wanted = f"interval {retention_hours} hours"
    current = properties.get(RETENTION_PROPERTY)
    if current != wanted and not (current is None and retention_hours == DEFAULT_RETENTION_HOURS):
        retention = f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{RETENTION_PROPERTY}' = '{wanted}')"
        delta_io.commit_sql(spark, path, "ALTER TABLE SET TBLPROPERTIES", retention)
    delta_io.commit_sql(spark, path, "VACUUM", f"VACUUM {delta_io.sql_table(path)}")


@contextlib.contextmanager
def retention_check_lifted(spark: SparkSession, retention_hours: int) -> Iterator[None]:
    """Allows VACUUM with a retention of 0 hours (an explicit purge, e.g. after an erasure), which Delta's
    safety check refuses, for the duration of the block (a session setting: set once for all tables, not
    per table and thread)."""
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(check, "true")
    if retention_hours == 0:  # other retentions go through the table property, which the check accepts
        spark.conf.set(check, "false")
    try:
        yield
    finally:
        spark.conf.set(check, previous)


def vacuum(spark: SparkSession, path: str, retention_hours: int) -> None:
    with retention_check_lifted(spark, retention_hours):
        vacuum_table(spark, path, retention_hours)


def maintain_tables(
    spark: SparkSession,
    tables: Sequence[tuple[str, str]],
    retention_hours: int,
    on_done: Callable[[TableMaintenance, float], None],
) -> list[TableMaintenance]:
    """Every table's pass, from a few driver threads (tables are independent; most of a small table's
    time is driver work: log replay, listing, commit). `on_done(result, seconds)` reports each table as
    it finishes; the results come back in the order of `tables`."""

    def one(table: str, path: str) -> TableMaintenance:
        started = time.monotonic()
        result = maintain_table(spark, table, path, retention_hours)
        on_done(result, time.monotonic() - started)
        return result

    with retention_check_lifted(spark, retention_hours):
        return threads.run_concurrently(
            [functools.partial(one, table, path) for table, path in tables], "maintain"
        )


def all_tables(spark: SparkSession, config: Config) -> list[tuple[str, str]]:
    """(layer/table, path) for every Delta table in the lake, the bookkeeping in _ops included."""
    out = []
    for layer in LAYERS:
        for path in delta_io.list_tables(spark, f"{config.paths.lake}/{layer}"):
            out.append((f"{layer}/{path.rstrip('/').rsplit('/', 1)[-1]}", path))
    # Bookkeeping names may start with "_".
    for path in delta_io.list_tables(spark, f"{config.paths.lake}/{OPS_AREA}", hidden=True):
        out.append((f"{OPS_AREA}/{path.rstrip('/').rsplit('/', 1)[-1]}", path))
    return out
