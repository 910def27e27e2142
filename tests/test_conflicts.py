"""Delta conflicts: recognised on both clients, retried a bounded number of times, then one line.

The retry tests lose real commits: a MERGE whose source waits (in a Python UDF, after MERGE has read
the table) until another thread has committed a DELETE to the same table, so Delta refuses the MERGE's
commit with a genuine ConcurrentDeleteReadException, as many times as the test asks.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import delta.exceptions.base as delta_base
import pytest
from deltalake import DeltaTable as RustDeltaTable
from pyspark.errors import AnalysisException
from pyspark.errors.exceptions.connect import SparkConnectGrpcException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.errors import DeltaConflictError
from lakepulse.runtime import conflicts, delta_io
from lakepulse.runtime.spark_conf import BACKOFF_KEY, BACKOFF_MAX_KEY, RETRIES_KEY
from tests.conftest import make_config


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        # delta-spark's own classes (what `delta.exceptions` converts a classic session's errors to)
        (delta_base.ConcurrentAppendException(message="Transaction conflict"), "DELTA_CONCURRENT_APPEND"),
        (delta_base.MetadataChangedException(message="metadata changed"), "DELTA_METADATA_CHANGED"),
        (delta_base.ProtocolChangedException(message="protocol changed"), "DELTA_PROTOCOL_CHANGED"),
        # Spark Connect without Delta's class registered: the condition the server sends
        (
            SparkConnectGrpcException(
                message="conflict", errorClass="DELTA_CONCURRENT_DELETE_READ.WITHOUT_HINT"
            ),
            "DELTA_CONCURRENT_DELETE_READ",
        ),
        # only the message: the condition leading it
        (
            AnalysisException(message="[DELTA_CONCURRENT_DELETE_DELETE.WITH_PARTITION_HINT] conflict"),
            "DELTA_CONCURRENT_DELETE_DELETE",
        ),
        # the commit succeeded, its post-commit hook failed: never a conflict to retry
        (
            AnalysisException(
                message="[DELTA_POST_COMMIT_HOOK_FAILED] Committing to the Delta table version 3 succeeded but "
                "error while executing post-commit hook: [DELTA_CONCURRENT_APPEND.WITHOUT_HINT] conflict"
            ),
            None,
        ),
        (AnalysisException(message="[DELTA_MISSING_DELTA_TABLE] no table"), None),
        (ValueError("boom"), None),
    ],
)
def test_conflicts_are_recognised_by_class_condition_or_message(exc, expected):
    assert conflicts.conflict_of(exc) == expected


class FakeConf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class FakeSession:
    """Only what `retrying` reads: the policy settings."""

    def __init__(self, retries: int):
        self.conf = FakeConf({RETRIES_KEY: str(retries), BACKOFF_KEY: "0.01", BACKOFF_MAX_KEY: "0.02"})


def failing(times: int, exc_type=delta_base.ConcurrentAppendException):
    calls = []

    def action():
        calls.append(1)
        if len(calls) <= times:
            raise exc_type(message="[DELTA_CONCURRENT_APPEND.WITHOUT_HINT] Transaction conflict detected")
        return "committed"

    return action, calls


def test_retried_until_it_commits_with_one_warning_per_retry(caplog):
    action, calls = failing(3)
    with caplog.at_level(logging.WARNING, logger="lakepulse.runtime.conflicts"):
        assert conflicts.retrying(FakeSession(5), "/lake/silver/events", "MERGE", action) == "committed"
    assert len(calls) == 4
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3
    assert all("MERGE on /lake/silver/events: DELTA_CONCURRENT_APPEND, retry" in w for w in warnings)


def test_the_last_conflict_is_one_line_naming_table_and_operation():
    action, calls = failing(10)
    with pytest.raises(DeltaConflictError) as raised:
        conflicts.retrying(FakeSession(2), "/lake/gold/kpi_daily", "OPTIMIZE", action)
    assert len(calls) == 3  # the first attempt and two retries
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("OPTIMIZE on /lake/gold/kpi_daily still conflicts")
    assert "after 3 attempts (DELTA_CONCURRENT_APPEND)" in message


def test_an_unsafe_write_is_not_retried():
    action, calls = failing(1)
    with pytest.raises(DeltaConflictError, match=r"^append on /t lost to a concurrent commit .* not retried"):
        conflicts.retrying(FakeSession(5), "/t", "append", action, safe=False)
    assert len(calls) == 1


def test_other_errors_pass_unchanged():
    def action():
        raise AnalysisException(message="[DELTA_MISSING_DELTA_TABLE] no table")

    with pytest.raises(AnalysisException):
        conflicts.retrying(FakeSession(5), "/t", "MERGE", action)


def test_retries_come_from_the_config_through_the_session_settings(tmp_path):
    from lakepulse.runtime.spark_conf import spark_conf_for

    session = FakeSession(0)
    session.conf = FakeConf({})  # a session without the settings: the configuration's defaults
    assert conflicts.policy_of(session) == conflicts.Policy(5, 0.5, 15.0)
    config = make_config(tmp_path, "delta.conflict_retries=2", "delta.conflict_backoff_seconds=0.25")
    session.conf = FakeConf(spark_conf_for(config))
    assert conflicts.policy_of(session) == conflicts.Policy(2, 0.25, 15.0)


# --- genuine conflicts -----------------------------------------------------------------------------------

LOST = "(DELTA_CONCURRENT_APPEND|DELTA_CONCURRENT_DELETE_READ)"
SCHEMA = T.StructType([T.StructField("id", T.LongType()), T.StructField("v", T.LongType())])


def gated_source(spark, gate: Path, losses: int):
    """A one-row MERGE source whose Python UDF, for each of the first `losses` attempts, signals
    `started-<n>` and waits for `go-<n>` (the other thread's DELETE committed meanwhile)."""
    folder = str(gate)

    @F.udf(T.LongType())
    def wait_for_delete(x):
        import os
        import time as wall

        done = len([n for n in os.listdir(folder) if n.startswith("go-")])
        if done < losses:
            open(os.path.join(folder, f"started-{done + 1}"), "w").close()
            deadline = wall.monotonic() + 120
            while not os.path.exists(os.path.join(folder, f"go-{done + 1}")) and wall.monotonic() < deadline:
                wall.sleep(0.05)
        return x

    return spark.range(100, 101).select(
        wait_for_delete(F.col("id")).alias("id"), F.lit(1).cast("long").alias("v")
    )


def deleter(spark, path: str, gate: Path, losses: int) -> threading.Thread:
    """Commits DELETE id = n while the MERGE's attempt n waits, then lets it go on to its commit."""

    def run():
        for n in range(1, losses + 1):
            deadline = time.monotonic() + 120
            while not (gate / f"started-{n}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            spark.sql(f"DELETE FROM {delta_io.sql_table(path)} WHERE id = {n}")
            (gate / f"go-{n}").touch()

    thread = threading.Thread(target=run, name="conflicting-delete", daemon=True)
    thread.start()
    return thread


@pytest.fixture
def policy(spark):
    """A short backoff for these tests; the session's settings restored afterwards."""
    keys = (RETRIES_KEY, BACKOFF_KEY, BACKOFF_MAX_KEY)
    previous = {k: spark.conf.get(k, None) for k in keys}

    def set_retries(retries: int) -> None:
        spark.conf.set(RETRIES_KEY, str(retries))
        spark.conf.set(BACKOFF_KEY, "0.05")
        spark.conf.set(BACKOFF_MAX_KEY, "0.1")

    # Delta materialises the MERGE source once per attempt, so the gate sees each attempt once.
    materialize = "spark.databricks.delta.merge.materializeSource"
    previous[materialize] = spark.conf.get(materialize, None)
    spark.conf.set(materialize, "all")
    yield set_retries
    for key, value in previous.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def lose_merges(spark, tmp_path: Path, losses: int):
    path = str(tmp_path / "table")
    gate = tmp_path / "gate"
    gate.mkdir()
    delta_io.append(spark.createDataFrame([(i, 0) for i in range(1, 11)], SCHEMA), path)
    thread = deleter(spark, path, gate, losses)
    source = gated_source(spark, gate, losses)
    return (
        path,
        thread,
        lambda: delta_io.merge(spark, source, path, "t.id = s.id", "WHEN NOT MATCHED THEN INSERT *"),
    )


def test_a_merge_losing_real_conflicts_is_retried_until_it_commits(spark, policy, tmp_path, caplog):
    policy(3)
    path, thread, merge = lose_merges(spark, tmp_path, losses=2)
    with caplog.at_level(logging.WARNING, logger="lakepulse.runtime.conflicts"):
        merge()
    thread.join(30)
    retries = [r.getMessage() for r in caplog.records if r.name == "lakepulse.runtime.conflicts"]
    assert len(retries) == 2, retries
    # The DELETE removed a file the MERGE read and added its rewrite: Delta names the first it checks.
    assert all(re.match(rf"MERGE on {re.escape(path)}: {LOST}, retry \d of 3", r) for r in retries), retries
    # Checked by delta-rs: both DELETEs and the one MERGE committed, each once.
    table = RustDeltaTable(path)
    assert sorted(table.to_pandas()["id"]) == [*range(3, 11), 100]
    operations = [h["operation"] for h in table.history()]
    assert operations.count("MERGE") == 1 and operations.count("DELETE") == 2


def test_a_merge_that_keeps_losing_fails_with_one_line(spark, policy, tmp_path):
    policy(1)
    path, thread, merge = lose_merges(spark, tmp_path, losses=2)
    with pytest.raises(DeltaConflictError) as raised:
        merge()
    thread.join(30)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"MERGE on {path} still conflicts")
    assert re.search(rf"after 2 attempts \({LOST}\)", message), message
    assert sorted(RustDeltaTable(path).to_pandas()["id"]) == list(range(3, 11))  # the MERGE never landed
