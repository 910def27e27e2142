"""The Spark settings of a run, shared by the session factory and spark-submit.sh."""

from __future__ import annotations

from collections.abc import Mapping

from lakepulse.config import Config

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

BASE_CONF = {
    # Timestamps are stored and compared in UTC whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
}


def spark_conf_for(config: Config, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every Spark setting a run gets: Delta, base, the environment's, then the caller's."""
    conf = {**DELTA_CONF, **BASE_CONF}
    conf["spark.sql.shuffle.partitions"] = str(config.spark.shuffle_partitions)
    # Keep Spark's own scratch folders under the run's home, never in the working directory.
    conf["spark.sql.warehouse.dir"] = f"{config.paths.home}/warehouse"
    # The small-file guard: Delta's auto compaction runs after each commit, compacting any partition
    # that holds at least `small_file_threshold` small files.
    conf["spark.databricks.delta.autoCompact.enabled"] = "true"
    conf["spark.databricks.delta.autoCompact.minNumFiles"] = str(config.maintenance.small_file_threshold)
    conf["spark.databricks.delta.autoCompact.maxFileSize"] = str(config.maintenance.target_file_mb * 1024 * 1024)
    conf.update(config.spark.conf)
    conf.update(extra or {})
    return conf
