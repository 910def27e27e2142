"""A run killed midway (a real SIGKILL of a real process) and restarted ends with the same tables.

The killed run is `jobs/<job>.py` in a subprocess; `LAKEPULSE_FAULT_AFTER=<step>` makes it kill itself
right after a named write, or the test kills it as soon as its first bronze commit appears. The
restart and the uninterrupted reference run in this process, over identical landing files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from tests.ingest_fixtures import JOBS, Truth, job_args, rows, run, table, versions, write_events

PATH_COLUMNS = ("source_file", "path")
VOLATILE = (
    "run_id",
    "ingested_at",
    "quarantined_at",
    "started_at",
    "finished_at",
    "recorded_at",
    "mode",
    "modified_at",
)


def spawn(job: str, home: Path, *extra: str, fault: str | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("LAKEPULSE_HOME", None)
    if fault:
        env["LAKEPULSE_FAULT_AFTER"] = fault
    return subprocess.Popen(
        [sys.executable, str(JOBS / f"{job}.py"), *job_args(home, *extra)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def tables_of(spark, home: Path, layer_only: str | None = None) -> dict[str, list]:
    """Every table's rows without volatile and home-dependent columns (`layer_only`: that layer's tables and outcomes)."""
    out = {}
    for name in versions(home):
        layer, table_name = name.split("/")
        if layer_only and layer != layer_only:
            continue
        df = table(spark, home, layer, table_name)
        if layer_only and "layer" in df.columns:  # expectation outcomes of both layers share one table
            df = df.where(F.col("layer") == layer_only)
        out[name] = rows(df, (*VOLATILE, *PATH_COLUMNS))
    return out


def relative_files(spark, home: Path) -> list[str]:
    return sorted(
        os.path.relpath(r.path.removeprefix("file:"), str(home))
        for r in table(spark, home, "bronze", "_ingested_files").collect()
    )


@pytest.fixture(scope="module")
def reference(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("uninterrupted")
    write_events(home / "landing", Truth())
    assert run("ingest", home, "--source", "events") == 0
    assert run("refine", home, "--source", "events") == 0
    return home


def test_ingest_and_refine_killed_after_a_write_then_restarted(spark, reference, tmp_path):
    home = tmp_path / "home"
    write_events(home / "landing", Truth())
    killed = spawn("ingest", home, "--source", "events", fault="bronze:events")
    assert killed.wait(timeout=900) == -signal.SIGKILL, killed.stderr.read()
    # Killed between writes: bronze holds the batch, the commit marker (audit) does not exist yet.
    assert (home / "lake/bronze/events/_delta_log").is_dir() and not (
        home / "lake/bronze/ingest_audit"
    ).exists()
    assert run("ingest", home, "--source", "events") == 0

    killed = spawn("refine", home, "--source", "events", fault="refine:events")
    assert killed.wait(timeout=900) == -signal.SIGKILL, killed.stderr.read()
    assert (home / "lake/silver/events/_delta_log").is_dir()
    assert table(spark, home, "silver", "_refine_state").where(F.col("state") == "done").count() == 0
    assert run("refine", home, "--source", "events") == 0

    assert tables_of(spark, home) == tables_of(spark, reference)
    assert relative_files(spark, home) == relative_files(spark, reference)


@pytest.mark.slow
def test_ingest_killed_from_outside_once_bronze_is_written(spark, reference, tmp_path):
    home = tmp_path / "home"
    write_events(home / "landing", Truth())
    first_commit = home / "lake/bronze/events/_delta_log/00000000000000000000.json"
    process = spawn("ingest", home, "--source", "events")
    deadline = time.monotonic() + 900
    while not first_commit.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert run("ingest", home, "--source", "events") == 0
    assert tables_of(spark, home, "bronze") == tables_of(spark, reference, "bronze")
