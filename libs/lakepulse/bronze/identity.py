"""Which landing file a listed file *is*: its path relative to its source's landing folder, its size and
a fingerprint of its content, so that a moved or restored home (or a lake on another filesystem) knows
every file it ingested, whatever the absolute path (docs/landing.md, "File identity").

The fingerprint is SHA-256 over the file's first and last 64 KiB (the whole file when it holds at most
128 KiB), read through Hadoop in the driver: at most two ranged reads of 64 KiB per file that is not
known by its path, size and modification time already. A full hash would read every byte of a batch a
second time (the bench's 3.46 GB of landing files); the batch is the one full read. The limit: a
plain-text file changed in place to the same size, with its first and last 64 KiB untouched, looks
unchanged. A compressed file has no such blind spot in practice (gzip ends with the CRC-32 and length of
the whole content).

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.bronze import files as landing
from lakepulse.runtime import delta_io, paths

log = logging.getLogger("lakepulse.bronze")

SAMPLE_BYTES = 64 * 1024
IDENTITY_COLUMNS = "rel_path STRING, fingerprint STRING, outcome STRING, same_as STRING"
LEFT = "left"  # changed while it was looked at: left for the next run


def relative_path(path: str, base: str) -> str | None:
    """`path` relative to the folder `base`, or None when it is not under it."""
    folder = paths.local_path(base).rstrip("/") + "/"
    local = paths.local_path(path)
    return local[len(folder) :] if local.startswith(folder) else None


def legacy_rel_path(path: str, source: str) -> str:
    """An old booking's relative path: what follows the last folder named like its source (the whole
    path when there is none: a file read with --path)."""
    return path.rsplit(f"/{source}/", 1)[-1]


def legacy_rel_column() -> Column:
    return F.expr("substring_index(path, concat('/', source, '/'), -1)")


def migrate(spark: SparkSession, path: str) -> None:
    """Gives a bookkeeping table from before identities its columns and its old rows their relative path.

    Two commits, once (the table's schema says whether it is done); a crash between them leaves rows
    without a relative path, which the lookup still matches (`booked`), only less cheaply.
    """
    if "rel_path" in delta_io.read_delta(spark, path).columns:
        return
    log.warning("%s: adding file identities (relative path, fingerprint) to the bookings", path)
    spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({IDENTITY_COLUMNS})")
    DeltaTable.forPath(spark, path).update(F.col("rel_path").isNull(), {"rel_path": legacy_rel_column()})


def booked(bookings: DataFrame, listed: list[tuple[str, landing.LandingFile]]) -> list:
    """The bookings a decision on `listed` needs, bounded by the candidates, never by history: those of
    the candidates' relative-path range per source and folder (day folders sort by day, so Delta's
    statistics on `rel_path` skip the bookkeeping files of other days; a late file in an old day's folder
    adds that day, not the days between), and those as recent as the oldest candidate."""
    oldest = min(f.modified_at for _, f in listed)
    keep = (F.col("modified_at") >= F.lit(oldest).cast("timestamp")) | F.col("rel_path").isNull()
    ranges: dict[tuple[str, str], tuple[str, str]] = {}
    for name, f in listed:
        folder = f.rel_path.rsplit("/", 1)[0] if "/" in f.rel_path else ""
        low, high = ranges.get((name, folder), (f.rel_path, f.rel_path))
        ranges[(name, folder)] = (min(low, f.rel_path), max(high, f.rel_path))
    for (name, _), (low, high) in sorted(ranges.items()):
        keep = keep | ((F.col("source") == name) & F.col("rel_path").between(low, high))
    columns = ["source", "path", "size", "rel_path", "fingerprint"]
    stamp = F.date_format("modified_at", landing.TIMESTAMP_TEXT).alias("modified_at")
    return bookings.where(keep).select(*columns, stamp).collect()  # metadata, bounded by the candidates


def _epoch_ms(text: str) -> int:
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def fingerprint(spark: SparkSession, f: landing.LandingFile) -> str:
    """SHA-256 of the first and last SAMPLE_BYTES (whole when small), computed in the driver's JVM (the
    bytes never cross to Python); LEFT when the file's size or time differ from its listing meanwhile."""
    sc = spark.sparkContext
    jvm, conf = sc._jvm, sc._jsc.hadoopConfiguration()
    hpath = jvm.org.apache.hadoop.fs.Path(f.path)
    fs = hpath.getFileSystem(conf)
    digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
    # The bytes are copied into the digest inside the JVM (py4j passes byte arrays by value, so a buffer
    # filled by a Java read would never be seen by a digest updated from Python).
    sink = jvm.java.security.DigestOutputStream(jvm.java.io.OutputStream.nullOutputStream(), digest)
    # Small files whole; larger ones by their first and last SAMPLE_BYTES.
    whole = f.size <= 2 * SAMPLE_BYTES
    ranges = [(0, f.size)] if whole else [(0, SAMPLE_BYTES), (f.size - SAMPLE_BYTES, SAMPLE_BYTES)]
    try:
        stream = fs.open(hpath)
        try:
            for start, length in ranges:
                stream.seek(start)
                copied = jvm.org.apache.commons.io.IOUtils.copyLarge(stream, sink, 0, length)
                if copied != length:
                    return LEFT  # shorter than listed
        finally:
            stream.close()
        status = fs.getFileStatus(hpath)
    except Exception:  # noqa: BLE001 - gone or shorter than listed: still being written or replaced
        return LEFT
    if status.getLen() != f.size or status.getModificationTime() != _epoch_ms(f.modified_at):
        return LEFT
    return bytes(digest.digest()).hex()


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
    with ThreadPoolExecutor(max_workers=4) as pool:
        prints = list(pool.map(lambda f: fingerprint(spark, f), files))
    return [replace(f, fingerprint=p) for f, p in zip(files, prints, strict=True)]


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
