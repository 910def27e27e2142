"""Runs ingestion for the requested sources, as a bounded batch or as Structured Streaming.

Both modes hand files to one batch routine (`lakepulse.bronze.batch.run_batch`) and share one
bookkeeping table (_ops/_ingested_files), so quarantine, audit and expectations behave the same, and
a file ingested by one mode is never ingested again by the other.

The stream reads the landing folder with the binaryFile source selecting metadata only: Structured
Streaming discovers new files and checkpoints its progress, and each micro-batch hands its files to
the batch routine. Reading the records inside the micro-batch (rather than streaming the text source)
is what lets a truncated gzip file be quarantined as a whole: a text stream would fail on it, or with
ignoreCorruptFiles keep its first lines and silently drop the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, replace

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.bronze import batch, identity
from lakepulse.bronze import files as landing
from lakepulse.bronze.plan import Audit, Plan
from lakepulse.config import Config
from lakepulse.contracts import schemas
from lakepulse.contracts.sources import SOURCES, Source, source
from lakepulse.errors import UsageError
from lakepulse.ops import lake, runs
from lakepulse.runtime import delta_io, paths, streams

log = logging.getLogger("lakepulse.bronze")
TABLE_SCHEMAS = {lake.FILES: schemas.INGESTED_FILES, lake.AUDIT: schemas.INGEST_AUDIT}


@dataclass(frozen=True)
class Request:
    """What to read: every source's landing folder, one source's, or one source from another path."""

    sources: tuple[Source, ...]
    root: str  # the folder (or file) listed: the landing root, a source's folder, or --path
    single: str | None  # the source every listed file belongs to; None: the file's first folder says
    checkpoint: str

    def source_of(self, path: str, landing_root: str) -> str | None:
        if self.single is not None:
            return self.single
        root = paths.local_path(landing_root).rstrip("/") + "/"
        rel = paths.local_path(path)
        if not rel.startswith(root):
            return None
        name = rel[len(root) :].split("/", 1)[0]
        return name if name in SOURCES else None


def _check_not_another_source(config: Config, name: str, given: str, root: str) -> None:
    """Refuses a --path inside another source's landing folder, or one holding the whole landing root:
    its files would be booked as `name`'s and rejected (or worse, loaded) as its records, for good."""
    landing_root = paths.local_path(config.paths.landing).rstrip("/")
    local = paths.local_path(root).rstrip("/")
    if landing_root == local or landing_root.startswith(local + "/"):
        raise UsageError(
            f"--path {given} holds every source's landing folder; --source {name} reads only {name}"
        )
    everything = Request(tuple(SOURCES.values()), config.paths.landing, None, "ingest/all")
    owner = everything.source_of(root, config.paths.landing)
    if owner is not None and owner != name:
        raise UsageError(
            f"--path {given} is in the landing folder of {owner}, not {name}: its files would be booked as "
            f"{name} records"
        )


def resolve(config: Config, source_name: str | None, path: str | None) -> Request:
    """Validates the request before anything is written: source name, paths, readability."""
    if path is not None and source_name is None:
        raise UsageError("--path needs --source: it replaces the landing folder of one source")
    ingest = config.ingest
    if (
        min(ingest.max_files_per_batch, ingest.max_batch_mb) < 1
        or min(ingest.max_file_age_hours, ingest.settle_seconds) < 0
    ):
        raise UsageError(
            f"ingest.max_files_per_batch {ingest.max_files_per_batch} and ingest.max_batch_mb "
            f"{ingest.max_batch_mb} must be at least 1, ingest.max_file_age_hours {ingest.max_file_age_hours} "
            f"and ingest.settle_seconds {ingest.settle_seconds} at least 0"
        )
    unknown = sorted(set(config.reference.unknown_values) - set(SOURCES))
    if unknown:
        raise UsageError(
            f"reference.unknown_values: unknown source {unknown[0]!r} (sources: {', '.join(SOURCES)})"
        )
    if path is not None:
        s = source(source_name)
        root = path if "://" in path or path.startswith("file:") else os.path.abspath(path)
        landing.check_readable(root, f"--path for {s.name}")
        _check_not_another_source(config, s.name, path, root)
        digest = hashlib.sha1(root.encode("utf-8")).hexdigest()[:10]
        return Request((s,), root, s.name, f"ingest/{s.name}-{digest}")
    if source_name is not None:
        s = source(source_name)
        root = config.landing_path(s.name)
        landing.check_readable(root, f"landing folder of {s.name}")
        return Request((s,), root, s.name, f"ingest/{s.name}")
    for s in SOURCES.values():
        landing.check_readable(config.landing_path(s.name), f"landing folder of {s.name}")
    return Request(tuple(SOURCES.values()), config.paths.landing, None, "ingest/all")


