"""Runs gold tables: plan the days, read only the silver they need, compute, replace those days.

Each table declares which silver tables bound its computable days (its "clock"), how far before its
first day its windows look back, and how to build it; the runner does the rest the same way for all:

1. computable days: from the clock tables' partition metadata (`planner.partition_bounds`);
2. days to compute: `--as-of`/`--from`/`--to`, or every computable day after the table's last one;
3. reads: each silver read is filtered on its date partition column to exactly the window the days
   need, and what Delta will scan (`inputFiles()` after pruning) is logged and appended to
   `<reports>/gold/runs.jsonl`, one JSON line per table run;
4. write: `replaceWhere` on the computed days, so a rerun replaces those days and never duplicates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import UsageError
from lakepulse.gold import (
    declared,
    planner,
)
from lakepulse.gold.context import DAY_PARTITIONED, Context, Read, Table
from lakepulse.gold.planner import DayRange, DayRequest
from lakepulse.runtime import delta_io, threads

log = logging.getLogger("lakepulse.gold")

# A gold commit's user metadata key for the silver versions its run read; commits searched for it (auto
# compaction may commit after a write).
SILVER_VERSIONS = "silver_versions"
RECORD_COMMITS = 10


@dataclass(frozen=True)
class TableRun:
    table: str
    days: DayRange | None
    rows: int | None
    reads: tuple[Read, ...]

    def as_dict(self) -> dict:
        return {
            "table": f"gold/{self.table}",
            "from": str(self.days.start) if self.days else None,
            "to": str(self.days.end) if self.days else None,
            "rows_written": self.rows,
            "reads": [r.as_dict() for r in self.reads],
        }


def computable_days(ctx: Context, table: Table) -> tuple[dt.date, dt.date]:
    bounds = [ctx.bounds(t) for t in table.clock]
    first_offset, last_offset, _ = table.offsets(ctx.config)
    first = max(b[0] for b in bounds) + dt.timedelta(days=first_offset)
    last = min(b[1] for b in bounds) + dt.timedelta(days=last_offset)
    return first, last


def done_through(spark: SparkSession, path: str, column: str) -> dt.date | None:
    if not delta_io.is_delta(spark, path):
        return None
    return delta_io.read_delta(spark, path).agg(F.max(column)).first()[0]


def _silver_versions(ctx: Context, table: Table) -> dict[str, int]:
    """The clock tables' versions, taken before they are read (a commit landing during the read is
    then read again by the next run, never missed)."""
    return {name: delta_io.table_version(ctx.spark, ctx.silver_path(name)) for name in table.clock}


def late_change(
    ctx: Context, table: Table, recorded: dict | None, versions: dict[str, int]
) -> dt.date | None:
    """The earliest day of the clock tables (at `versions`, their versions now) that silver changed since
    the versions the table's last default run read (Change Data Feed: only those commits), or None."""
    earliest = None
    for name, since in ((recorded or {}).get(SILVER_VERSIONS) or {}).items():
        path = ctx.silver_path(name)
        current = versions.get(name)
        if current is None or since is None or current <= since:
            continue
        try:
            day = delta_io.earliest_change(ctx.spark, path, DAY_PARTITIONED[name], since + 1, current)
        except AnalysisException as exc:
            log.warning(
                "gold/%s: silver/%s records no change feed for versions %d..%d, so late records there are "
                "not recomputed (rerun those days with --from/--to): %s",
                table.name, name, since + 1, current, str(exc).splitlines()[0],
            )  # fmt: skip
            continue
        if day is not None and (earliest is None or day < earliest):
            earliest = day
    return earliest


def _days_to_compute(
    ctx: Context,
    table: Table,
    request: DayRequest,
    path: str,
    recorded: dict | None,
    versions: dict[str, int],
) -> DayRange | None:
    """The planned days, widened back to the earliest day silver changed since the last default run."""
    first, last = computable_days(ctx, table)
    done = done_through(ctx.spark, path, table.done_column or table.date_column)
    days = planner.plan_days(request, done, first, last, table.name)
    late = None if request.explicit or done is None else late_change(ctx, table, recorded, versions)
    # The first of the table's days that read the changed silver day (later ones, for most tables).
    reads_late = late - dt.timedelta(days=table.offsets(ctx.config)[2]) if late is not None else None
    if reads_late is None or reads_late > min(done, last) or max(first, reads_late) > last:
        return days
    start = max(first, reads_late)
    log.info("gold/%s: silver changed on %s since the last run: recomputing from %s", table.name, late, start)
    return DayRange(min(start, days.start) if days else start, days.end if days else last)


