"""Delta Lake reads and writes, with the SparkSession passed in explicitly.

Writes that must not duplicate on a rerun carry Delta's idempotent-write options (`txnAppId`,
`txnVersion`): Delta skips a write whose (app id, version) it has already committed, so a retried
or restarted batch is applied exactly once.

Every write here commits through `lakepulse.runtime.conflicts.retrying`: one that loses an
optimistic-concurrency conflict to another run's commit runs again, a bounded number of times, when
running again is safe (MERGE, overwrite, metadata changes, appends with an idempotent-write id;
`lakepulse.runtime.conflicts` says why), and otherwise fails with one line.

Everything here is DataFrame reads and writes or Delta's SQL (`DESCRIBE HISTORY`, `MERGE INTO`, ...)
on path tables, never delta-spark's Python `DeltaTable` API nor the driver JVM: over Spark Connect
that API needs Delta's Connect server plugin, which Delta does not publish for Spark 4.2, while SQL and
DataFrames run the same on a classic session and over Connect.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urlparse

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.errors import LakepulseError
from lakepulse.runtime import conflicts


def sql_table(path: str) -> str:
    """The path table's name in Delta's SQL: delta.`path` (a backtick in the path doubled)."""
    return "delta.`" + path.replace("`", "``") + "`"


def history(spark: SparkSession, path: str, commits: int) -> DataFrame:
    """The table's last `commits` commit infos, newest first (Delta's DESCRIBE HISTORY columns)."""
    return spark.sql(f"DESCRIBE HISTORY {sql_table(path)} LIMIT {int(commits)}")


def is_delta(spark: SparkSession, path: str) -> bool:
    return table_version(spark, path) is not None


def read_delta(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    if not is_delta(spark, path):
        raise LakepulseError(f"no Delta table at {path}")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def table_version(spark: SparkSession, path: str) -> int | None:
    """The latest committed version, or None when there is no table yet (a missing folder included)."""
    try:
        latest = history(spark, path, 1).select("version").first()
    except AnalysisException:  # DELTA_MISSING_DELTA_TABLE: no commit under this path
        return None
    return None if latest is None else int(latest[0])


def _has_string(data_type: T.DataType) -> bool:
    if isinstance(data_type, T.StructType):
        return any(_has_string(f.dataType) for f in data_type.fields)
    if isinstance(data_type, T.ArrayType):
        return _has_string(data_type.elementType)
    if isinstance(data_type, T.MapType):
        return _has_string(data_type.keyType) or _has_string(data_type.valueType)
    return isinstance(data_type, T.StringType)


def portable(df: DataFrame) -> DataFrame:
    """`df` with its string columns of Spark's default string type, as every Delta reader knows it.

    Over Spark Connect (Spark 4.2) a cast to a DataType object (`.cast(field.dataType)`, as the schema
    conformers do) carries its collation to the server, which keeps it explicit: Delta then records the
    column as `string collate UTF8_BINARY`, a type other readers (delta-rs, DuckDB's delta) refuse. Casting
    again by the type's SQL name gives the default type. A classic session has no such casts: untouched.
    """
    if not type(df).__module__.startswith("pyspark.sql.connect"):
        return df
    strings = {f.name: f.dataType.simpleString() for f in df.schema.fields if _has_string(f.dataType)}
    if not strings:
        return df
    return df.withColumns({name: F.col(f"`{name}`").cast(ddl) for name, ddl in strings.items()})


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
    not passed to an existing one. Retried after a conflict only with `txn` (lakepulse.runtime.conflicts).
    """

    def attempt() -> None:
        writer = portable(df).write.format("delta").mode("append")
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

    conflicts.retrying(df.sparkSession, path, "append", attempt, safe=txn is not None)


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

    def attempt() -> None:
        shown = spark.sql(f"SHOW TBLPROPERTIES {sql_table(path)}").collect()  # a few rows: metadata only
        current = {r["key"]: r["value"] for r in shown}
        missing = {k: v for k, v in properties.items() if current.get(k) != v}
        if missing:
            settings = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(missing.items()))
            spark.sql(f"ALTER TABLE {sql_table(path)} SET TBLPROPERTIES ({settings})")

    conflicts.retrying(spark, path, "ALTER TABLE SET TBLPROPERTIES", attempt)


def commit_sql(spark: SparkSession, path: str, operation: str, sql: str) -> list:
    """Runs one SQL statement that commits to the table at `path` (OPTIMIZE, VACUUM, ALTER TABLE, DELETE,
    REORG, ...; `operation` names it in logs and errors) and returns its result rows (a few: metrics).

    Retried after a Delta conflict: each of these computes its change from the table's state when it
    runs, so a second run after a lost commit does what the first would have done.
    """
    # Bounded collect: a command's result is a few rows of metrics, never table data.
    return conflicts.retrying(spark, path, operation, lambda: spark.sql(sql).collect())


def recent_user_metadata(spark: SparkSession, path: str, commits: int) -> set[str]:
    """The user metadata of the table's last `commits` commits, read from the log's commit infos."""
    return set(_recent_metadata(spark, path, commits))


def _recent_metadata(spark: SparkSession, path: str, commits: int) -> list[str]:
    """The non-null user metadata of the last `commits` commits, newest first."""
    # Bounded collect: at most `commits` rows of commit metadata, never table data.
    commits_info = history(spark, path, commits).select("userMetadata").collect()
    return [r["userMetadata"] for r in commits_info if r["userMetadata"] is not None]


