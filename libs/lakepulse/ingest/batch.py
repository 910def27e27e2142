"""One ingestion batch: new files of one or more sources, classified record by record, committed once.

Classification (read-only, deterministic): every line becomes exactly one of loaded, quarantined (the
first rule it breaks names the reason) or duplicate (its primary key already seen in this batch, first
in (source_file, raw) order, or already in bronze). A compressed file that cannot be read to its end
is quarantined as a file (`corrupt_file`), as is a CSV file whose header lacks a declared column
(`bad_header`); the batch goes on without them.

Commit protocol, so that a process killed at any point and restarted ends with the same tables as an
uninterrupted run. Every write carries Delta's idempotent-write options txnAppId=`ingest` and
txnVersion=the batch number, so each table applies a batch's write at most once:
1. classify every source; a broken `fail` rule stops here, before anything is written;
2. plan: append the batch's files to bronze/_ingested_files, then read the plan back (a concurrent run
   that took the same batch number is detected, not silently merged);
3. append bronze/<source> for each source, then bronze/quarantine and bronze/expectation_results;
4. append bronze/ingest_audit, one row per source: the commit marker.
A restarted run first completes every planned batch that has no audit row, with the planned files,
run id and ingestion time. Deduplication ignores the batch's own bronze rows, so the retry classifies
exactly as the first attempt did, and Delta skips the writes that attempt had already committed.

Shared tables get one write per batch, not one per source: on a busy cluster each commit costs. A
batch's independent work (the sources' classifications, then the writes of step 3) runs from a few
driver threads at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import logging
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakepulse import delta_io, expectations, schemas, threads
from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.ingest import files as landing
from lakepulse.ingest import lake, parse
from lakepulse.ingest.sources import SOURCES, Source

log = logging.getLogger("lakepulse.ingest")

APP_ID = "ingest"
FAULT_ENV = "LAKEPULSE_FAULT_AFTER"
LOADED, QUARANTINED, DUPLICATE = "loaded", "quarantined", "duplicate"
_PATH_FIELD = re.compile(r"/([A-Za-z_][A-Za-z0-9_]*)=([^/]+)/")


def fault_point(step: str) -> None:
    """Test hook: `LAKEPULSE_FAULT_AFTER=<step>` kills this process (SIGKILL, no cleanup) right after `step`."""
    if os.environ.get(FAULT_ENV) == step:
        log.warning("fault injection: killing the process after %s", step)
        os.kill(os.getpid(), signal.SIGKILL)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_batch_id(version: int) -> str:
    return f"ingest-{version:08d}"


@dataclass(frozen=True)
class Plan:
    version: int
    files: tuple[tuple[str, landing.LandingFile], ...]  # (source, file)
    run_id: str
    ingested_at: str  # UTC text, see lakepulse.ingest.lake.small_frame
    mode: str

    @property
    def batch_id(self) -> str:
        return make_batch_id(self.version)

    @property
    def txn(self) -> tuple[str, int]:
        return APP_ID, self.version

    def sources(self) -> list[str]:
        names = {name for name, _ in self.files}
        return [n for n in SOURCES if n in names]

    def files_of(self, name: str) -> list[landing.LandingFile]:
        return sorted((f for n, f in self.files if n == name), key=lambda f: f.path)


@dataclass(frozen=True)
class Audit:
    source: str
    batch_id: str
    files_read: int
    corrupt_files: int
    records_read: int
    loaded: int
    quarantined: int
    duplicates_dropped: int


@dataclass(frozen=True)
class FileProblem:
    file: landing.LandingFile
    reason: str


@dataclass
class Classified:
    """One source's lines in a batch, persisted until the batch is committed.

    `frame` keeps only what is written or counted (metadata, raw, fields as received, `_reason`, warn
    flags, keys, `_dup_in_batch`); `existing` holds the keys bronze already has from other batches.
    """

    source: Source
    files: list[landing.LandingFile]
    rules: list[expectations.Expectation]
    outcome: expectations.Outcome
    problems: list[FileProblem] = field(default_factory=list)
    frame: DataFrame | None = None
    counts: dict[str, int] = field(default_factory=dict)
    existing: DataFrame | None = None
    cached: list[DataFrame] = field(default_factory=list)

    def unpersist(self) -> None:
        for df in self.cached:
            df.unpersist()

    def loaded_rows(self) -> DataFrame:
        """The lines to append to bronze: valid, first of their key in the batch, and new to bronze."""
        assert self.frame is not None
        rows = self.frame.where(_valid() & ~F.col("_dup_in_batch"))
        if self.existing is not None:
            rows = rows.join(self.existing, on=_key_columns(self.source), how="left_anti")
        return rows

    def audit(self, plan: Plan) -> Audit:
        return Audit(
            source=self.source.name,
            batch_id=plan.batch_id,
            files_read=len(self.files),
            corrupt_files=sum(1 for p in self.problems if p.reason == "corrupt_file"),
            records_read=self.outcome.rows,
            loaded=self.counts.get(LOADED, 0),
            quarantined=self.counts.get(QUARANTINED, 0),
            duplicates_dropped=self.counts.get(DUPLICATE, 0),
        )


# --- classification ------------------------------------------------------------------------------------


def _path_fields(path: str) -> set[str]:
    return {m.group(1) for m in _PATH_FIELD.finditer(path)}


def _csv_groups(spark: SparkSession, source: Source, files: Sequence[landing.LandingFile]):
    """Files grouped by header (and by which declared fields come from Hive-style `name=value` folders)."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[landing.LandingFile]] = {}
    texts: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = {}
    problems = []
    for f in files:
        try:
            line = landing.first_line(spark, f.path)
        except Exception:  # noqa: BLE001 - a file whose first line cannot be read is corrupt
            problems.append(FileProblem(f, "corrupt_file"))
            continue
        if line is None:
            continue  # an empty file holds no record
        header = tuple(next(csv.reader([line])))
        from_path = tuple(n for n in source.field_names if n not in header and n in _path_fields(f.path))
        if not set(source.field_names) <= set(header) | set(from_path):
            problems.append(FileProblem(f, "bad_header"))
            continue
        groups.setdefault((header, from_path), []).append(f)
        texts.setdefault((header, from_path), set()).add(line)
    return groups, texts, problems