def run_table(
    spark: SparkSession,
    config: Config,
    table: Table,
    request: DayRequest,
    bounds: dict[str, tuple[dt.date, dt.date]] | None = None,
) -> TableRun:
    """Plans and writes one gold table; `bounds` is a silver-bounds cache shared by a job's tables.

    A default run records the silver versions it read in its commit; the next default run recomputes
    every day from the earliest one silver changed since (late records reach computed days). A run with
    explicit days carries the previous record forward, so it never hides a change from the next one.
    """
    ctx = Context(spark, config) if bounds is None else Context(spark, config, _bounds=bounds)
    path = config.table_path("gold", table.name)
    recorded = (
        delta_io.latest_user_metadata(spark, path, RECORD_COMMITS, SILVER_VERSIONS)
        if delta_io.is_delta(spark, path)
        else None
    )
    current = {} if request.explicit else _silver_versions(ctx, table)
    versions = recorded if request.explicit else {SILVER_VERSIONS: current}
    days = _days_to_compute(ctx, table, request, path, recorded, current)
    if days is None:
        log.info("gold/%s: up to date (computable days end %s)", table.name, computable_days(ctx, table)[1])
        return TableRun(table.name, None, None, ())
    df = table.build(ctx, days)
    replace = table.replace(days) if table.replace else days.predicate(table.date_column)
    if _columns_changed(spark, path, df):
        days = DayRange(*computable_days(ctx, table))
        log.warning("gold/%s: its columns changed since it was written: recomputing %s", table.name, days)
        df, replace = table.build(ctx, days), None  # replaces the whole table, schema included
    # One file per written day partition, or one file for the small unpartitioned tables (a few rows per
    # day): no small files to compact afterwards.
    df = df.repartition(*table.partition_by) if table.partition_by else df.repartition(1)
    metadata = json.dumps(versions, sort_keys=True) if versions else None
    create = declared.gold_table(table.name).creation_options()
    delta_io.overwrite(
        df, path, table.partition_by, replace_where=replace, user_metadata=metadata, properties=create
    )
    declared.ensure(spark, table.name, path)  # a table made by an older lakepulse, or this run's comments
    rows = _rows_written(spark, path)
    run = TableRun(table.name, days, rows, tuple(ctx.reads))
    log.info(
        "gold/%s: days %s, %s rows; read %s",
        table.name,
        days,
        rows,
        "; ".join(
            f"silver/{r.table} {r.days or 'all'}: {r.files} files"
            + (f" in {len(r.partitions)} partitions" if r.partitions else "")
            for r in run.reads
        ),
    )
    return run


def _columns_changed(spark: SparkSession, path: str, df: DataFrame) -> bool:
    """A table written by an earlier version with other columns: replacing some days would be refused
    (Delta checks the schema), so the whole table is recomputed instead."""
    if not delta_io.is_delta(spark, path):
        return False
    return delta_io.read_delta(spark, path).schema.fieldNames() != df.schema.fieldNames()


def _rows_written(spark: SparkSession, path: str) -> int | None:
    """numOutputRows of the table's latest WRITE (auto compaction may have committed after it).

    Bounded collect: the last five commit infos, picked in Python; filtering and ordering them in Spark
    cost several Spark jobs per table for five rows.
    """
    recent = delta_io.history(spark, path, 5).select("version", "operation", "operationMetrics")
    writes = sorted((r for r in recent.collect() if r["operation"] == "WRITE"), key=lambda r: -r["version"])
    value = (writes[0]["operationMetrics"] or {}).get("numOutputRows") if writes else None
    return int(value) if value is not None else None


def add_day_arguments(parser: argparse.ArgumentParser, day: str, tables: Sequence[Table]) -> None:
    parser.add_argument("--as-of", dest="as_of", metavar="DATE", help=f"compute one {day} (YYYY-MM-DD)")
    parser.add_argument("--from", dest="start", metavar="DATE", help=f"first {day} to compute")
    parser.add_argument("--to", dest="end", metavar="DATE", help=f"last {day} to compute")
    if len(tables) > 1:
        parser.add_argument(
            "--tables",
            metavar="NAMES",
            help=f"comma-separated subset of: {', '.join(t.name for t in tables)} (default: all)",
        )


def select_tables(tables: Sequence[Table], names: str | None) -> list[Table]:
    if not names:
        return list(tables)
    by_name = {t.name: t for t in tables}
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    for name in chosen:
        if name not in by_name:
            raise UsageError(f"--tables: unknown table {name!r} (known: {', '.join(by_name)})")
    return [by_name[n] for n in chosen]


def run_job(
    job: str, args: argparse.Namespace, config: Config, spark: SparkSession, tables: Sequence[Table]
) -> int:
    request = planner.request_from_args(args.as_of, args.start, args.end)
    chosen = select_tables(tables, getattr(args, "tables", None))
    # The silver tables' day bounds are read once per job (silver does not change while gold runs), and
    # the tables, independent of each other, are built from a few driver threads: on small data most of
    # a table's time is driver work (planning wide plans, Delta log replay, commits).
    bounds: dict[str, tuple[dt.date, dt.date]] = {}
    for name in sorted({t for table in chosen for t in table.clock}):
        Context(spark, config, _bounds=bounds).bounds(name)
    runs = threads.run_concurrently(
        [functools.partial(run_table, spark, config, table, request, bounds) for table in chosen], "gold"
    )
    _record(config, job, runs)
    return 0


def _record(config: Config, job: str, runs: Sequence[TableRun]) -> None:
    """Appends the runs to <reports>/gold/runs.jsonl (local or shared filesystem reports only)."""
    reports = config.paths.reports
    if "://" in reports and not reports.startswith("file:"):
        return
    folder = Path(reports.removeprefix("file:")) / "gold"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with (folder / "runs.jsonl").open("a", encoding="utf-8") as out:
        for run in runs:
            out.write(json.dumps({"job": job, "at": stamp, **run.as_dict()}) + "\n")