def _read(spark: SparkSession, config: Config, table: str) -> DataFrame:
    """A bookkeeping table, or an empty frame of its schema before the first ingestion created it."""
    path = lake.ops(config, table)
    if not delta_io.is_delta(spark, path):
        return spark.createDataFrame([], TABLE_SCHEMAS[table])
    return delta_io.read_delta(spark, path)


# A run completes every interrupted batch before it plans a new one, so an unaudited plan can only be
# among the newest few; RECENT_PLANS of them are checked (more than concurrent runs ever leave behind).
RECENT_PLANS = 16
PLAN_MARKER = re.compile(r"^ingest-(\d{8}) ")


@dataclass(frozen=True)
class Bookkeeping:
    """What ingestion needs to know of its past, read from the newest plans only (never all of history).

    `last_version` is the newest planned batch number (-1 before the first); `pending` the plans without an
    audit row; `newest` per source the latest modification time of its booked files (UTC text), the
    reference point of `ingest.max_file_age_hours` for that source's files. A source absent from it has
    no booked file (or none known): all its listed files are looked up.
    """

    last_version: int
    pending: tuple[Plan, ...]
    newest: dict[str, str]


def last_plan_marker(spark: SparkSession, config: Config) -> tuple[int, dict[str, str]] | None:
    """The newest planned batch number and the per-source newest file times its commit carries (empty
    for plans written before they did), from the plan commits' user metadata (`write_plan`).

    Reads the last commits of the bookkeeping table only; None when none of them is a plan (a table
    written by an older lakepulse, or maintained more than 100 times since its last plan).
    """
    path = lake.ops(config, lake.FILES)
    found = []
    for text in delta_io.recent_user_metadata(spark, path, 100):
        m = PLAN_MARKER.match(text)
        if m:
            extra = text.split(" ", 2)[2] if text.count(" ") >= 2 else ""
            newest = json.loads(extra).get("newest", {}) if extra.startswith("{") else {}
            found.append((int(m.group(1)), newest))
    return max(found, default=None, key=lambda item: item[0])


def last_planned_version(spark: SparkSession, config: Config) -> int | None:
    marker = last_plan_marker(spark, config)
    return None if marker is None else marker[0]


def bookkeeping(spark: SparkSession, config: Config, mode: str) -> Bookkeeping:
    """Recent plans and their audit rows, read through Delta's file skipping on the batch columns."""
    marker = last_plan_marker(spark, config)
    last, carried = marker if marker is not None else (None, {})
    if last is None:  # one full read, as before plans carried their number in the commit
        row = _read(spark, config, lake.FILES).agg(F.max("txn_version").alias("v")).first()
        last = -1 if row["v"] is None else int(row["v"])
    first = max(0, last - RECENT_PLANS + 1)
    planned = _read(spark, config, lake.FILES).where(F.col("txn_version") >= first)
    audited = (
        _read(spark, config, lake.AUDIT)
        .where(F.col("batch_id") >= F.lit(runs.make_batch_id(first)))
        .select("batch_id")
        .distinct()
    )
    rows = (
        planned.join(audited.select("batch_id", F.lit(True).alias("_audited")), on="batch_id", how="left")
        .select(
            "source",
            "batch_id",
            "txn_version",
            "run_id",
            F.date_format("ingested_at", landing.TIMESTAMP_TEXT).alias("ingested_at"),
            "path",
            "size",
            F.date_format("modified_at", landing.TIMESTAMP_TEXT).alias("modified_at"),
            *landing.IDENTITY_FIELDS,
            F.coalesce(F.col("_audited"), F.lit(False)).alias("audited"),
        )
        .collect()
    )  # the files of the last RECENT_PLANS batches only: metadata, bounded by the batch size
    grouped: dict[int, list] = {}
    for r in rows:
        if not r["audited"]:
            grouped.setdefault(int(r["txn_version"]), []).append(r)
    plans = []
    for version, group in sorted(grouped.items()):
        files = tuple((r["source"], f) for r in group for f in landing.to_files([r]))
        plans.append(Plan(version, files, group[0]["run_id"], group[0]["ingested_at"], mode))
    return Bookkeeping(
        last, tuple(plans), merge_newest(carried, ((r["source"], r["modified_at"]) for r in rows))
    )


