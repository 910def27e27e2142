"""The lake's tables registered by name in the session's catalog (`catalog` section of the config).

Path-based Delta tables are what lakepulse reads and writes; the catalog only adds names over them
(`lakepulse_gold.kpi_daily` -> `<lake>/gold/kpi_daily`), as external tables: dropping a name never
touches the data, and a table's schema, comments and constraints are read from its Delta log, so the
names never go stale when a table changes. Registration is idempotent: a name already pointing at the
table's path costs one catalog lookup.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from lakepulse.config import LAYERS, Config
from lakepulse.runtime import delta_io

log = logging.getLogger("lakepulse.runtime.catalog")


def database(config: Config, layer: str) -> str:
    return f"{config.catalog.database_prefix}{layer}"


def _location(spark: SparkSession, name: str) -> str | None:
    """The registered table's location, or None when the name is free."""
    if not spark.catalog.tableExists(name):
        return None
    # Bounded collect: one metadata row.
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").where("col_name = 'Location'").collect()
    return rows[0]["data_type"] if rows else ""


def _same_path(a: str, b: str) -> bool:
    return a.removeprefix("file:").rstrip("/") == b.removeprefix("file:").rstrip("/")


def register_lake(spark: SparkSession, config: Config) -> list[str]:
    """Registers every bronze, silver and gold table not registered yet (or moved); returns their names.

    Does nothing when `catalog.enabled` is off: the session then has Spark's in-memory catalog, which
    forgets every name when the process ends.
    """
    if not config.catalog.enabled:
        return []
    registered = []
    for layer in LAYERS:
        paths = delta_io.list_tables(spark, f"{config.paths.lake}/{layer}")
        if not paths:
            continue
        db = database(config, layer)
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`")
        for path in paths:
            table = path.rstrip("/").rsplit("/", 1)[-1]
            name = f"`{db}`.`{table}`"
            where = _location(spark, name)
            if where is not None and _same_path(where, path):
                continue
            if where is not None:  # the lake moved: the name follows it (the data is never dropped)
                spark.sql(f"DROP TABLE {name}")
            location = path.replace("'", "\\'")
            spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION '{location}'")
            registered.append(f"{db}.{table}")
    if registered:
        log.info("catalog: registered %s", ", ".join(registered))
    return registered