def _parsed(
    spark: SparkSession, config: Config, source: Source, plan: Plan, readable: list[landing.LandingFile]
) -> tuple[DataFrame | None, list[FileProblem]]:
    """The validation frame of every record of the readable files, and the files rejected as a whole."""
    constants = [
        F.lit(plan.batch_id).alias("batch_id"),
        F.lit(plan.run_id).alias("run_id"),
        F.lit(plan.ingested_at).cast("timestamp").alias("ingested_at"),
    ]

    def lines_of(group: Sequence[landing.LandingFile]) -> DataFrame:
        raw = landing.read_lines(spark, list(group)).select("*", *constants)
        return parse.with_helpers(raw, config.ingest.late_window_days, config.ingest.future_tolerance_minutes)

    if source.format != "csv":
        if not readable:
            return None, []
        lines = lines_of(readable)
        parser = parse.parse_json if source.format == "json" else parse.parse_access_log
        return parser(source, lines), []
    groups, texts, problems = _csv_groups(spark, source, readable)
    frames = []
    for key, group in sorted(groups.items()):
        header, from_path = key
        lines = lines_of(group)
        # Header lines are not records (a file may repeat its header, e.g. concatenated exports).
        stripped = F.regexp_replace(F.col("raw"), "^\ufeff", "")
        lines = lines.where(~stripped.isin(*sorted(texts[key])))
        frames.append(parse.parse_csv(source, lines, header, from_path))
    if not frames:
        return None, problems
    parsed = frames[0]
    for frame in frames[1:]:
        parsed = parsed.unionByName(frame)
    return parsed, problems


def _key_columns(source: Source) -> list[str]:
    return [f"_k{i}" for i in range(len(source.primary_key))]


def _valid() -> Column:
    """No rejecting rule broken (warn rules only count)."""
    return F.col(expectations.REASON).isNull()


def _narrow(source: Source, parsed: DataFrame, rules) -> DataFrame:
    """The rules applied, then only what the batch writes or counts is kept.

    Typed values are needed by the rules only: dropping them here keeps the persisted frame narrow.
    """
    flagged = parsed.transform(expectations.flag(rules))
    columns = [F.col(f.name) for f in schemas.BRONZE_METADATA.fields]
    if source.partition_column:
        columns.append(F.to_date(F.col(source.partition_from)).alias(source.partition_column))
    columns += [F.col("raw"), *[F.col(parse.string_col(n)) for n in source.field_names]]
    columns += [F.col(c) for c in flagged.columns if c == expectations.REASON or c.startswith("_warn_")]
    keys = _key_columns(source)
    columns += [F.expr(k).alias(c) for k, c in zip(source.primary_key, keys, strict=True)]
    return flagged.select(*columns)


