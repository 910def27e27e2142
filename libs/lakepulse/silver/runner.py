"""Which bronze rows are new for each silver table, and how a step is committed exactly once.

Refine is incremental: a step reads only the bronze rows of ingest batches it has not refined yet,
selected by `batch_id` (bronze files carry one batch each and Delta's statistics on that first
column skip every other file), never the whole of bronze. Only batches with an ingest_audit row are
refined: a batch whose ingestion was interrupted is completed by ingest first.

A refine version covers, for each silver unit (one source's table or tables), the ingest batches it
refines; _ops/_refine_state records them twice: `planned` before the silver writes and `done` after
them. Every silver write of a version carries (txnAppId `refine`, txnVersion = the version), MERGEs
included (through Delta's session settings), so a process killed after planning and restarted redoes
the planned version with the same batches, and Delta skips the writes that had already been
committed. The planned commit is also the claim: of two runs planning one version, the one whose rows
Delta did not keep writes nothing (`_claimed_by_another`). Running refine again with nothing new
changes no table. A step's units write different silver tables and run from a few driver threads at
once (MERGEs take the session's txn settings in turn).

The bookkeeping reads do not grow with history: each done commit records, in its commit's user
metadata, a high-water mark per unit (`Mark`): every committed ingest batch up to it is claimed. A run
reads the newest marker from the state table's last commits, then only the audit rows above the
lowest mark of its units, the claims above it and the rows of the versions after the marked one
(an interrupted plan, whole), each through Delta's statistics on the batch and version columns. A table
written without markers is read whole once; the next done commit records one.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse import privacy
from lakepulse.config import Config
from lakepulse.contracts import schemas
from lakepulse.contracts.sources import SOURCES
from lakepulse.errors import UsageError
from lakepulse.ops import lake
from lakepulse.ops.lake import expectation_rows
from lakepulse.ops.runs import make_batch_id, now_text
from lakepulse.runtime import delta_io, streams, threads
from lakepulse.silver import app_logs, billing, customers, declared, events, prices, requests, weather
from lakepulse.silver.common import Context, Unit

log = logging.getLogger("lakepulse.silver")

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
# What each silver table declares to Delta (silver.declared): its module's rules as constraints.
DECLARED = {
    table: declared.silver_table(table, module.RULES)
    for module in (events, requests, app_logs, billing, customers, prices, weather)
    for table in module.UNIT.tables
}
STATE = lake.REFINE_STATE
APP_ID = "refine"
# Commits of the state table searched for the newest done marker: a step makes two, maintenance a few.
MARK_WINDOW = 100


@dataclass(frozen=True)
class Step:
    """One refine version: for each unit, the ingest batches it refines."""

    version: int
    batches: tuple[tuple[str, tuple[str, ...]], ...]  # (unit name, ingest batch ids)
    run_id: str
    recorded_at: str
    resumed: bool  # planned by an interrupted run: its plan is already recorded
    high_water: dict[str, int] = field(default_factory=dict, hash=False)  # the mark its done commit records

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
    path = lake.ops(config, STATE)
    if not delta_io.is_delta(spark, path):
        return spark.createDataFrame([], schemas.REFINE_STATE)
    return delta_io.read_delta(spark, path)


def _batch_number(batch_id: str) -> int:
    return int(batch_id.removeprefix("ingest-"))


@dataclass(frozen=True)
class Mark:
    """What the newest `done` commit of _ops/_refine_state recorded in its user metadata.

    `high_water[unit]` is an ingest batch number H such that every committed ingest batch up to H with
    rows of the unit's source is claimed by a refine version up to `version`: what lies at or below it
    never has to be read again, neither from _ops/ingest_audit nor from the state's claims.
    """

    version: int
    high_water: dict[str, int]

    def marker(self) -> str:
        water = {u: make_batch_id(n) for u, n in sorted(self.high_water.items()) if n >= 0}  # none: -1
        return json.dumps({"state": "done", "refine_version": self.version, "high_water": water})


def _parse_mark(text: str) -> Mark | None:
    try:
        data = json.loads(text)
        if data.get("state") != "done":
            return None
        water = {u: _batch_number(b) for u, b in data["high_water"].items()}
        return Mark(int(data["refine_version"]), water)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None  # not a refine marker


def last_mark(spark: SparkSession, config: Config) -> Mark | None:
    """The newest done marker among the state table's last MARK_WINDOW commits (metadata, never rows).

    None when there is none: no state yet, a table written before done commits carried the marker, or
    more than MARK_WINDOW maintenance commits since the last refine step; the caller then reads all.
    """
    path = lake.ops(config, STATE)
    if not delta_io.is_delta(spark, path):
        return None
    marks = [m for t in delta_io.recent_user_metadata(spark, path, MARK_WINDOW) if (m := _parse_mark(t))]
    return max(marks, key=lambda m: m.version, default=None)


def _committed_above(spark: SparkSession, audit_path: str, floor: int) -> dict[str, set[str]]:
    """The committed ingest batches above `floor`, by source: Delta's statistics on batch_id skip the
    audit files of older batches (one file per batch), so the read does not grow with history."""
    audit = delta_io.read_delta(spark, audit_path)
    if floor >= 0:
        audit = audit.where(F.col("batch_id") > F.lit(make_batch_id(floor)))
    committed: dict[str, set[str]] = {}
    for r in audit.select("source", "batch_id").distinct().collect():  # the new batches' rows only
        committed.setdefault(r["source"], set()).add(r["batch_id"])
    return committed


def _state_rows(
    spark: SparkSession, config: Config, mark: Mark | None, floor: int, units: list[Unit]
) -> list:
    """Every row of the versions after the marked one (an interrupted plan is among them, whole), and the
    requested units' claims above `floor`: both through the statistics on refine_version and
    ingest_batch_id, so the state files of older steps are skipped. Without a marker: every row."""
    state = _state(spark, config)
    if mark is not None:
        after = F.col("refine_version") > F.lit(mark.version)
        claims = F.col("table").isin(*[u.name for u in units])
        if floor >= 0:
            claims = claims & (F.col("ingest_batch_id") > F.lit(make_batch_id(floor)))
        state = state.where(after | claims)
    return state.select(
        "table",
        "ingest_batch_id",
        "refine_version",
        "state",
        "run_id",
        F.date_format("recorded_at", "yyyy-MM-dd HH:mm:ss.SSSSSS").alias("at"),
    ).collect()


def _contiguous(floor: int, committed: dict[str, set[str]]) -> int:
    """The highest batch number up to which every batch above `floor` is committed (of any source).

    Batch numbers are one sequence across sources and every committed batch has an audit row, so a gap
    is a batch still being ingested (a concurrent run): the mark must stay below it, or the batch, once
    committed, would never be refined.
    """
    numbers = {_batch_number(b) for ids in committed.values() for b in ids}
    top = floor
    while top + 1 in numbers:
        top += 1
    return top


def _resumed(rows: list, mark: Mark | None) -> list[Step]:
    """Planned versions without a done row, after the marked version (all versions without a marker)."""
    after = -1 if mark is None else mark.version
    planned: dict[int, list] = {}
    done = set()
    for r in rows:
        version = int(r["refine_version"])
        if version <= after:
            continue  # a claim row read for the new step: its version is done
        if r["state"] == "planned":
            planned.setdefault(version, []).append(r)
        else:
            done.add(version)
    water = {} if mark is None else mark.high_water
    steps = []
    for version in sorted(set(planned) - done):
        group = planned[version]
        by_unit: dict[str, list[str]] = {}
        for r in group:
            by_unit.setdefault(r["table"], []).append(r["ingest_batch_id"])
        batches = tuple((u, tuple(sorted(ids))) for u, ids in sorted(by_unit.items()))
        # Its done commit keeps the previous mark: a lower mark is always safe, the new step raises it.
        steps.append(Step(version, batches, group[0]["run_id"], group[0]["at"], True, water))
    return steps


def pending_steps(spark: SparkSession, config: Config, units: list[Unit], run_id: str) -> list[Step]:
    """Interrupted steps first (as planned), then one step for the ingest batches not refined yet.

    Bookkeeping reads are bounded by the batches since the newest done marker (`Mark`), not by history.
    """
    audit_path = lake.ops(config, lake.AUDIT)
    if not delta_io.is_delta(spark, audit_path):
        return []
    mark = last_mark(spark, config)
    water = {} if mark is None else mark.high_water
    floor = min(water.get(u.name, -1) for u in units)
    committed = _committed_above(spark, audit_path, floor)
    rows = _state_rows(spark, config, mark, floor, units)
    steps = _resumed(rows, mark)
    claimed: dict[str, set[str]] = {}
    for r in rows:
        claimed.setdefault(r["table"], set()).add(r["ingest_batch_id"])
    new = []
    for unit in units:
        ids = committed.get(unit.source.name, set()) - claimed.get(unit.name, set())
        if ids:
            new.append((unit.name, tuple(sorted(ids))))
    if new:
        top = _contiguous(floor, committed)
        raised = {**water, **{u.name: max(water.get(u.name, -1), top) for u in units}}
        last = max((int(r["refine_version"]) for r in rows), default=-1)
        version = max(last, -1 if mark is None else mark.version) + 1
        steps.append(Step(version, tuple(new), run_id, now_text(), False, raised))
    return steps


def _record_state(spark: SparkSession, config: Config, step: Step, state: str) -> None:
    rows = [
        (unit, UNIT_BY_NAME[unit].source.name, b, step.version, state, step.run_id, step.recorded_at)
        for unit, ids in step.batches
        for b in ids
    ]
    path = lake.ops(config, STATE)
    # The done commit carries the mark the next run starts from (`last_mark`), atomically with its rows.
    marker = Mark(step.version, dict(step.high_water)).marker() if state == "done" else None
    delta_io.append(
        lake.small_frame(spark, rows, schemas.REFINE_STATE),
        path,
        txn=(f"{APP_ID}-{state}", step.version),
        user_metadata=marker,
    )


def bronze_rows(
    spark: SparkSession, config: Config, unit: Unit, batch_ids: tuple[str, ...]
) -> DataFrame | None:
    path = lake.bronze(config, unit.source.name)
    if not delta_io.is_delta(spark, path):
        return None
    return delta_io.read_delta(spark, path).where(F.col("batch_id").isin(*batch_ids))


def _claimed_by_another(spark: SparkSession, config: Config, step: Step) -> str | None:
    """The run that holds the step's version when it is not this one. The planned commit is the claim:
    two runs planning one version write it with one idempotent-write id, and Delta keeps the first."""
    version = (F.col("refine_version") == step.version) & (F.col("state") == "planned")
    holders = {
        r["run_id"] for r in _state(spark, config).where(version).select("run_id").distinct().collect()
    }
    return None if holders == {step.run_id} else ", ".join(sorted(holders - {step.run_id})) or "unknown"


def run_step(spark: SparkSession, config: Config, step: Step, key: bytes) -> list[StepResult] | None:
    """Refines one step; None, writing nothing, when another run claimed its version first."""
    if not step.resumed:
        _record_state(spark, config, step, "planned")
        holder = _claimed_by_another(spark, config, step)
        if holder is not None:
            log.warning("refine version %d is claimed by run %s: this run stops", step.version, holder)
            return None
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
            lake.ops(config, lake.EXPECTATION_RESULTS),
            txn=step.txn,
        )
    _record_state(spark, config, step, "done")
    return results


def refine(spark: SparkSession, config: Config, units: list[Unit], run_id: str) -> list[StepResult]:
    key = privacy.pseudonym_key(config)  # fails here, before any write, when the key must be set
    results = []
    steps = pending_steps(spark, config, units, run_id)
    tables = [t for u in units for t in u.tables] if steps else []
    existing = [t for t in tables if delta_io.is_delta(spark, config.table_path("silver", t))]
    if not steps:
        log.info("nothing new to refine")
    else:  # tables made by an older lakepulse get their change feed, constraints, ... before this run's writes
        declared.ensure(spark, config, DECLARED, existing)
    for step in steps:
        step_results = run_step(spark, config, step, key)
        if step_results is None:  # another refine runs: it refines these batches, the next run the rest
            break
        for result in step_results:
            log.info(
                "%s: %s refined %d ingest batch(es): %s",
                result.unit,
                result.batch_id,
                result.ingest_batches,
                result.rows,
            )
            results.append(result)
    # Tables this run created got their properties and constraints in their first commit; now their comments.
    declared.ensure(spark, config, DECLARED, [t for t in tables if t not in existing])
    return results


def refine_stream(
    spark: SparkSession, config: Config, units: list[Unit], run_id: str, trigger_interval: str | None
) -> None:
    """Structured Streaming over _ops/ingest_audit: each committed ingest batch triggers a refine step."""
    privacy.pseudonym_key(config)
    audit_path = lake.ops(config, lake.AUDIT)
    if not delta_io.is_delta(spark, audit_path):
        raise UsageError(f"nothing ingested yet: no table at {audit_path} (run ingest first)")

    def handle(_batch: DataFrame, epoch: int) -> None:
        log.info("refine micro-batch %d", epoch)
        refine(spark, config, units, run_id)

    name = "all" if len(units) > 1 else units[0].name
    streams.run_foreach_batch(
        spark.readStream.format("delta").load(audit_path),
        name=f"refine_{name}",
        checkpoint=config.checkpoint_path(f"refine/{name}"),
        handle=handle,
        trigger_interval=trigger_interval,
        what="streaming refine",
    )
