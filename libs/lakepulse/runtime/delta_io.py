"""Delta Lake reads and writes, with the SparkSession passed in explicitly.

Writes that must not duplicate on a rerun carry Delta's idempotent-write options (`txnAppId`,
`txnVersion`): Delta skips a write whose (app id, version) it has already committed, so a retried
or restarted batch is applied exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakepulse.errors import LakepulseError


def is_delta(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def read_delta(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    if not is_delta(spark, path):
        raise LakepulseError(f"no Delta table at {path}")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def table_version(spark: SparkSession, path: str) -> int | None:
    """The latest committed version, or None when there is no table yet."""
    if not is_delta(spark, path):
        return None
    return DeltaTable.forPath(spark, path).history(1).select("version").first()[0]


def append(
    df: DataFrame,
    path: str,
    partition_by: Sequence[str] = (),
    txn: tuple[str, int] | None = None,
    merge_schema: bool = False,
    user_metadata: str | None = None,
    properties: Mapping[str, str] | None = None,
) -> None:
    """Appends `df`; with `txn=(app_id, version)` the append happens at most once.

    `user_metadata` is recorded in the commit's info (see `recent_user_metadata`); `properties` (delta.*
    table properties, `delta.constraints.*` included) apply when this append creates the table, and are
    not passed to an existing one.
    """
    writer = df.write.format("delta").mode("append")
    if properties and not is_delta(df.sparkSession, path):
        for key, value in properties.items():
            writer = writer.option(key, value)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", txn[1])
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(path)


def latest_user_metadata(spark: SparkSession, path: str, commits: int, key: str) -> dict | None:
    """The newest JSON user metadata holding `key` among the table's last `commits` commits."""
    for text in _recent_metadata(spark, path, commits):
        if text.startswith("{"):
            value = json.loads(text)
            if isinstance(value, dict) and key in value:
                return value
    return None


def earliest_change(spark: SparkSession, path: str, column: str, first_version: int, last_version: int):
    """min(`column`) over the rows the table's Change Data Feed records for versions first..last.

    Reads only what those commits added or removed (bounded by the changes, never the history); raises
    pyspark's AnalysisException when the feed was not enabled for all of those versions.
    """
    from pyspark.sql import functions as F

    changes = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", first_version)
        .option("endingVersion", last_version)
        .load(path)
    )
    return changes.agg(F.min(column)).first()[0]


def ensure_properties(spark: SparkSession, path: str, properties: Mapping[str, str]) -> None:
    """Sets table properties an existing table lacks (one metadata commit, only when needed)."""
    current = DeltaTable.forPath(spark, path).detail().select("properties").first()["properties"] or {}
    missing = {k: v for k, v in properties.items() if current.get(k) != v}
    if missing:
        settings = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(missing.items()))
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({settings})")


def recent_user_metadata(spark: SparkSession, path: str, commits: int) -> set[str]:
    """The user metadata of the table's last `commits` commits, read from the log's commit infos."""
    return set(_recent_metadata(spark, path, commits))


def _recent_metadata(spark: SparkSession, path: str, commits: int) -> list[str]:
    """The non-null user metadata of the last `commits` commits, newest first."""
    # Bounded collect: at most `commits` rows of commit metadata, never table data.
    history = DeltaTable.forPath(spark, path).history(commits).select("userMetadata").collect()
    return [r["userMetadata"] for r in history if r["userMetadata"] is not None]


def overwrite(
    df: DataFrame,
    path: str,
    partition_by: Sequence[str] = (),
    replace_where: str | None = None,
    user_metadata: str | None = None,
    properties: Mapping[str, str] | None = None,
) -> None:
    """Replaces the table, or with `replace_where` only the rows matching that predicate; `properties`
    apply when this write creates the table (as for `append`)."""
    writer = df.write.format("delta").mode("overwrite")
    if properties and not is_delta(df.sparkSession, path):
        for key, value in properties.items():
            writer = writer.option(key, value)
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if replace_where is not None:
        writer = writer.option("replaceWhere", replace_where)
    else:
        writer = writer.option("overwriteSchema", "true")
    writer.save(path)


def upsert(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    update_condition: str | None = None,
) -> None:
    """MERGE `df` into the table on `keys` (creating it on first use); `df` must be unique on `keys`."""
    if not keys:
        raise ValueError("upsert needs at least one key column")
    if not is_delta(spark, path):
        append(df, path, partition_by)
        return
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(df.alias("s"), condition)
        .whenMatchedUpdateAll(condition=update_condition)
        .whenNotMatchedInsertAll()
        .execute()
    )


def list_children(spark: SparkSession, root: str) -> list[str]:
    """Paths directly under `root` (any Hadoop filesystem); empty when `root` does not exist."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(root)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    return sorted(str(status.getPath().toString()) for status in fs.listStatus(path))


def list_tables(spark: SparkSession, root: str) -> list[str]:
    """The Delta tables directly under `root` (a layer folder), by name; metadata only."""
    return [
        p
        for p in list_children(spark, root)
        if not p.rsplit("/", 1)[-1].startswith("_") and is_delta(spark, p)
    ]
