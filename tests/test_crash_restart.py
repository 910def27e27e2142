"""A run killed midway (a real SIGKILL of a real process) and restarted ends with the same tables.

The killed runs are `jobs/<job>.py` in subprocesses. Started through `tests/faults/crash.py <step>`, one
kills itself right after a named write (the product has no hook for it); or a watcher kills it as soon
as its first bronze commit appears.
Restarts and the uninterrupted reference run in this process, over identical landing files.

The module's runs follow one timeline (`runs`), and the tests check what it observed: both killed
ingests start first, so their JVMs come up while this process computes the reference (one JVM rarely
keeps both cores busy), and the killed refine starts on the restarted ingest's lake while the
externally killed ingest is restarted here. Each killed run has its own folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
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
TIMEOUT = 900
CRASH = Path(__file__).resolve().parent / "faults" / "crash.py"


def spawn(job: str, home: Path, *extra: str, fault: str | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("LAKEPULSE_HOME", None)
    # A run that is killed within seconds gains nothing from the optimising JIT compiler, whose work
    # would only compete for the cores with this process; the kill and the restart are unchanged.
    env["JAVA_TOOL_OPTIONS"] = f"{env.get('JAVA_TOOL_OPTIONS', '')} -XX:TieredStopAtLevel=1".strip()
    crash = [str(CRASH), fault] if fault else []
    return subprocess.Popen(
        [sys.executable, *crash, str(JOBS / f"{job}.py"), *job_args(home, *extra)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at(process: subprocess.Popen, marker: Path) -> threading.Thread:
    """Kills `process` (SIGKILL) as soon as `marker` exists, from a watcher thread."""

    def watch() -> None:
        deadline = time.monotonic() + TIMEOUT
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)

    watcher = threading.Thread(target=watch, name=f"kill-at-{marker.name}", daemon=True)
    watcher.start()
    return watcher


@dataclass
class Killed:
    """What a killed run left behind, observed before anything was restarted."""

    exit_code: int
    stderr: str
    lake: dict[str, bool] = field(default_factory=dict)  # what exists on disk, by description


def wait_killed(process: subprocess.Popen, home: Path, **paths: str) -> Killed:
    try:
        code = process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    return Killed(code, process.stderr.read(), {name: (home / p).exists() for name, p in paths.items()})


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
        for r in table(spark, home, "_ops", "_ingested_files").collect()
    )


@dataclass
class Runs:
    reference: Path  # ingest and refine, uninterrupted
    faulted: Path  # ingest killed after its bronze write, restarted; refine killed likewise, restarted
    outside: Path  # ingest killed from outside at its first bronze commit, restarted
    ingest_killed: Killed
    refine_killed: Killed
    outside_killed: Killed
    refine_done_when_killed: int


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("crash")
    reference, faulted, outside = (root / name / "home" for name in ("reference", "faulted", "outside"))
    for home in (reference, faulted, outside):
        write_events(home / "landing", Truth())
    ingest_faulted = spawn("ingest", faulted, "--source", "events", fault="bronze:events")
    ingest_outside = spawn("ingest", outside, "--source", "events")
    watcher = kill_at(ingest_outside, outside / "lake/bronze/events/_delta_log/00000000000000000000.json")
    processes = [ingest_faulted, ingest_outside]
    try:
        assert run("ingest", reference, "--source", "events") == 0
        assert run("refine", reference, "--source", "events") == 0

        # Killed between writes: bronze holds the batch, the commit marker (audit) must not exist yet.
        ingest_killed = wait_killed(
            ingest_faulted, faulted, bronze="lake/bronze/events/_delta_log", audit="lake/_ops/ingest_audit"
        )
        assert run("ingest", faulted, "--source", "events") == 0
        refine_faulted = spawn("refine", faulted, "--source", "events", fault="refine:events")
        processes.append(refine_faulted)

        watcher.join(TIMEOUT)
        outside_killed = wait_killed(ingest_outside, outside)
        assert run("ingest", outside, "--source", "events") == 0

        refine_killed = wait_killed(refine_faulted, faulted, silver="lake/silver/events/_delta_log")
        done = table(spark, faulted, "_ops", "_refine_state").where(F.col("state") == "done").count()
        assert run("refine", faulted, "--source", "events") == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return Runs(reference, faulted, outside, ingest_killed, refine_killed, outside_killed, done)


def test_ingest_and_refine_killed_after_a_write_then_restarted(spark, runs):
    for killed in (runs.ingest_killed, runs.refine_killed):
        assert killed.exit_code == -signal.SIGKILL, killed.stderr
    assert runs.ingest_killed.lake == {"bronze": True, "audit": False}
    assert runs.refine_killed.lake == {"silver": True}
    assert runs.refine_done_when_killed == 0
    assert tables_of(spark, runs.faulted) == tables_of(spark, runs.reference)
    assert relative_files(spark, runs.faulted) == relative_files(spark, runs.reference)


@pytest.mark.slow
def test_ingest_killed_from_outside_once_bronze_is_written(spark, runs):
    assert runs.outside_killed.exit_code == -signal.SIGKILL, runs.outside_killed.stderr
    assert tables_of(spark, runs.outside, "bronze") == tables_of(spark, runs.reference, "bronze")
    assert relative_files(spark, runs.outside) == relative_files(spark, runs.reference)


INGEST_COMMIT_STEPS = ("plan", "quarantine", "expectations", "audit")  # in the order a batch commits them


@pytest.mark.slow
def test_ingest_and_refine_killed_at_every_commit_step_in_turn_end_like_the_reference(spark, runs, tmp_path):
    """Each restart resumes the planned batch and dies at the next step; the last one finds it committed."""
    home = tmp_path / "home"
    write_events(home / "landing", Truth())
    killed = {}
    for step in (*INGEST_COMMIT_STEPS, "refine-state:planned"):
        job = "refine" if step.startswith("refine") else "ingest"
        process = spawn(job, home, "--source", "events", fault=step)
        killed[step] = wait_killed(process, home, audit="lake/_ops/ingest_audit")
        if step == INGEST_COMMIT_STEPS[-1]:
            assert run("ingest", home, "--source", "events") == 0
    assert {step: k.exit_code for step, k in killed.items()} == dict.fromkeys(killed, -signal.SIGKILL), {
        step: k.stderr[-2000:] for step, k in killed.items()
    }
    assert [step for step, k in killed.items() if k.lake["audit"]] == ["audit", "refine-state:planned"]
    assert run("refine", home, "--source", "events") == 0
    assert tables_of(spark, home) == tables_of(spark, runs.reference)
    assert relative_files(spark, home) == relative_files(spark, runs.reference)
