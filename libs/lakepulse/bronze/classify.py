"""Classification of one source's lines in a batch (read-only, deterministic).

Every line becomes exactly one of loaded, quarantined (the first rule it breaks names the reason) or
duplicate (its primary key already seen in this batch, first in (source_file, raw) order, or already in
bronze). A compressed file that cannot be read to its end is quarantined as a file (`corrupt_file`), as
is a CSV file whose header lacks a declared column (`bad_header`) or names one twice
(`duplicate_header`); the batch goes on without them.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakepulse.bronze import erased, parse
from lakepulse.bronze import files as landing
from lakepulse.bronze.plan import Audit, Plan
from lakepulse.config import Config
from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import Source
from lakepulse.errors import LakepulseError
from lakepulse.ops import lake
from lakepulse.runtime import delta_io

log = logging.getLogger("lakepulse.bronze")

LOADED, QUARANTINED, DUPLICATE = "loaded", "quarantined", "duplicate"
# Reasons of a CSV file quarantined as a whole: its header lacks a declared field, or names one twice.
BAD_HEADER, DUPLICATE_HEADER = "bad_header", "duplicate_header"
_PATH_FIELD = re.compile(r"/([A-Za-z_][A-Za-z0-9_]*)=([^/]+)/")


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
        rows = self.frame.where(valid() & ~F.col("_dup_in_batch"))
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
            duplicate_files=plan.count_of(self.source.name, landing.DUPLICATE_FILE),
            new_versions=plan.count_of(self.source.name, landing.NEW_VERSION),
        )


def _path_fields(path: str) -> set[str]:
    return {m.group(1) for m in _PATH_FIELD.finditer(path)}


def _csv_groups(spark: SparkSession, config: Config, source: Source, files: Sequence[landing.LandingFile]):
    """Files grouped by header (and by which declared fields come from Hive-style `name=value` folders)."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[landing.LandingFile]] = {}
    texts: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = {}
    problems = []
    for f in files:
        try:
            line = landing.first_line(spark, f.path, config.ingest.max_line_bytes)
        except Exception:  # noqa: BLE001 - a file whose first line cannot be read is corrupt
            problems.append(FileProblem(f, "corrupt_file"))
            continue
        if line is None:
            continue  # an empty file holds no record
        header = tuple(next(csv.reader([line])))
        from_path = tuple(n for n in source.field_names if n not in header and n in _path_fields(f.path))
        if not set(source.field_names) <= set(header) | set(from_path):
            problems.append(FileProblem(f, BAD_HEADER))
            continue
        if any(header.count(name) > 1 for name in source.field_names):
            problems.append(FileProblem(f, DUPLICATE_HEADER))  # which of the columns holds the field?
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
        raw = landing.read_lines(spark, list(group), config.ingest.max_line_bytes).select("*", *constants)
        return parse.with_helpers(raw, config.ingest.late_window_days, config.ingest.future_tolerance_minutes)

    if source.format != "csv":
        if not readable:
            return None, []
        lines = lines_of(readable)
        parser = parse.parse_json if source.format == "json" else parse.parse_access_log
        return parser(source, lines), []
    groups, texts, problems = _csv_groups(spark, config, source, readable)
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


def valid() -> Column:
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
        frame.where(valid())
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
    first = Window.partitionBy(valid(), *keys).orderBy(F.col("source_file").asc(), F.col("raw").asc())
    later = valid() & (F.row_number().over(first) > F.lit(1))
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


@dataclass
class _Counted:
    """The persisted validation frame of the readable files, its rule outcome and the one-row aggregate."""

    flagged: DataFrame | None
    outcome: expectations.Outcome
    row: dict
    problems: list[FileProblem]