def _repeated_keys(source: Source, frame: DataFrame) -> DataFrame | None:
    """The keys that more than one valid line of the batch holds, with their number of lines.

    Only the key columns are shuffled: duplicates are a small share of a batch, so ordering every line
    by key (a shuffle and sort of the whole batch, raw text included) would cost more than the parsing.
    """
    if not source.primary_key:
        return None
    keys = _key_columns(source)
    return (
        frame.where(_valid())
        .groupBy(*keys)
        .agg(F.count(F.lit(1)).alias("_copies"))
        .where(F.col("_copies") > F.lit(1))
    )


def _with_duplicate_flag(source: Source, frame: DataFrame, repeated: DataFrame | None) -> DataFrame:
    """`_dup_in_batch`: a valid line whose key an earlier line of the batch holds, first by file, then by
    line text (deterministic; lines tying on both are identical). Only the lines of repeated keys are
    ordered; the others are matched against those keys (a broadcast when they are few)."""
    if repeated is None:
        return frame.select("*", F.lit(False).alias("_dup_in_batch"))
    keys = _key_columns(source)
    marked = frame.join(repeated.select(*keys, F.lit(True).alias("_repeated")), on=keys, how="left")
    single = marked.where(F.col("_repeated").isNull()).select(
        *frame.columns, F.lit(False).alias("_dup_in_batch")
    )
    first = Window.partitionBy(_valid(), *keys).orderBy(F.col("source_file").asc(), F.col("raw").asc())
    later = _valid() & (F.row_number().over(first) > F.lit(1))
    multi = marked.where(F.col("_repeated")).select(*frame.columns, later.alias("_dup_in_batch"))
    return single.unionByName(multi)


def _existing_keys(
    spark: SparkSession, config: Config, source: Source, plan: Plan, days: list
) -> DataFrame | None:
    """Primary keys bronze holds from other batches, read from the partitions this batch touches only."""
    path = lake.bronze(config, source.name)
    if not source.primary_key or not delta_io.is_delta(spark, path):
        return None
    bronze = delta_io.read_delta(spark, path).where(F.col("batch_id") != F.lit(plan.batch_id))
    if source.partition_column:
        if not days:
            return None
        # The batch's days widened by the late window: a key re-sent with another timestamp is still
        # found, and only a few partitions are read, never the whole history.
        window = dt.timedelta(days=config.ingest.late_window_days)
        part = F.col(source.partition_column)
        bronze = bronze.where(part.between(F.lit(min(days) - window), F.lit(max(days) + window)))
    # Keys are expressions over typed fields: type only the fields they use, from bronze's text.
    used = [f for f in source.fields if any(re.search(rf"\b{f.name}\b", k) for k in source.primary_key)]
    raw = [F.col("raw")] if any(re.search(r"\braw\b", k) for k in source.primary_key) else []
    typed = bronze.select(*raw, *[parse.typed_value(f.kind, F.col(f.name)).alias(f.name) for f in used])
    keys = _key_columns(source)
    return typed.select(*[F.expr(k).alias(c) for k, c in zip(source.primary_key, keys, strict=True)])


def classify(spark: SparkSession, config: Config, source: Source, plan: Plan) -> Classified:
    """Reads the source's files of the batch once (one aggregation over the persisted frame) and counts."""
    rules = parse.all_rules(source)
    files = plan.files_of(source.name)
    problems = [FileProblem(f, "corrupt_file") for f in landing.corrupt_files(spark, files)]
    if problems:
        log.warning(
            "%s: corrupt file(s) quarantined: %s", source.name, ", ".join(p.file.path for p in problems)
        )
    readable = [f for f in files if all(p.file != f for p in problems)]
    extra = [F.sum(F.when(~_valid(), 1).otherwise(0)).alias("_rejected")]
    if source.partition_column:
        extra.append(F.collect_set(F.when(_valid(), F.col(source.partition_column))).alias("_days"))
    while True:
        parsed, file_problems = _parsed(spark, config, source, plan, readable)
        if parsed is None:
            empty = expectations.Outcome({r.name: 0 for r in rules}, 0)
            return Classified(source, files, rules, empty, problems + file_problems)
        flagged = _narrow(source, parsed, rules).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            outcome, row = expectations.count_failures(flagged, rules, extra)  # reads every file
            break
        except Exception as exc:
            flagged.unpersist()
            if not landing.is_read_failure(exc):
                raise
            # Compressed files were checked before; a file that became unreadable since is set aside too.
            corrupt = landing.failed_files(exc, readable) or landing.unreadable_files(spark, readable)
            if not corrupt:
                raise
            log.warning(
                "%s: corrupt file(s) quarantined: %s", source.name, ", ".join(f.path for f in corrupt)
            )
            problems += [FileProblem(f, "corrupt_file") for f in corrupt]
            readable = [f for f in readable if f not in corrupt]
    try:
        expectations.enforce(outcome, rules, f"ingest {source.name}")
    except Exception:
        flagged.unpersist()
        raise
    # Counted from the lines; _check_reconciles checks the rules' counts against it.
    quarantined = int(row["_rejected"] or 0)
    cached = [flagged]
    repeated = _repeated_keys(source, flagged)
    dups = 0
    if repeated is not None and outcome.rows - quarantined > 0:
        repeated = repeated.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(repeated)
        try:
            # One row: the extra copies of repeated keys.
            dups = int(repeated.agg(F.sum(F.col("_copies") - F.lit(1)).alias("n")).first()["n"] or 0)
        except Exception:
            for df in cached:
                df.unpersist()
            raise
    candidates = outcome.rows - quarantined - dups  # valid, first of their key in the batch
    frame = _with_duplicate_flag(source, flagged, repeated if dups else None)
    result = Classified(source, files, rules, outcome, problems + file_problems, frame, cached=cached)
    days = sorted(row["_days"]) if source.partition_column else []  # the batch's days: a handful of dates
    if candidates:
        result.existing = _existing_keys(spark, config, source, plan, days)
    loaded = candidates
    if result.existing is not None:
        loaded = result.loaded_rows().count()  # narrow: the batch's keys against bronze's
    result.counts = {QUARANTINED: quarantined, LOADED: loaded, DUPLICATE: outcome.rows - quarantined - loaded}
    _check_reconciles(result, plan)
    return result


