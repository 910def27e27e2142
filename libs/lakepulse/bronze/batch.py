"""One ingestion batch: new files of one or more sources, classified record by record, committed once.

Classification (`bronze.classify`) is read-only and deterministic; this module commits its results.

Commit protocol, so that a process killed at any point and restarted ends with the same tables as an
uninterrupted run. Every write carries Delta's idempotent-write options txnAppId=`ingest` and
txnVersion=the batch number, so each table applies a batch's write at most once:
1. classify every source; a broken `fail` rule stops here, before anything is written;
2. plan: append the batch's files to _ops/_ingested_files, then read the plan back (a concurrent run
   that took the same batch number is detected, not silently merged);
3. append bronze/<source> for each source, then bronze/quarantine and _ops/expectation_results;
4. append _ops/ingest_audit, one row per source: the commit marker.
A restarted run first completes every planned batch that has no audit row, with the planned files,
run id and ingestion time. Deduplication ignores the batch's own bronze rows, so the retry classifies
exactly as the first attempt did, and Delta skips the writes that attempt had already committed.

Shared tables get one write per batch, not one per source: on a busy cluster each commit costs. A
batch's independent work (the sources' classifications, then the writes of step 3) runs from a few
driver threads at once.
"""

from __future__ import annotations

import functools
import json
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.bronze import erased, parse
from lakepulse.bronze.classify import DUPLICATE, LOADED, QUARANTINED, Classified, classify, valid
from lakepulse.bronze.plan import Audit, Plan
from lakepulse.config import Config
from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import SOURCES
from lakepulse.errors import LakepulseError
from lakepulse.ops import lake, runs
from lakepulse.runtime import delta_io, threads

log = logging.getLogger("lakepulse.bronze")


def _bronze_frame(c: Classified) -> DataFrame:
    source = c.source
    columns = [F.col(f.name) for f in schemas.BRONZE_METADATA.fields]
    if source.partition_column:
        columns.append(F.col(source.partition_column))
    columns.append(F.col("raw"))
    columns += [F.col(parse.string_col(n)).alias(n) for n in source.field_names]
    return c.loaded_rows().select(*columns)


def _quarantined_records(c: Classified) -> DataFrame:
    return c.frame.where(~valid()).select(
        F.lit(c.source.name).alias("source"),
        F.lit("ingest").alias("stage"),
        F.col(expectations.REASON).alias("reason"),
        # An erased customer's re-sent record is counted, never kept (bronze.erased).
        F.when(F.col(expectations.REASON) != F.lit(erased.REASON), F.col("raw")).alias("raw"),
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


def write_plan(spark: SparkSession, config: Config, plan: Plan) -> None:
    rows = [
        (name, f.path, f.size, f.modified_at, plan.batch_id, plan.version, plan.run_id, plan.ingested_at,
         f.rel_path, f.fingerprint, f.outcome, f.same_as)
        for name, f in plan.files
    ]  # fmt: skip
    path = lake.ops(config, lake.FILES)
    marker = f"{plan.batch_id} {plan.run_id}"
    if plan.newest:
        marker += " " + json.dumps({"newest": dict(plan.newest)}, sort_keys=True)
    frame = lake.small_frame(spark, rows, schemas.INGESTED_FILES)
    delta_io.append(frame, path, txn=plan.txn, user_metadata=marker)
    # With a concurrent run, only one plan gets this batch number: Delta skips an append whose txnAppId
    # version is committed already, so only the first plan's commit carries its run. The table's recent
    # commit infos say which (no table scan, no state reconstruction).
    if marker not in delta_io.recent_user_metadata(spark, path, 100):
        raise LakepulseError(
            f"ingest: batch {plan.batch_id} was planned by another run at the same time; run ingest again"
        )


def _classify_all(spark: SparkSession, config: Config, plan: Plan, results: list[Classified]) -> None:
    """Every source of the batch classified from a few driver threads, into `results` in SOURCES order
    (the caller unpersists them, even when one source fails)."""

    def classify_one(name: str) -> None:
        results.append(classify(spark, config, SOURCES[name], plan))

    threads.run_concurrently([functools.partial(classify_one, name) for name in plan.sources()], "ingest")
    order = list(SOURCES)
    results.sort(key=lambda c: order.index(c.source.name))


def _write_bronze(spark: SparkSession, config: Config, plan: Plan, c: Classified) -> None:
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
        delta_io.append(frame, path, partition_by, txn=plan.txn, merge_schema=True, properties=properties)
    else:  # refine reads every source's bronze table, even when no record has been loaded yet
        lake.ensure_table(spark, path, source.bronze_schema, partition_by, lake.BRONZE_TABLE_PROPERTIES)


def _write_quarantine(spark: SparkSession, config: Config, plan: Plan, results: list[Classified]) -> None:
    quarantine = _quarantine_frame(spark, plan, results)
    path, properties = lake.bronze(config, lake.QUARANTINE), lake.QUARANTINE_TABLE_PROPERTIES
    if quarantine is not None:
        delta_io.append(quarantine, path, txn=plan.txn, properties=properties)
    else:  # readers (and the right to erasure) expect the table, even while it is empty
        lake.ensure_table(spark, path, schemas.QUARANTINE, properties=properties)


def _write_expectation_results(
    spark: SparkSession, config: Config, plan: Plan, results: list[Classified]
) -> None:
    rows = []
    for c in results:
        keys = ", ".join(c.source.primary_key)
        dedupe = c.counts.get(DUPLICATE, 0)
        unique = [(f"unique:{keys}", f"primary key ({keys}) unique", "dedupe", dedupe)] if keys else []
        rows += lake.expectation_rows(
            plan.run_id, plan.batch_id, plan.ingested_at, "bronze", c.source.name, c.rules, c.outcome, unique
        )
    path = lake.ops(config, lake.EXPECTATION_RESULTS)
    delta_io.append(lake.small_frame(spark, rows, schemas.EXPECTATION_RESULTS), path, txn=plan.txn)


def _write_audit(
    spark: SparkSession, config: Config, plan: Plan, audits: list[Audit], started_at: str
) -> None:
    finished_at = runs.now_text()
    rows = [
        (plan.run_id, a.source, a.batch_id, plan.mode, a.files_read, a.corrupt_files, a.records_read, a.loaded,
         a.quarantined, a.duplicates_dropped, started_at, finished_at, a.duplicate_files, a.new_versions)
        for a in audits
    ]  # fmt: skip
    # mergeSchema: an audit table from before the file counts gets their columns (null in its old rows).
    frame = lake.small_frame(spark, rows, schemas.INGEST_AUDIT)
    delta_io.append(frame, lake.ops(config, lake.AUDIT), txn=plan.txn, merge_schema=True)


def run_batch(spark: SparkSession, config: Config, plan: Plan, resumed: bool) -> list[Audit]:
    """Classifies and commits one batch (see the module docstring); returns one audit per source."""
    started_at = runs.now_text()
    results: list[Classified] = []
    try:
        _classify_all(spark, config, plan, results)
        if not resumed:
            write_plan(spark, config, plan)
        # Step 3: different tables, each write idempotent; the audit (step 4) only once all are committed.
        writes = [functools.partial(_write_bronze, spark, config, plan, c) for c in results]
        writes.append(functools.partial(_write_quarantine, spark, config, plan, results))
        writes.append(functools.partial(_write_expectation_results, spark, config, plan, results))
        threads.run_concurrently(writes, "ingest")
        audits = [c.audit(plan) for c in results]
        _write_audit(spark, config, plan, audits, started_at)
        return audits
    finally:
        for c in results:
            c.unpersist()
