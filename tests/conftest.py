"""All Spark test configuration in one place: one Delta-enabled session for the whole run.

Each test writes under its own temporary folder; the session is built by the same factory the jobs
use, from conf/local.yaml with test-sized overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakepulse.config import load_config

TEST_SPARK_OVERRIDES = [
    "spark.master=local[2]",
    "spark.shuffle_partitions=2",
    "spark.conf.spark.ui.enabled=false",
    "spark.conf.spark.driver.memory=2g",
    "spark.conf.spark.sql.adaptive.coalescePartitions.enabled=false",
    "spark.conf.spark.databricks.delta.snapshotPartitions=2",
    "spark.conf.spark.sql.sources.parallelPartitionDiscovery.parallelism=2",
]


def make_config(home: Path, *extra: str, env: str = "local"):
    """A config whose every path lives under `home` (a test's own folder)."""
    return load_config(
        env,
        overrides=[*TEST_SPARK_OVERRIDES, f"paths.home={home}", *extra],
        environ={k: v for k, v in os.environ.items() if k != "LAKEPULSE_HOME"},
    )


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from lakepulse.session import build_session

    config = make_config(tmp_path_factory.mktemp("session-home"))
    session = build_session(config, app_name="lakepulse-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def config(home):
    return make_config(home)