def _count_readable(
    spark: SparkSession,
    config: Config,
    source: Source,
    plan: Plan,
    rules,
    files: list[landing.LandingFile],
    refuse: Callable[[DataFrame], DataFrame] | None = None,
) -> _Counted:
    """Reads the readable files once (one aggregation over the persisted frame), setting aside as
    corrupt any file that cannot be read to its end, and retrying without it."""
    limit = config.ingest.max_line_bytes
    corrupt, oversized = landing.corrupt_files(spark, files, limit)
    problems = [FileProblem(f, "corrupt_file") for f in corrupt]
    if problems:
        log.warning(
            "%s: corrupt file(s) quarantined: %s", source.name, ", ".join(p.file.path for p in problems)
        )
    readable = [f for f in files if all(p.file != f for p in problems)]
    # Their other lines load; the file's quarantine row says a line was skipped.
    oversized += landing.oversized_plain_files(spark, readable, limit)
    problems += [FileProblem(f, landing.LINE_TOO_LONG) for f in oversized]
    if oversized:
        log.warning(
            "%s: line(s) of %d bytes or more skipped in: %s",
            source.name,
            limit,
            ", ".join(f.path for f in oversized),
        )
    extra = [F.sum(F.when(~valid(), 1).otherwise(0)).alias("_rejected")]
    if source.partition_column:
        extra.append(F.collect_set(F.when(valid(), F.col(source.partition_column))).alias("_days"))
    while True:
        parsed, file_problems = _parsed(spark, config, source, plan, readable)
        if parsed is None:
            empty = expectations.Outcome({r.name: 0 for r in rules}, 0)
            return _Counted(None, empty, {}, problems + file_problems)
        if refuse is not None:  # erased customers' records (bronze.erased)
            parsed = parsed.transform(refuse)
        flagged = _narrow(source, parsed, rules).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            outcome, row = expectations.count_failures(flagged, rules, extra)  # reads every file
            return _Counted(flagged, outcome, row.asDict(), problems + file_problems)
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


def _duplicates_in_batch(source: Source, counted: _Counted, quarantined: int) -> tuple[DataFrame | None, int]:
    """The persisted repeated keys of the batch (None when there is none) and their extra copies."""
    repeated = _repeated_keys(source, counted.flagged)
    if repeated is None or counted.outcome.rows - quarantined <= 0:
        return None, 0
    repeated = repeated.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # One row: the extra copies of repeated keys.
        dups = int(repeated.agg(F.sum(F.col("_copies") - F.lit(1)).alias("n")).first()["n"] or 0)
    except Exception:
        repeated.unpersist()
        raise
    return repeated, dups


def classify(spark: SparkSession, config: Config, source: Source, plan: Plan) -> Classified:
    """Every line of the source's files in the batch classified and counted; the frames stay persisted
    until the batch is committed (`Classified.unpersist`)."""
    refuse = erased.refusal(spark, config, source)
    rules = ([erased.RULE] if refuse else []) + parse.all_rules(source, config.reference)
    files = plan.files_of(source.name)
    counted = _count_readable(spark, config, source, plan, rules, files, refuse)
    if counted.flagged is None:
        return Classified(source, files, rules, counted.outcome, counted.problems)
    cached = [counted.flagged]
    try:
        expectations.enforce(counted.outcome, rules, f"ingest {source.name}")
        # Counted from the lines; _check_reconciles checks the rules' counts against it.
        quarantined = int(counted.row["_rejected"] or 0)
        repeated, dups = _duplicates_in_batch(source, counted, quarantined)
    except Exception:
        counted.flagged.unpersist()
        raise
    if repeated is not None:
        cached.append(repeated)
    candidates = counted.outcome.rows - quarantined - dups  # valid, first of their key in the batch
    frame = _with_duplicate_flag(source, counted.flagged, repeated if dups else None)
    result = Classified(source, files, rules, counted.outcome, counted.problems, frame, cached=cached)
    days = sorted(counted.row["_days"]) if source.partition_column else []  # a handful of dates
    if candidates:
        result.existing = _existing_keys(spark, config, source, plan, days)
    loaded = candidates
    if result.existing is not None:
        loaded = result.loaded_rows().count()  # narrow: the batch's keys against bronze's
    outcome_rows = counted.outcome.rows
    result.counts = {QUARANTINED: quarantined, LOADED: loaded, DUPLICATE: outcome_rows - quarantined - loaded}
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