def merge_newest(newest: dict[str, str], files) -> dict[str, str]:
    """`newest` with the (source, modification time text) pairs of `files` folded in (latest wins)."""
    out = dict(newest)
    for source_name, modified_at in files:
        if modified_at > out.get(source_name, ""):
            out[source_name] = modified_at
    return out


def _within_horizon(config: Config, request: Request, newest: dict[str, str], hours: int):
    """A filter on listed files: modified no more than `hours` before their own source's newest booked
    file. A source with no booked file keeps every listed file (its first ingestion reads them all)."""
    age = F.expr(f"INTERVAL {int(hours)} HOURS")
    modified = F.col("modified_at").cast("timestamp")
    if request.single is not None:
        known = newest.get(request.single)
        if known is None or request.root != config.landing_path(request.single):
            return None  # a --path names its files: they are looked up whatever their age
        return modified >= F.lit(known).cast("timestamp") - age
    root = re.escape(paths.local_path(config.paths.landing).rstrip("/"))
    source_of = F.regexp_extract(F.col("path"), rf"{root}/([^/]+)/", 1)
    cutoff = None
    for name, known in sorted(newest.items()):
        limit = F.lit(known).cast("timestamp") - age
        cutoff = F.when(source_of == name, limit) if cutoff is None else cutoff.when(source_of == name, limit)
    return None if cutoff is None else F.coalesce(modified >= cutoff, F.lit(True))


def _new_files(
    spark: SparkSession,
    config: Config,
    request: Request,
    candidates: DataFrame,
    known: Bookkeeping | None,
    full_check: bool,
    mode: str,
) -> list[tuple[str, landing.LandingFile]]:
    """The candidates to plan (source, file with its identity and outcome: `lakepulse.bronze.identity`),
    oldest first; `known` is None before the first ingestion.

    In batch mode the listing holds every file ever landed, so with a horizon
    (ingest.max_file_age_hours > 0, no full check) a listed file modified more than that before the
    newest booked file counts as ingested, as Spark's file stream does with maxFileAge. The others are
    looked up among the bookings of their relative paths' range and of files as recent as the oldest
    candidate (`identity.booked`): bounded by the candidates, not by history.
    """
    hours = config.ingest.max_file_age_hours
    horizon = None
    if known is not None and hours > 0 and not full_check:
        horizon = _within_horizon(config, request, known.newest, hours)
    if horizon is not None:
        candidates = candidates.where(horizon)
    listed = []
    for f in sorted(landing.to_files(candidates.collect()), key=lambda f: (f.modified_at, f.path)):
        name = request.source_of(f.path, config.paths.landing)
        if name is None:
            log.warning("ignoring %s: not under a source's landing folder", f.path)
            continue
        base = config.landing_path(name) if request.single is None else request.root
        rel = identity.relative_path(f.path, base) or f.path.rsplit("/", 1)[-1]  # --path FILE: its name
        listed.append((name, replace(f, rel_path=rel)))
    if not listed:
        return []
    bookings = [] if known is None else identity.booked(_read(spark, config, lake.FILES), listed)
    settle = config.ingest.settle_seconds if mode == "batch" else 0
    return identity.decide(spark, listed, bookings, settle)


def bounded_batches(
    files: list[tuple[str, landing.LandingFile]], max_files: int, max_bytes: int
) -> list[list]:
    """`files` in order, cut into consecutive batches of at most `max_files` files and `max_bytes` bytes;
    a file larger than `max_bytes` alone is a batch of its own (it cannot be split)."""
    batches: list[list] = []
    size = 0
    for item in files:
        weight = item[1].size if item[1].read else 0  # a file booked unread costs the batch nothing
        if not batches or len(batches[-1]) >= max_files or (batches[-1] and size + weight > max_bytes):
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += weight
    return batches


