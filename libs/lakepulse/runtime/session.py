"""The one factory for SparkSessions, used by every job and by the tests.

Under spark-submit the launcher has already fixed the master, the jars and every setting given on its
command line (the environment's and then the user's own, which win); the factory only adds what is
missing. Run from plain Python (tests, notebooks), it sets the master from the configuration and
puts the cached Delta jars on the classpath itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

from lakepulse.config import PROJECT_ROOT, Config
from lakepulse.errors import ConfigError
from lakepulse.runtime.jars import ensure_delta_jars
from lakepulse.runtime.spark_conf import DELTA_CONF, spark_conf_for

EXTENSIONS_KEY = "spark.sql.extensions"
CATALOG_KEY = "spark.sql.catalog.spark_catalog"

LOG4J_CONF = PROJECT_ROOT / "conf" / "log4j2.properties"


def build_session(
    config: Config, app_name: str | None = None, extra: Mapping[str, str] | None = None
) -> SparkSession:
    """Returns the active session if there is one, else builds a Delta-enabled one from `config`."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
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

        # The submission's settings are system properties of spark-submit's JVM; a SparkConf reads them
        # only once the gateway to that JVM is open (before, it is an empty Python-side map).
        SparkContext._ensure_initialized()
        conf = missing_from_submission(conf, dict(SparkConf().getAll()))
    for key, value in {**conf, **(extra or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


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


def launched_by_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands Python its gateway; master and jars are set there."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
