"""The Spark settings of a run, shared by the session factory and spark-submit.sh."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from lakepulse.config import Config

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# The `delta` section's conflict retry policy, as session settings (`conflict_conf`).
RETRIES_KEY = "spark.lakepulse.delta.conflictRetries"
BACKOFF_KEY = "spark.lakepulse.delta.conflictBackoffSeconds"
BACKOFF_MAX_KEY = "spark.lakepulse.delta.conflictBackoffMaxSeconds"

BASE_CONF = {
    # Timestamps are stored and compared in UTC whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    # Bring-your-own-data files come in any charset Java knows (windows-1252 exports, byod.encoding);
    # Spark 4's CSV reader otherwise accepts only seven.
    "spark.sql.legacy.javaCharsets": "true",
}


def _snapshot_partitions(config: Config) -> int:
    """One task per core in local mode (a local lake's log is small), else at most Delta's default."""
    local = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", config.spark.master.strip())
    if not local:
        return min(50, config.spark.shuffle_partitions)
    cores = local.group(1)  # local = one core, local[*] = all of them
    if cores is None:
        return 1
    return (os.cpu_count() or 1) if cores == "*" else int(cores)


def spark_conf_for(config: Config, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every Spark setting a run gets: Delta, base, the environment's, then the caller's."""
    conf = {**DELTA_CONF, **BASE_CONF}
    conf["spark.sql.shuffle.partitions"] = str(config.spark.shuffle_partitions)
    # Delta rebuilds a table's state (its file list, its txnAppId versions) in this many tasks, before
    # the first read or idempotent write of each table version. Delta's default of 50 is meant for
    # clusters: in local mode 50 tiny tasks per table were most of ingest's and refine's time.
    conf["spark.databricks.delta.snapshotPartitions"] = str(_snapshot_partitions(config))
    # Keep Spark's own scratch folders under the run's home, never in the working directory.
    conf["spark.sql.warehouse.dir"] = f"{config.paths.home}/warehouse"
    # The small-file guard: Delta's auto compaction, checked after each commit, compacts the table's small
    # files once this process has added at least `small_file_threshold` small files to one partition.
    # Delta's default (modified partitions only) ignores that threshold for a partition not compacted yet
    # by the same process: every short-lived job then rebuilt the table state after each write and
    # rewrote the partitions it touched. Decided from in-memory counts: a skipped check costs nothing.
    conf["spark.databricks.delta.autoCompact.enabled"] = "true"
    conf["spark.databricks.delta.autoCompact.minNumFiles"] = str(config.maintenance.small_file_threshold)
    conf["spark.databricks.delta.autoCompact.modifiedPartitionsOnly.enabled"] = "false"
    conf["spark.databricks.delta.autoCompact.maxFileSize"] = str(
        config.maintenance.target_file_mb * 1024 * 1024
    )
    conf.update(catalog_conf(config))
    conf.update(conflict_conf(config))
    conf.update(config.spark.conf)
    conf.update(extra or {})
    return conf


def conflict_conf(config: Config) -> dict[str, str]:
    """The `delta` section's retry policy as session settings, where lakepulse.runtime.conflicts reads it
    (the session is what every Delta write is given). Runtime settings: a job joining an active session
    applies its own (`session.build_session`)."""
    return {
        RETRIES_KEY: str(config.delta.conflict_retries),
        BACKOFF_KEY: str(config.delta.conflict_backoff_seconds),
        BACKOFF_MAX_KEY: str(config.delta.conflict_backoff_max_seconds),
    }


def catalog_conf(config: Config) -> dict[str, str]:
    """Spark's Hive catalog over the configured metastore when `catalog.enabled` (static settings: they
    must be there when the session starts), else nothing: Spark's in-memory catalog."""
    if not config.catalog.enabled:
        return {}
    metastore = config.catalog.metastore
    conf = {"spark.sql.catalogImplementation": "hive"}
    if metastore.startswith("thrift://"):
        conf["spark.hadoop.hive.metastore.uris"] = metastore
    else:
        url = f"jdbc:derby:;databaseName={metastore.removeprefix('file:')};create=true"
        conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = url
    return conf
