"""Which bronze rows are new for each silver table, and how a step is committed exactly once.

Refine is incremental: a step reads only the bronze rows of ingest batches it has not refined yet,
selected by `batch_id` (bronze files carry one batch each and Delta's statistics on that first
column skip every other file), never the whole of bronze. Only batches with an ingest_audit row are
refined: a batch whose ingestion was interrupted is completed by ingest first.

A refine version covers, for each silver unit (one source's table or tables), the ingest batches it
refines; silver/_refine_state records them twice: `planned` before the silver writes and `done` after
them. Every silver write of a version carries (txnAppId `refine`, txnVersion = the version), MERGEs
included (through Delta's session settings), so a process killed after planning and restarted redoes
the planned version with the same batches, and Delta skips the writes that had already been
committed. Running refine again with nothing new changes no table. A step's units write different silver
tables and run from a few driver threads at once (MERGEs take the session's txn settings in turn).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse import delta_io, privacy, schemas, threads
from lakepulse.config import Config
from lakepulse.errors import LakepulseError, UsageError
from lakepulse.ingest import lake
from lakepulse.ingest.batch import expectation_rows, fault_point, now_text
from lakepulse.ingest.sources import SOURCES
from lakepulse.refine import app_logs, billing, customers, events, prices, requests, weather
from lakepulse.refine.common import Context, Unit

log = logging.getLogger("lakepulse.refine")

UNITS: dict[str, Unit] = {
    u.source.name: u
    for u in (
        events.UNIT,
        requests.UNIT,
        app_logs.UNIT,
        billing.UNIT,
        customers.UNIT,
        prices.UNIT,
        weather.UNIT,
    )
}
UNIT_BY_NAME = {u.name: u for u in UNITS.values()}
STATE = "_refine_state"
APP_ID = "refine"


@dataclass(frozen=True)
class Step:
    """One refine version: for each unit, the ingest batches it refines."""

    version: int
    batches: tuple[tuple[str, tuple[str, ...]], ...]  # (unit name, ingest batch ids)
    run_id: str
    recorded_at: str
    resumed: bool  # planned by an interrupted run: its plan is already recorded

    @property
    def batch_id(self) -> str:
        return f"refine-{self.version:08d}"

    @property
    def txn(self) -> tuple[str, int]:
        return APP_ID, self.version


@dataclass(frozen=True)
class StepResult:
    unit: str
    batch_id: str
    ingest_batches: int
    rows: dict[str, int]


def units_for(source_name: str | None) -> list[Unit]:
    if source_name is None:
        return list(UNITS.values())
    if source_name not in UNITS:
        raise UsageError(f"unknown source {source_name!r} (known: {', '.join(SOURCES)})")
    return [UNITS[source_name]]


def _state(spark: SparkSession, config: Config) -> DataFrame:
    path = config.table_path("silver", STATE)
    if not delta_io.is_delta(spark, path):
        return spark.createDataFrame([], schemas.REFINE_STATE)
    return delta_io.read_delta(spark, path)


def pending_steps(spark: SparkSession, config: Config, units: list[Unit], run_id: str) -> list[Step]:
    """Interrupted steps first (as planned), then one step for the ingest batches not refined yet."""
    audit_path = lake.bronze(config, lake.AUDIT)
    if not delta_io.is_delta(spark, audit_path):
        return []
    # Bookkeeping, one row per ingest batch and source (and per refine step): bounded, small.
    committed: dict[str, set[str]] = {}
    for r in delta_io.read_delta(spark, audit_path).select("source", "batch_id").distinct().collect():
        committed.setdefault(r["source"], set()).add(r["batch_id"])
    rows = (
        _state(spark, config)
        .select(
            "table",
            "ingest_batch_id",
            "refine_version",
            "state",
            "run_id",
            F.date_format("recorded_at", "yyyy-MM-dd HH:mm:ss.SSSSSS").alias("at"),
        )
        .collect()
    )
    planned: dict[int, list] = {}
    done = set()
    for r in rows:
        if r["state"] == "planned":
            planned.setdefault(int(r["refine_version"]), []).append(r)
        else:
            done.add(int(r["refine_version"]))
    steps = []
    for version in sorted(set(planned) - done):
        group = planned[version]
        by_unit: dict[str, list[str]] = {}
        for r in group:
            by_unit.setdefault(r["table"], []).append(r["ingest_batch_id"])
        batches = tuple((u, tuple(sorted(ids))) for u, ids in sorted(by_unit.items()))
        steps.append(Step(version, batches, group[0]["run_id"], group[0]["at"], resumed=True))
    claimed: dict[str, set[str]] = {}
    for r in rows:
        claimed.setdefault(r["table"], set()).add(r["ingest_batch_id"])
    new = []
    for unit in units:
        ids = committed.get(unit.source.name, set()) - claimed.get(unit.name, set())
        if ids:
            new.append((unit.name, tuple(sorted(ids))))
    if new:
        version = max((int(r["refine_version"]) for r in rows), default=-1) + 1
        steps.append(Step(version, tuple(new), run_id, now_text(), resumed=False))
    return steps


def _record_state(spark: SparkSession, config: Config, step: Step, state: str) -> None:
    rows = [
        (unit, UNIT_BY_NAME[unit].source.name, b, step.version, state, step.run_id, step.recorded_at)
        for unit, ids in step.batches
        for b in ids
    ]
    path = config.table_path("silver", STATE)
    delta_io.append(
        lake.small_frame(spark, rows, schemas.REFINE_STATE), path, txn=(f"{APP_ID}-{state}", step.version)
    )


def bronze_rows(
    spark: SparkSession, config: Config, unit: Unit, batch_ids: tuple[str, ...]
) -> DataFrame | None:
    path = lake.bronze(config, unit.source.name)
    if not delta_io.is_delta(spark, path):
        return None
    return delta_io.read_delta(spark, path).where(F.col("batch_id").isin(*batch_ids))


def run_step(spark: SparkSession, config: Config, step: Step, key: bytes) -> list[StepResult]:
    if not step.resumed:
        _record_state(spark, config, step, "planned")
    fault_point("refine-plan")
    ctx = Context(config, key, step.txn, step.run_id, step.recorded_at)
    done: dict[str, tuple[StepResult, list]] = {}

    def refine_unit(name: str, batch_ids: tuple[str, ...]) -> None:
        unit = UNIT_BY_NAME[name]
        bronze = bronze_rows(spark, config, unit, batch_ids)
        rows: dict[str, int] = {}
        checks: list = []
        if bronze is not None:
            written = unit.step(spark, bronze, ctx)
            rows, checks = written.rows, written.checks
        fault_point(f"refine:{name}")
        done[name] = (StepResult(name, step.batch_id, len(batch_ids), rows), checks)

    # Units write different silver tables, each write idempotent: they run from a few driver threads.
    threads.run_concurrently(
        [functools.partial(refine_unit, name, ids) for name, ids in step.batches], "refine"
    )
    results = [done[name][0] for name, _ in step.batches]
    checks = [check for name, _ in step.batches for check in done[name][1]]
    expectation_results = []
    for dataset, rules, outcome in checks:
        expectation_results += expectation_rows(
            step.run_id, step.batch_id, step.recorded_at, "silver", dataset, rules, outcome
        )
    if expectation_results:
        delta_io.append(
            lake.small_frame(spark, expectation_results, schemas.EXPECTATION_RESULTS),
            lake.bronze(config, lake.EXPECTATION_RESULTS),
            txn=step.txn,
        )
    _record_state(spark, config, step, "done")
    return results


def refine(spark: SparkSession, config: Config, units: list[Unit], run_id: str) -> list[StepResult]:
    key = privacy.pseudonym_key(config)  # fails here, before any write, when the key must be set
    results = []
    steps = pending_steps(spark, config, units, run_id)
    if not steps:
        log.info("nothing new to refine")
    for step in steps:
        for result in run_step(spark, config, step, key):
            log.info(
                "%s: %s refined %d ingest batch(es): %s",
                result.unit,
                result.batch_id,
                result.ingest_batches,
                result.rows,
            )
            results.append(result)
    return results


def refine_stream(
    spark: SparkSession, config: Config, units: list[Unit], run_id: str, trigger_interval: str | None
) -> None:
    """Structured Streaming over bronze/ingest_audit: each committed ingest batch triggers a refine step."""
    privacy.pseudonym_key(config)
    audit_path = lake.bronze(config, lake.AUDIT)
    if not delta_io.is_delta(spark, audit_path):
        raise UsageError(f"nothing ingested yet: no table at {audit_path} (run ingest first)")

    def handle(_batch: DataFrame, epoch: int) -> None:
        log.info("refine micro-batch %d", epoch)
        refine(spark, config, units, run_id)

    name = "all" if len(units) > 1 else units[0].name
    writer = (
        spark.readStream.format("delta")
        .load(audit_path)
        .writeStream.queryName(f"refine_{name}")
        .foreachBatch(handle)
        .option("checkpointLocation", config.checkpoint_path(f"refine/{name}"))
    )
    writer = (
        writer.trigger(processingTime=trigger_interval)
        if trigger_interval
        else writer.trigger(availableNow=True)
    )
    query = writer.start()
    try:
        query.awaitTermination()
    except Exception as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise LakepulseError(f"streaming refine failed: {first}") from exc
    finally:
        if query.isActive:
            query.stop()