def ingest_files(
    spark: SparkSession,
    config: Config,
    request: Request,
    candidates: DataFrame,
    run_id: str,
    mode: str,
    full_check: bool = False,
) -> list[Audit]:
    """Finishes interrupted batches, then ingests the candidate files not booked yet.

    New files go oldest first into batches bounded by `ingest.max_files_per_batch` files and
    `ingest.max_batch_mb` megabytes, each committed on its own (a stream's micro-batch is already capped
    by maxFilesPerTrigger).
    """
    audits = []
    # Before the first ingestion there is no bookkeeping to read: no interrupted batch, no booked file.
    path = lake.ops(config, lake.FILES)
    first = not delta_io.is_delta(spark, path)
    if not first:
        identity.migrate(spark, path)
    known = Bookkeeping(-1, (), {}) if first else bookkeeping(spark, config, mode)
    for plan in known.pending:
        log.info("resuming interrupted batch %s (%d files)", plan.batch_id, len(plan.files))
        audits += batch.run_batch(spark, config, plan, resumed=True)
    files = _new_files(spark, config, request, candidates, None if first else known, full_check, mode)
    if not files:
        log.info("no new files")
        return audits
    cap, mb = config.ingest.max_files_per_batch, config.ingest.max_batch_mb
    chunks = bounded_batches(files, cap, mb * 1_000_000)
    if len(chunks) > 1:
        log.info("%d new files in %d batches of at most %d files or %d MB", len(files), len(chunks), cap, mb)
    newest = known.newest
    for number, chunk in enumerate(chunks, start=known.last_version + 1):
        newest = merge_newest(newest, ((name, f.modified_at) for name, f in chunk))
        plan = Plan(number, tuple(chunk), run_id, runs.now_text(), mode, tuple(sorted(newest.items())))
        new = batch.run_batch(spark, config, plan, resumed=False)
        for a in new:
            log.info(
                "%s: batch %s: %d file(s) (%d corrupt, %d new versions; %d duplicate files unread), "
                "%d read = %d loaded + %d quarantined + %d duplicates",
                a.source,
                a.batch_id,
                a.files_read,
                a.corrupt_files,
                a.new_versions,
                a.duplicate_files,
                a.records_read,
                a.loaded,
                a.quarantined,
                a.duplicates_dropped,
            )
        audits += new
    return audits


def run_batch_mode(
    spark: SparkSession, config: Config, request: Request, run_id: str, full_check: bool = False
) -> list[Audit]:
    listing = landing.listing(spark, request.root)
    return ingest_files(spark, config, request, listing, run_id, "batch", full_check)


def _file_stream(spark: SparkSession, config: Config, request: Request) -> DataFrame:
    reader = (
        spark.readStream.format("binaryFile")
        .schema(landing.BINARY_FILE_SCHEMA)
        .option("maxFilesPerTrigger", config.ingest.max_files_per_trigger)
    )
    root = request.root
    if paths.is_local(root) and os.path.isfile(paths.local_path(root)):
        # The file source streams folders: one file is its folder filtered to that name.
        folder, name = os.path.split(paths.local_path(root))
        stream = reader.option("pathGlobFilter", name).load(folder)
    else:
        stream = reader.option("recursiveFileLookup", "true").load(root)
    return stream.select(*landing.metadata_columns()).where(landing.visible(F.col("path")))


def run_stream_mode(
    spark: SparkSession, config: Config, request: Request, run_id: str, trigger_interval: str | None
) -> None:
    """availableNow (the default) ends once the files present are ingested; an interval runs until stopped."""

    def handle(files: DataFrame, epoch: int) -> None:
        log.info("micro-batch %d", epoch)
        ingest_files(spark, config, request, files, run_id, "stream")

    streams.run_foreach_batch(
        _file_stream(spark, config, request),
        name=request.checkpoint.replace("/", "_").replace("-", "_"),
        checkpoint=config.checkpoint_path(request.checkpoint),
        handle=handle,
        trigger_interval=trigger_interval,
        what="streaming ingestion",
    )