def _check_reconciles(c: Classified, plan: Plan) -> None:
    a = c.audit(plan)
    rejected = sum(n for name, n in c.outcome.failed.items() if _action(c.rules, name) != "warn")
    negative = min(a.loaded, a.quarantined, a.duplicates_dropped) < 0
    if (
        a.records_read != a.loaded + a.quarantined + a.duplicates_dropped
        or rejected != a.quarantined
        or negative
    ):
        raise LakepulseError(
            f"ingest {a.source}: batch {a.batch_id} does not reconcile: read {a.records_read} != loaded {a.loaded} "
            f"+ quarantined {a.quarantined} + duplicates {a.duplicates_dropped} (rules rejected {rejected})"
        )


def _action(rules, name: str) -> str:
    return next(r.action for r in rules if r.name == name)


# --- commit ------------------------------------------------------------------------------------------------


def _bronze_frame(c: Classified) -> DataFrame:
    source = c.source
    columns = [F.col(f.name) for f in schemas.BRONZE_METADATA.fields]
    if source.partition_column:
        columns.append(F.col(source.partition_column))
    columns.append(F.col("raw"))
    columns += [F.col(parse.string_col(n)).alias(n) for n in source.field_names]
    return c.loaded_rows().select(*columns)


def _quarantined_records(c: Classified) -> DataFrame:
    return c.frame.where(~_valid()).select(
        F.lit(c.source.name).alias("source"),
        F.lit("ingest").alias("stage"),
        F.col(expectations.REASON).alias("reason"),
        F.col("raw"),
        F.col("source_file"),
        F.col("batch_id"),
        F.col("run_id"),
        F.col("ingested_at").alias("quarantined_at"),
    )


def _quarantine_frame(spark: SparkSession, plan: Plan, results: list[Classified]) -> DataFrame | None:
    file_rows = [
        (c.source.name, "ingest", p.reason, None, p.file.path, plan.batch_id, plan.run_id, plan.ingested_at)
        for c in results
        for p in c.problems
    ]
    frames = [_quarantined_records(c) for c in results if c.frame is not None and c.counts.get(QUARANTINED)]
    if file_rows:
        frames.append(lake.small_frame(spark, file_rows, schemas.QUARANTINE))
    if not frames:
        return None
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out.hint("rebalance")  # a few files, not one per source and partition of the batch


def expectation_rows(
    run_id: str,
    batch_id: str,
    recorded_at: str,
    layer: str,
    dataset: str,
    rules,
    outcome: expectations.Outcome,
    extra: Sequence[tuple[str, str, str, int]] = (),
) -> list[tuple]:
    base = (run_id, batch_id, layer, dataset)
    rows = [
        (*base, r.name, r.expr, r.action, outcome.failed_count(r.name), outcome.rows, recorded_at)
        for r in rules
    ]
    rows += [(*base, n, e, a, c, outcome.rows, recorded_at) for n, e, a, c in extra]
    return rows


