"""The one factory for SparkSessions, used by every job and by the tests.

Under spark-submit the launcher has already fixed the master, the jars and every setting given on its
command line (the environment's and then the user's own, which win); the factory only adds what is
missing. Run from plain Python (tests, notebooks), it sets the master from the configuration and
puts the cached Delta jars on the classpath itself. With a Spark Connect server configured
(`spark.remote`, a job's `--remote`, or SPARK_REMOTE) it builds a Connect session instead: the server
owns the JVM, its jars and static settings, and the factory sets only what a session may change.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lakepulse.config import PROJECT_ROOT, Config
from lakepulse.errors import ConfigError
from lakepulse.runtime.jars import ensure_delta_jars
from lakepulse.runtime.spark_conf import DELTA_CONF, conflict_conf, spark_conf_for

EXTENSIONS_KEY = "spark.sql.extensions"
CATALOG_KEY = "spark.sql.catalog.spark_catalog"
REMOTE_ENV = "SPARK_REMOTE"

LOG4J_CONF = PROJECT_ROOT / "conf" / "log4j2.properties"

log = logging.getLogger("lakepulse.runtime")


def build_session(
    config: Config, app_name: str | None = None, extra: Mapping[str, str] | None = None
) -> SparkSession:
    """Returns the active session if there is one, else builds a Delta-enabled one from `config`."""
    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in conflict_conf(config).items():  # this run's policy, not the first run's
            active.conf.set(key, value)
        return active
    remote = remote_url(config)
    if remote:
        return connect_session(remote, app_name or config.spark.app_name, spark_conf_for(config, extra))
    builder = SparkSession.builder.appName(app_name or config.spark.app_name)
    if not launched_by_spark_submit():
        builder = (
            builder.master(config.spark.master)
            .config("spark.jars", ",".join(str(p) for p in ensure_delta_jars()))
            .config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile=file:{LOG4J_CONF}")
        )
        # Python workers run the driver's interpreter (the venv and its pinned packages), not whatever
        # `python3` comes first on the PATH. SparkContext reads this from the environment only.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = spark_conf_for(config)
    if launched_by_spark_submit():
        from pyspark import SparkConf, SparkContext

        # Classic spark-submit only (a Connect session never gets here): the submission's settings are
        # system properties of spark-submit's JVM; a SparkConf reads them only once the gateway to that
        # JVM is open (before, it is an empty Python-side map).
        SparkContext._ensure_initialized()
        conf = missing_from_submission(conf, dict(SparkConf().getAll()))
    for key, value in {**conf, **(extra or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def remote_url(config: Config) -> str:
    """The Spark Connect server to use: the configuration's `spark.remote`, else SPARK_REMOTE, else ''."""
    return config.spark.remote or os.environ.get(REMOTE_ENV, "")


def connect_session(remote: str, app_name: str, conf: Mapping[str, str]) -> SparkSession:
    """A Spark Connect session on `remote`, with the settings of `conf` a session may change.

    The server was started with its own JVM settings and jars (memory, Delta's jars, its extensions and
    catalog); those cannot change per session and are skipped, except that a server without Delta's
    extension and catalog is refused with one line, since no lakepulse table could be read or written.
    """
    if not remote.startswith("sc://"):
        raise ConfigError(f"spark.remote is {remote!r}: a Spark Connect URL looks like sc://host:15002")
    # Registers Delta's exception classes for Connect's errors, so that a conflict raised on the server
    # is a delta.exceptions class here too (lakepulse.runtime.conflicts); only a Connect client imports it.
    import delta.connect.exceptions  # noqa: F401, PLC0415

    try:
        spark = SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
        server = {key: spark.conf.get(key, "") for key in DELTA_CONF}
    except Exception as exc:  # noqa: BLE001 - gRPC's errors are many; all mean the same here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot reach the Spark Connect server at {remote}: {first}") from exc
    missing = [f"{k}={v}" for k, v in DELTA_CONF.items() if v not in server[k].split(",")]
    if missing:
        raise ConfigError(
            f"the Spark Connect server at {remote} lacks Delta Lake: start it with --conf {', '.join(missing)}"
        )
    skipped = []
    for key, value in conf.items():
        if key in DELTA_CONF:
            continue
        try:
            spark.conf.set(key, value)
        except AnalysisException:  # CANNOT_MODIFY_CONFIG: a static or JVM-wide setting
            skipped.append(key)
    if skipped:
        log.info("Spark Connect: the server's own values stand for %s", ", ".join(sorted(skipped)))
    return spark


def missing_from_submission(conf: Mapping[str, str], submitted: Mapping[str, str]) -> dict[str, str]:
    """The settings of `conf` a submission has not set itself: spark-submit's flags and `--conf` win.

    spark-submit.sh passes the environment's settings first and the user's own options after them, so
    `submitted` already holds whichever won there; re-applying the YAML values through the builder would
    silently undo a user's `--conf`. Delta's SQL extension is added to a user's own extensions; a catalog
    other than Delta's is refused, since no lakepulse table could then be read or written.
    """
    out = {k: v for k, v in conf.items() if k not in submitted}
    extensions = [e.strip() for e in submitted.get(EXTENSIONS_KEY, "").split(",") if e.strip()]
    if extensions and DELTA_CONF[EXTENSIONS_KEY] not in extensions:
        out[EXTENSIONS_KEY] = ",".join([*extensions, DELTA_CONF[EXTENSIONS_KEY]])
    catalog = submitted.get(CATALOG_KEY)
    if catalog is not None and catalog != DELTA_CONF[CATALOG_KEY]:
        raise ConfigError(
            f"{CATALOG_KEY} is {catalog} from the submission, but lakepulse's Delta tables need "
            f"{DELTA_CONF[CATALOG_KEY]}"
        )
    return out


def is_connect(spark: SparkSession) -> bool:
    """A Spark Connect session (pyspark's connect module is imported only where grpc is installed)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def default_parallelism(spark: SparkSession) -> int:
    """How many tasks the cluster runs at once: SparkContext.defaultParallelism on a classic session.

    The one use of `sparkContext` in the library (tests/test_architecture.py): Spark Connect has no
    SparkContext and no equivalent call, so there the session's shuffle partitions stand in.
    """
    if is_connect(spark):
        return int(spark.conf.get("spark.sql.shuffle.partitions"))
    return spark.sparkContext.defaultParallelism


def launched_by_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands Python its gateway; master and jars are set there."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
