"""Which landing file a listed file *is*: its path relative to its source's landing folder, its size and
a fingerprint of its content, so that a moved or restored home (or a lake on another filesystem) knows
every file it ingested, whatever the absolute path (docs/landing.md, "File identity").

The fingerprint is SHA-256 of the file's whole content, computed by Spark (binaryFile) in the executors
for the files not known by their relative path, size and modification time already, in one job per
plan. It reads those files a second time (the batch's read is the first): on this machine's bench that
is about a tenth of the events' ingest time, and it buys an identity with no blind spot (a sampled
fingerprint misses a same-size edit in the middle of a plain file). Files over BINARY_LIMIT (Spark's cap
on one binaryFile row) are known by relative path, size and modification time only.

A listed file, against the bookings of its source:
- known: a booking with the same relative path, size and modification time: nothing read, not booked;
- unchanged: the same relative path, size and fingerprint with another modification time (a home copied
  without its times): booked again, so later runs know it by its time; its records are not read;
- duplicate_file: the size and fingerprint of a booking (or of an earlier file of this run) under another
  relative path: booked, counted in the audit's `duplicate_files`, its records not read;
- new_version: a booked relative path with other content: read like a new file, counted in
  `new_versions` (a source with a primary key drops the records bronze already holds as duplicates);
- new: anything else.
Bookings from before identities (absolute path only) get their relative path once (`migrate`): the part
after the last folder named like their source; without a fingerprint they match by path and size.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.bronze import files as landing
from lakepulse.runtime import delta_io, paths

log = logging.getLogger("lakepulse.bronze")

IDENTITY_COLUMNS = "rel_path STRING, fingerprint STRING, outcome STRING, same_as STRING"
LEFT = "left"  # changed while it was looked at: left for the next run
SIZE_ONLY = "size-only"  # a file too large to sample: known by relative path, size and time
BINARY_LIMIT = 2_000_000_000  # below Spark's binaryFile cap of 2147483647 bytes per file


def relative_path(path: str, base: str) -> str | None:
    """`path` relative to the folder `base`, or None when it is not under it."""
    folder = paths.local_path(base).rstrip("/") + "/"
    local = paths.local_path(path)
    return local[len(folder) :] if local.startswith(folder) else None


def legacy_rel_path(path: str, source: str) -> str:
    """An old booking's relative path: what follows the last folder named like its source (the whole
    path when there is none: a file read with --path)."""
    return path.rsplit(f"/{source}/", 1)[-1]


LEGACY_REL = "substring_index(path, concat('/', source, '/'), -1)"


def legacy_rel_column() -> Column:
    return F.expr(LEGACY_REL)


def migrate(spark: SparkSession, path: str) -> None:
    """Gives a bookkeeping table from before identities its columns and its old rows their relative path.

    Two commits, once (the table's schema says whether it is done); a crash between them leaves rows
    without a relative path, which the lookup still matches (`booked`), only less cheaply.
    """
    if "rel_path" in delta_io.read_delta(spark, path).columns:
        return
    log.warning("%s: adding file identities (relative path, fingerprint) to the bookings", path)
    spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({IDENTITY_COLUMNS})")
    spark.sql(f"UPDATE delta.`{path}` SET rel_path = {LEGACY_REL} WHERE rel_path IS NULL")


def booked(bookings: DataFrame, listed: list[tuple[str, landing.LandingFile]]) -> list:
    """The bookings a decision on `listed` needs, bounded by the candidates, never by history: those of
    the candidates' relative-path range per source and folder (day folders sort by day, so Delta's
    statistics on `rel_path` skip the bookkeeping files of other days; a late file in an old day's folder
    adds that day, not the days between), and those as recent as the oldest candidate."""
    oldest = min(f.modified_at for _, f in listed)
    keep = [(F.col("modified_at") >= F.lit(oldest).cast("timestamp")) | F.col("rel_path").isNull()]
    ranges: dict[tuple[str, str], tuple[str, str]] = {}
    for name, f in listed:
        folder = f.rel_path.rsplit("/", 1)[0] if "/" in f.rel_path else ""
        low, high = ranges.get((name, folder), (f.rel_path, f.rel_path))
        ranges[(name, folder)] = (min(low, f.rel_path), max(high, f.rel_path))
    for (name, _), (low, high) in sorted(ranges.items()):
        keep.append((F.col("source") == name) & F.col("rel_path").between(low, high))
    columns = ["source", "path", "size", "rel_path", "fingerprint"]
    stamp = F.date_format("modified_at", landing.TIMESTAMP_TEXT).alias("modified_at")
    return (
        bookings.where(any_of(keep)).select(*columns, stamp).collect()
    )  # metadata, bounded by the candidates


def any_of(conditions: list[Column]) -> Column:
    """The OR of `conditions` as a balanced tree. One condition per day folder makes hundreds when a run
    lists a long backfill (120 days x 7 sources on a rerun); chained one after another they nest that
    deep, and Spark's analysis of the filter overflowed the JVM's stack (StackOverflowError)."""
    while len(conditions) > 1:
        pairs = [a | b for a, b in zip(conditions[::2], conditions[1::2], strict=False)]
        conditions = pairs + conditions[len(pairs) * 2 :]
    return conditions[0]


def _epoch_ms(text: str) -> int:
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def fingerprints(spark: SparkSession, files: list[landing.LandingFile]) -> dict[str, str]:
    """SHA-256 of each file's content by path, in one Spark job; LEFT for a file whose size or time differ
    from its listing meanwhile (or that is gone).

    Spark's binaryFile source hands each file's content to the hash in the executors, through the same
    Hadoop filesystems as the read, on a classic session and over Spark Connect alike (no driver JVM);
    only the digests reach the driver.
    """
    small = [f for f in files if f.size <= BINARY_LIMIT]
    out = {f.path: SIZE_ONLY for f in files if f.size > BINARY_LIMIT}
    if not small:
        return out
    rows = (
        spark.read.format("binaryFile")
        .load([f.path for f in small])
        .select(*landing.metadata_columns(), F.sha2(F.col("content"), 256).alias("fingerprint"))
        .collect()  # one short row per file of the plan
    )
    seen = {r["path"]: r for r in rows}
    for f in small:
        r = seen.get(f.path)
        same = r is not None and int(r["size"]) == f.size and r["modified_at"] == f.modified_at
        out[f.path] = r["fingerprint"] if same else LEFT
    return out


def _settle(files: list[landing.LandingFile], seconds: int) -> None:
    """Waits until every file was last modified at least `seconds` ago (a file written meanwhile then
    shows another size or time than listed, and is left for the next run)."""
    if seconds <= 0 or not files:
        return
    newest = max(_epoch_ms(f.modified_at) for f in files) / 1000
    wait = newest + seconds - time.time()
    if wait > 0:
        log.info("waiting %.1f s for recently modified files to settle", wait)
        time.sleep(min(wait, seconds))


def _fingerprinted(spark, files: list[landing.LandingFile]) -> list[landing.LandingFile]:
    prints = fingerprints(spark, files) if files else {}
    return [replace(f, fingerprint=prints[f.path]) for f in files]


def _unknown(listed: list[tuple[str, landing.LandingFile]], bookings: list) -> list:
    """The listed files no booking has with the same (relative or absolute) path, size and time."""
    by_rel = {(r["source"], _rel(r), r["size"], r["modified_at"]) for r in bookings}
    by_path = {(r["source"], r["path"], r["size"], r["modified_at"]) for r in bookings}
    return [
        (n, f)
        for n, f in listed
        if (n, f.rel_path, f.size, f.modified_at) not in by_rel
        and (n, f.path, f.size, f.modified_at) not in by_path
    ]


def _rel(booking) -> str:
    return booking["rel_path"] or legacy_rel_path(booking["path"], booking["source"])


def _outcomes(printed: list[tuple[str, landing.LandingFile]], bookings: list) -> list:
    """Each fingerprinted file with its outcome, against the bookings and the files before it in the run."""
    contents: dict[tuple[str, int, str], str] = {}  # (source, size, fingerprint) -> relative path
    rels: dict[tuple[str, str], set[tuple[int, str | None]]] = {}  # (source, rel) -> {(size, fingerprint)}
    for r in bookings:
        rels.setdefault((r["source"], _rel(r)), set()).add((r["size"], r["fingerprint"]))
        if r["fingerprint"] is not None:
            contents.setdefault((r["source"], r["size"], r["fingerprint"]), _rel(r))
    out = []
    for name, f in printed:
        seen = rels.get((name, f.rel_path), set())
        twin = contents.get((name, f.size, f.fingerprint))
        if (f.size, f.fingerprint) in seen or (f.size, None) in seen:  # None: an old booking's
            decided = replace(f, outcome=landing.UNCHANGED)
        elif twin is not None and f.size:  # empty files hold no records: never a duplicate
            decided = replace(f, outcome=landing.DUPLICATE_FILE, same_as=twin)
        else:
            decided = replace(f, outcome=landing.NEW_VERSION if seen else landing.NEW)
            contents.setdefault((name, f.size, f.fingerprint), f.rel_path)
        rels.setdefault((name, f.rel_path), set()).add((f.size, f.fingerprint))
        out.append((name, decided))
    return out


def decide(
    spark: SparkSession, listed: list[tuple[str, landing.LandingFile]], bookings: list, settle_seconds: int
) -> list[tuple[str, landing.LandingFile]]:
    """The files to plan, oldest first as listed, each with its outcome (module docstring); known files
    and files that changed while looked at (still being written) are left out."""
    unknown = _unknown(listed, bookings)
    _settle([f for _, f in unknown], settle_seconds)
    printed = _fingerprinted(spark, [f for _, f in unknown])
    left = [f.path for f in printed if f.fingerprint == LEFT]
    if left:
        log.warning("%d file(s) still being written, left for the next run: %s", len(left), ", ".join(left))
    names = [n for n, _ in unknown]
    return _outcomes([(n, f) for n, f in zip(names, printed, strict=True) if f.fingerprint != LEFT], bookings)