def overwrite(
    df: DataFrame,
    path: str,
    partition_by: Sequence[str] = (),
    replace_where: str | None = None,
    user_metadata: str | None = None,
    properties: Mapping[str, str] | None = None,
) -> None:
    """Replaces the table, or with `replace_where` only the rows matching that predicate; `properties`
    apply when this write creates the table (as for `append`). Retried after a conflict: it replaces
    what it replaces whatever committed meanwhile."""

    def attempt() -> None:
        writer = portable(df).write.format("delta").mode("overwrite")
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

    conflicts.retrying(df.sparkSession, path, "overwrite", attempt)


def upsert(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    update_condition: str | None = None,
) -> None:
    """MERGE `df` into the table on `keys` (creating it on first use); `df` must be unique on `keys`.

    Retried after a conflict as a whole: a first use that loses the table's creation to another run
    merges into the table that run created."""
    if not keys:
        raise ValueError("upsert needs at least one key column")
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    when = f" AND ({update_condition})" if update_condition else ""
    clauses = f"WHEN MATCHED{when} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"

    def attempt() -> None:
        if not is_delta(spark, path):
            writer = portable(df).write.format("delta").mode("append")
            (writer.partitionBy(*partition_by) if partition_by else writer).save(path)
        else:
            _merge_once(spark, df, path, condition, clauses)

    conflicts.retrying(spark, path, "MERGE", attempt)


def merge(spark: SparkSession, source: DataFrame, path: str, condition: str, clauses: str) -> None:
    """MERGE INTO the table (alias `t`) USING `source` (alias `s`) ON `condition` with SQL `clauses`.

    The source is a temporary view of a unique name, dropped afterwards: session-scoped, so concurrent
    merges from driver threads do not see each other's views. Retried after a conflict: MERGE matches
    the source against the table's state when it runs (the source must be deterministic).
    """
    conflicts.retrying(spark, path, "MERGE", lambda: _merge_once(spark, source, path, condition, clauses))


def _merge_once(spark: SparkSession, source: DataFrame, path: str, condition: str, clauses: str) -> None:
    view = f"lakepulse_merge_{uuid.uuid4().hex}"
    portable(source).createOrReplaceTempView(view)
    try:
        # collect() runs the command; its result is one row of merge metrics.
        spark.sql(f"MERGE INTO {sql_table(path)} AS t USING {view} AS s ON {condition} {clauses}").collect()
    finally:
        spark.catalog.dropTempView(view)


def create_if_missing(
    spark: SparkSession,
    path: str,
    schema: T.StructType,
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
) -> None:
    """CREATE TABLE IF NOT EXISTS at `path` with `schema`, its top-level NOT NULL kept."""
    columns = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in schema.fields
    )
    sql = f"CREATE TABLE IF NOT EXISTS {sql_table(path)} ({columns}) USING DELTA"
    if partition_by:
        sql += " PARTITIONED BY (" + ", ".join(f"`{c}`" for c in partition_by) + ")"
    if properties:
        sql += " TBLPROPERTIES (" + ", ".join(f"'{k}' = '{v}'" for k, v in sorted(properties.items())) + ")"
    commit_sql(spark, path, "CREATE TABLE IF NOT EXISTS", sql)


def _listed(spark: SparkSession, pattern: str, root: str) -> list[str]:
    """`root`/NAME for each NAME directly under `root` with a file matching `pattern` (a glob below
    `root`, searched recursively where it names a folder): Spark's file listing, no file content read.

    The names are computed in Spark (one row per child, never per file): the listed paths are
    qualified (`file:/...`, `s3a://bucket/...`), so the child is the segment after root's own path.
    """
    root = root.rstrip("/")
    marker = (urlparse(root).path or root).rstrip("/") + "/"
    after = F.substr(F.col("path"), F.locate(marker, F.col("path")) + F.lit(len(marker)))
    try:  # a classic session resolves the glob in load(), Spark Connect only in collect()
        files = (
            spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(f"{root}/{pattern}")
        )
        # Bounded collect: the distinct first-level folder names, not the files.
        rows = files.select(F.substring_index(after, "/", 1).alias("name")).distinct().collect()
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc):  # nothing matches: an empty or missing folder
            return []
        raise
    return sorted(f"{root}/{r['name']}" for r in rows if r["name"])


def list_children(spark: SparkSession, root: str) -> list[str]:
    """Files and folders directly under `root` that hold a data file (Spark's file listing, which
    skips names starting with `_` or `.` below the folders it is given); empty when `root` does not exist.

    A folder holding no file (or only hidden ones) is not listed; a Delta table is (`list_tables`).
    """
    return _listed(spark, "*", root)


def list_tables(spark: SparkSession, root: str, hidden: bool = False) -> list[str]:
    """The Delta tables directly under `root` (a layer folder), by name; metadata only.

    A table is a folder whose `_delta_log` has a commit; names starting with `_` count with `hidden`
    (the bookkeeping area's tables), else they are not tables (`_checkpoints`).
    """
    return [
        p
        for p in _listed(spark, "*/_delta_log/*", root)
        if (hidden or not p.rsplit("/", 1)[-1].startswith("_")) and is_delta(spark, p)
    ]
