"""Runs ingestion for the requested sources, as a bounded batch or as Structured Streaming.

Both modes hand files to one batch routine (`lakepulse.ingest.batch.run_batch`) and share one
bookkeeping table (bronze/_ingested_files), so quarantine, audit and expectations behave the same, and
a file ingested by one mode is never ingested again by the other.

The stream reads the landing folder with the binaryFile source selecting metadata only: Structured
Streaming discovers new files and checkpoints its progress, and each micro-batch hands its files to
the batch routine. Reading the records inside the micro-batch (rather than streaming the text source)
is what lets a truncated gzip file be quarantined as a whole: a text stream would fail on it, or with
ignoreCorruptFiles keep its first lines and silently drop the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import uuid
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse import delta_io, schemas
from lakepulse.config import Config
from lakepulse.errors import LakepulseError, UsageError
from lakepulse.ingest import batch, lake
from lakepulse.ingest import files as landing
from lakepulse.ingest.sources import SOURCES, Source, source

log = logging.getLogger("lakepulse.ingest")
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
        root = landing.local_path(landing_root).rstrip("/") + "/"
        rel = landing.local_path(path)
        if not rel.startswith(root):
            return None
        name = rel[len(root) :].split("/", 1)[0]
        return name if name in SOURCES else None


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def resolve(config: Config, source_name: str | None, path: str | None) -> Request:
    """Validates the request before anything is written: source name, paths, readability."""
    if path is not None and source_name is None:
        raise UsageError("--path needs --source: it replaces the landing folder of one source")
    if path is not None:
        s = source(source_name)
        root = path if "://" in path or path.startswith("file:") else os.path.abspath(path)
        landing.check_readable(root, f"--path for {s.name}")
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
    path = lake.bronze(config, table)
    if not delta_io.is_delta(spark, path):
        return spark.createDataFrame([], TABLE_SCHEMAS[table])
    return delta_io.read_delta(spark, path)


def incomplete_plans(spark: SparkSession, config: Config, mode: str) -> list[batch.Plan]:
    """Batches planned (files booked) but without an audit row: a run stopped midway."""
    audited = _read(spark, config, lake.AUDIT).select("batch_id").distinct()
    pending = _read(spark, config, lake.FILES).join(audited, on="batch_id", how="left_anti")
    rows = pending.select(
        "source",
        "batch_id",
        "txn_version",
        "run_id",
        F.date_format("ingested_at", landing.TIMESTAMP_TEXT).alias("ingested_at"),
        "path",
        "size",
        F.date_format("modified_at", landing.TIMESTAMP_TEXT).alias("modified_at"),
    ).collect()  # files of unfinished batches only: metadata, bounded
    grouped: dict[int, list] = {}
    for r in rows:
        grouped.setdefault(int(r["txn_version"]), []).append(r)
    plans = []
    for version, group in sorted(grouped.items()):
        files = tuple((r["source"], f) for r in group for f in landing.to_files([r]))
        plans.append(batch.Plan(version, files, group[0]["run_id"], group[0]["ingested_at"], mode))
    return plans


def next_version(spark: SparkSession, config: Config) -> int:
    row = _read(spark, config, lake.FILES).agg(F.max("txn_version").alias("v")).first()
    return 0 if row["v"] is None else int(row["v"]) + 1


def ingest_files(
    spark: SparkSession, config: Config, request: Request, candidates: DataFrame, run_id: str, mode: str
) -> list[batch.Audit]:
    """Finishes interrupted batches, then ingests the candidate files not booked yet as one batch."""
    audits = []
    # Before the first ingestion there is no bookkeeping to read: no interrupted batch, no booked file.
    first = not delta_io.is_delta(spark, lake.bronze(config, lake.FILES))
    for plan in [] if first else incomplete_plans(spark, config, mode):
        log.info("resuming interrupted batch %s (%d files)", plan.batch_id, len(plan.files))
        audits += batch.run_batch(spark, config, plan, resumed=True)
    if not first:
        candidates = candidates.join(
            _read(spark, config, lake.FILES).select("path"), on="path", how="left_anti"
        )
    fresh = landing.to_files(candidates.collect())  # new files only: metadata
    files = []
    for f in fresh:
        name = request.source_of(f.path, config.paths.landing)
        if name is None:
            log.warning("ignoring %s: not under a source's landing folder", f.path)
        else:
            files.append((name, f))
    if not files:
        log.info("no new files")
        return audits
    version = 0 if first else next_version(spark, config)
    plan = batch.Plan(version, tuple(files), run_id, batch.now_text(), mode)
    new = batch.run_batch(spark, config, plan, resumed=False)
    for a in new:
        log.info(
            "%s: batch %s: %d file(s) (%d corrupt), %d read = %d loaded + %d quarantined + %d duplicates",
            a.source,
            a.batch_id,
            a.files_read,
            a.corrupt_files,
            a.records_read,
            a.loaded,
            a.quarantined,
            a.duplicates_dropped,
        )
    return audits + new


def run_batch_mode(spark: SparkSession, config: Config, request: Request, run_id: str) -> list[batch.Audit]:
    return ingest_files(spark, config, request, landing.listing(spark, request.root), run_id, "batch")


def _file_stream(spark: SparkSession, config: Config, request: Request) -> DataFrame:
    reader = (
        spark.readStream.format("binaryFile")
        .schema(landing.BINARY_FILE_SCHEMA)
        .option("maxFilesPerTrigger", config.ingest.max_files_per_trigger)
    )
    root = request.root
    if landing.is_local(root) and os.path.isfile(landing.local_path(root)):
        # The file source streams folders: one file is its folder filtered to that name.
        folder, name = os.path.split(landing.local_path(root))
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

    writer = (
        _file_stream(spark, config, request)
        .writeStream.queryName(request.checkpoint.replace("/", "_").replace("-", "_"))
        .foreachBatch(handle)
        .option("checkpointLocation", config.checkpoint_path(request.checkpoint))
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
        raise LakepulseError(f"streaming ingestion failed: {first}") from exc
    finally:
        if query.isActive:
            query.stop()
