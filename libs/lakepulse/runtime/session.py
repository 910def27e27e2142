"""The one factory for SparkSessions, used by every job and by the tests.

Under spark-submit the launcher has already fixed the master and the jars; the factory only adds what
is missing. Run from plain Python (tests, notebooks), it sets the master from the configuration and
puts the cached Delta jars on the classpath itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

from lakepulse.config import PROJECT_ROOT, Config
from lakepulse.runtime.jars import ensure_delta_jars
from lakepulse.runtime.spark_conf import spark_conf_for

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
    for key, value in spark_conf_for(config, extra).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def launched_by_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands Python its gateway; master and jars are set there."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