def write_plan(spark: SparkSession, config: Config, plan: Plan) -> None:
    rows = [
        (name, f.path, f.size, f.modified_at, plan.batch_id, plan.version, plan.run_id, plan.ingested_at)
        for name, f in plan.files
    ]
    path = lake.bronze(config, lake.FILES)
    marker = f"{plan.batch_id} {plan.run_id}"
    frame = lake.small_frame(spark, rows, schemas.INGESTED_FILES)
    delta_io.append(frame, path, txn=plan.txn, user_metadata=marker)
    # With a concurrent run, only one plan gets this batch number: Delta skips an append whose txnAppId
    # version is committed already, so only the first plan's commit carries its run. The table's recent
    # commit infos say which (no table scan, no state reconstruction).
    if marker not in delta_io.recent_user_metadata(spark, path, 100):
        raise LakepulseError(
            f"ingest: batch {plan.batch_id} was planned by another run at the same time; run ingest again"
        )


def run_batch(spark: SparkSession, config: Config, plan: Plan, resumed: bool) -> list[Audit]:
    """Classifies and commits one batch (see the module docstring); returns one audit per source."""
    started_at = now_text()
    results: list[Classified] = []
    try:

        def classify_one(name: str) -> None:
            results.append(classify(spark, config, SOURCES[name], plan))  # unpersisted below, even on failure

        threads.run_concurrently([functools.partial(classify_one, name) for name in plan.sources()], "ingest")
        order = list(SOURCES)
        results.sort(key=lambda c: order.index(c.source.name))
        if not resumed:
            write_plan(spark, config, plan)
        fault_point("plan")

        def write_bronze(c: Classified) -> None:
            source = c.source
            path = lake.bronze(config, source.name)
            partition_by = [source.partition_column] if source.partition_column else []
            if c.counts.get(LOADED):
                # Each task writes its lines' days: a file per day and task, no shuffle of the whole batch
                # (landing files are per day, so a task's lines span a few days); unpartitioned tables get
                # files of the advisory size.
                frame = _bronze_frame(c)
                frame = frame if partition_by else frame.hint("rebalance")
                properties = lake.BRONZE_TABLE_PROPERTIES
                delta_io.append(
                    frame, path, partition_by, txn=plan.txn, merge_schema=True, properties=properties
                )
            else:  # refine reads every source's bronze table, even when no record has been loaded yet
                lake.ensure_table(
                    spark, path, source.bronze_schema, partition_by, lake.BRONZE_TABLE_PROPERTIES
                )
            fault_point(f"bronze:{source.name}")

        def write_quarantine() -> None:
            quarantine = _quarantine_frame(spark, plan, results)
            path, properties = lake.bronze(config, lake.QUARANTINE), lake.QUARANTINE_TABLE_PROPERTIES
            if quarantine is not None:
                delta_io.append(quarantine, path, txn=plan.txn, properties=properties)
            else:  # readers (and the right to erasure) expect the table, even while it is empty
                lake.ensure_table(spark, path, schemas.QUARANTINE, properties=properties)
            fault_point("quarantine")

        def write_expectation_results() -> None:
            results_rows = []
            for c in results:
                keys = ", ".join(c.source.primary_key)
                dedupe = c.counts.get(DUPLICATE, 0)
                unique = (
                    [(f"unique:{keys}", f"primary key ({keys}) unique", "dedupe", dedupe)] if keys else []
                )
                results_rows += expectation_rows(
                    plan.run_id,
                    plan.batch_id,
                    plan.ingested_at,
                    "bronze",
                    c.source.name,
                    c.rules,
                    c.outcome,
                    unique,
                )
            path = lake.bronze(config, lake.EXPECTATION_RESULTS)
            delta_io.append(
                lake.small_frame(spark, results_rows, schemas.EXPECTATION_RESULTS), path, txn=plan.txn
            )
            fault_point("expectations")

        # Step 3: different tables, each write idempotent; the audit (step 4) only once all are committed.
        writes = [functools.partial(write_bronze, c) for c in results]
        threads.run_concurrently([*writes, write_quarantine, write_expectation_results], "ingest")

        audits = [c.audit(plan) for c in results]
        finished_at = now_text()
        rows = [
            (plan.run_id, a.source, a.batch_id, plan.mode, a.files_read, a.corrupt_files, a.records_read, a.loaded,
             a.quarantined, a.duplicates_dropped, started_at, finished_at)
            for a in audits
        ]  # fmt: skip
        delta_io.append(
            lake.small_frame(spark, rows, schemas.INGEST_AUDIT), lake.bronze(config, lake.AUDIT), txn=plan.txn
        )
        fault_point("audit")
        return audits
    finally:
        for c in results:
            c.unpersist()
