"""Table upkeep: compaction with Z-ordering on the columns readers filter by, VACUUM, and the report.

The small-file guard itself runs after every write, as Delta's auto compaction (a post-commit hook,
configured in `lakepulse.spark_conf` from `maintenance.small_file_threshold`); `maintain` is the
scheduled full pass on top of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from lakepulse import delta_io
from lakepulse.config import LAYERS, Config

log = logging.getLogger("lakepulse.maintenance")

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


def storage_footprint(spark: SparkSession, path: str) -> tuple[int, int]:
    """Data files and bytes physically under a table folder (the log excluded), live or not."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(path)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    files = size = 0
    iterator = fs.listFiles(root, True)
    while iterator.hasNext():
        status = iterator.next()
        if "/_delta_log/" not in status.getPath().toString():
            files += 1
            size += status.getLen()
    return files, size


def zorder_columns(spark: SparkSession, table: str, path: str) -> tuple[str, ...]:
    """The configured Z-order columns that exist in the table and are not partition columns."""
    wanted = ZORDER_BY.get(table, ())
    if not wanted:
        return ()
    detail = DeltaTable.forPath(spark, path).detail().select("partitionColumns").first()
    columns = set(spark.read.format("delta").load(path).columns)
    return tuple(c for c in wanted if c in columns and c not in set(detail["partitionColumns"]))


def maintain_table(spark: SparkSession, table: str, path: str, retention_hours: int) -> TableMaintenance:
    files_before, bytes_before = storage_footprint(spark, path)
    delta = DeltaTable.forPath(spark, path)
    zorder = zorder_columns(spark, table, path)
    if zorder:
        delta.optimize().executeZOrderBy(*zorder)
    else:
        delta.optimize().executeCompaction()
    vacuum(spark, path, retention_hours)
    files_after, bytes_after = storage_footprint(spark, path)
    return TableMaintenance(table, files_before, bytes_before, files_after, bytes_after, zorder)


def vacuum(spark: SparkSession, path: str, retention_hours: int) -> None:
    """VACUUM; a retention below Delta's 7-day safety check is allowed only when configured so."""
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(check, "true")
    if retention_hours < 168:
        spark.conf.set(check, "false")
    try:
        DeltaTable.forPath(spark, path).vacuum(float(retention_hours))
    finally:
        spark.conf.set(check, previous)


def all_tables(spark: SparkSession, config: Config) -> list[tuple[str, str]]:
    """(layer/table, path) for every Delta table in the lake."""
    out = []
    for layer in LAYERS:
        for path in delta_io.list_tables(spark, f"{config.paths.lake}/{layer}"):
            out.append((f"{layer}/{path.rstrip('/').rsplit('/', 1)[-1]}", path))
    return out
