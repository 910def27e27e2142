"""Landing files as metadata: listing, the day folder, CSV headers, and corrupt-file checks.

A file is read by its Hadoop path string, exactly as the binaryFile source lists it (for example
`file:/data/landing/events/date=2026-01-03/part-0.json.gz`); bronze's `source_file` and the quarantine
use that form, whichever mode (batch or stream) found the file. Spark's `_metadata.file_path` is the
same path percent-encoded; `source_file_column` decodes it. Which file it *is* (so whether it was
ingested before) is its relative path, size and content fingerprint: `lakepulse.bronze.identity`.

Only metadata passes through the driver: the new files of a batch and the first line of a CSV file
(its header). Record data is always read by Spark.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.errors import UsageError
from lakepulse.runtime import paths

DATE_FOLDER = r"date=(\d{4}-\d{2}-\d{2})"
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy")
BINARY_FILE_SCHEMA = "path string, modificationTime timestamp, length bigint, content binary"
TIMESTAMP_TEXT = "yyyy-MM-dd HH:mm:ss.SSSSSS"
# Records end at "\n" (a "\r" before it is stripped): one rule for every read of a landing file, so the
# byte accounting of `oversized_files` sees the same lines as ingest. Hadoop's LineRecordReader skips a
# line of at least MAX_LINE_OPTION bytes without holding it in memory; a file that had one is found by
# `oversized_files` and quarantined as LINE_TOO_LONG, so the skip is never silent.
LINE_SEP = "\n"
MAX_LINE_OPTION = "mapreduce.input.linerecordreader.line.maxlength"
LINE_TOO_LONG = "line_too_long"


# What a planned file is (lakepulse.bronze.identity): read as new, read as a new version of a booked
# path, or booked without being read (the same content as a booked file, under another path or time).
NEW, NEW_VERSION, DUPLICATE_FILE, UNCHANGED = "new", "new_version", "duplicate_file", "unchanged"


@dataclass(frozen=True)
class LandingFile:
    path: str
    size: int
    modified_at: str  # UTC, yyyy-MM-dd HH:mm:ss.SSSSSS: text, so no Python time zone ever applies
    rel_path: str | None = None  # relative to its source's landing folder (or to --path)
    fingerprint: str | None = None
    outcome: str | None = None  # None: booked before outcomes existed, read as new
    same_as: str | None = None  # a duplicate_file's booked twin (its relative path)

    @property
    def compressed(self) -> bool:
        return self.path.lower().endswith(COMPRESSED_SUFFIXES)

    @property
    def read(self) -> bool:
        """Whether the batch reads its records (a duplicate or unchanged file is only booked)."""
        return self.outcome in (None, NEW, NEW_VERSION)


def metadata_columns() -> list[Column]:
    """path, size, modified_at of a binaryFile listing (batch or stream); `content` is never selected."""
    return [
        F.col("path"),
        F.col("length").alias("size"),
        F.date_format(F.col("modificationTime"), TIMESTAMP_TEXT).alias("modified_at"),
    ]


def visible(path_column: Column) -> Column:
    """Hidden files (_SUCCESS, .crc, _truth) are not data."""
    return ~F.element_at(F.split(path_column, "/"), -1).rlike(r"^[._]")


def listing(spark: SparkSession, root: str) -> DataFrame:
    """Every data file under `root` (a folder, searched recursively, or one file); content is not read."""
    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(root)
    return files.select(*metadata_columns()).where(visible(F.col("path")))


IDENTITY_FIELDS = ("rel_path", "fingerprint", "outcome", "same_as")


def to_files(rows) -> list[LandingFile]:
    """Listing or bookkeeping rows as files (the identity fields where the rows carry them)."""

    def one(r) -> LandingFile:
        values = r.asDict()
        extra = {k: values.get(k) for k in IDENTITY_FIELDS}
        return LandingFile(values["path"], int(values["size"]), values["modified_at"], **extra)

    return sorted((one(r) for r in rows), key=lambda f: f.path)


def source_file_column() -> Column:
    """The file a line came from, as a Hadoop path string (the inverse of its percent-encoded URI)."""
    return F.url_decode(F.replace(F.col("_metadata.file_path"), F.lit("+"), F.lit("%2B")))


def check_readable(path: str, what: str) -> None:
    """Fails with one line when a local landing path is missing or unreadable (other filesystems: Spark's check)."""
    if not paths.is_local(path):
        return
    local = paths.local_path(path)
    if not os.path.exists(local):
        raise UsageError(f"{what}: {path} does not exist")
    if not os.path.isdir(local):
        _check_file(local, what)
        return
    if not os.access(local, os.R_OK | os.X_OK):
        raise UsageError(f"{what}: folder {path} is not readable")
    for root, dirs, names in os.walk(local):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for d in dirs:
            if not os.access(os.path.join(root, d), os.R_OK | os.X_OK):
                raise UsageError(f"{what}: folder {os.path.join(root, d)} is not readable")
        for name in names:
            if not name.startswith((".", "_")):
                _check_file(os.path.join(root, name), what)


def _check_file(local: str, what: str) -> None:
    # A FIFO or socket would block or fail a Spark read midway: refused before anything is written.
    if not os.path.isfile(local):
        raise UsageError(f"{what}: {local} is not a regular file")
    if not os.access(local, os.R_OK):
        raise UsageError(f"{what}: file {local} is not readable")


def landing_date_column() -> Column:
    return F.regexp_extract(F.col("source_file"), DATE_FOLDER, 1).try_cast("date")


def first_line(spark: SparkSession, path: str, max_line_bytes: int) -> str | None:
    """The first line of a (possibly compressed) file, or None for an empty one; read like every
    landing line (`read_lines`), so a first line over the limit is never brought to the driver.

    Spark's text source decompresses by the same Hadoop codecs as the file's full read; only the line
    starting the file's first split qualifies, and the limit stops the read after it, so a large file
    is not read through. Works alike on a classic session and over Spark Connect (no driver JVM).
    """
    read = spark.read.option("lineSep", LINE_SEP).option(MAX_LINE_OPTION, str(max_line_bytes))
    row = read.text(path).where(F.col("_metadata.file_block_start") == 0).select("value").limit(1).first()
    return None if row is None else row["value"].lstrip("\ufeff").removesuffix("\r")


def failed_files(exc: BaseException, files: list[LandingFile]) -> list[LandingFile]:
    """The compressed files a failed read names (Spark's FAILED_READ_FILE error carries the file's URI).

    Free: no file is read again. Empty when the error names none of `files` (then see `unreadable_files`).
    """
    named = set()
    for uri in _FAILED_FILE.findall(str(exc)):
        parts = urlparse(uri)
        named.add((parts.netloc, unquote(parts.path)))  # the error's URI is percent-encoded
    return [f for f in files if f.compressed and (urlparse(f.path).netloc, urlparse(f.path).path) in named]


_FAILED_FILE = re.compile(r"FAILED_READ_FILE[^\]]*\] Encountered error while reading file (\S+)\.\s")


def corrupt_files(
    spark: SparkSession, files: list[LandingFile], max_line_bytes: int
) -> tuple[list[LandingFile], list[LandingFile]]:
    """(corrupt, oversized): the compressed files among `files` that cannot be read to their end
    (truncated or corrupt), and those holding a line of `max_line_bytes` or more.

    One job measures the lines of every compressed file (decompression only, a fraction of parsing them);
    a failure names its file (`failed_files`), which is set aside before measuring the others again. So
    the batch's parsing pass runs once, never to fail midway on a truncated file. A compressed file's
    size says nothing of its lines, so this pass (which holds each line once, as any full read does)
    is where a long one is seen; bounded collect: one row per compressed file of the batch.
    """
    candidates = [f for f in files if f.compressed]
    corrupt: list[LandingFile] = []
    oversized: list[LandingFile] = []
    while candidates:
        try:
            lines = spark.read.option("lineSep", LINE_SEP).text([f.path for f in candidates])
            longest = (
                lines.groupBy(source_file_column().alias("file"))
                .agg(F.max(F.octet_length("value") + 1).alias("longest"))
                .collect()
            )
            too_long = {r["file"] for r in longest if r["longest"] >= max_line_bytes}
            oversized = [f for f in candidates if f.path in too_long]
            break
        except Exception as exc:
            if not is_read_failure(exc):
                raise
            bad = failed_files(exc, candidates) or unreadable_files(spark, candidates)
            if not bad:
                raise
            corrupt += bad
            candidates = [f for f in candidates if f not in bad]
    return corrupt, oversized


def oversized_plain_files(
    spark: SparkSession, files: list[LandingFile], max_line_bytes: int
) -> list[LandingFile]:
    """The plain files among `files` that held a line ingest's read skipped (`MAX_LINE_OPTION`).

    A plain file's lines and their "\n" add up to its size (one byte more when the last line has no
    "\n"); bytes missing from that sum are skipped lines. Only files at least `max_line_bytes` long can
    hold one, so most batches run no job here; bounded collect: one row per such file.
    """
    candidates = [f for f in files if not f.compressed and f.size >= max_line_bytes]
    if not candidates:
        return []
    read = spark.read.option("lineSep", LINE_SEP).option(MAX_LINE_OPTION, str(max_line_bytes))
    sums = (
        read.text([f.path for f in candidates])
        .groupBy(source_file_column().alias("file"))
        .agg(F.sum(F.octet_length("value") + 1).alias("bytes"))
        .collect()
    )
    seen = {r["file"]: int(r["bytes"]) for r in sums}
    return [f for f in candidates if f.size - seen.get(f.path, 0) > 0]


def unreadable_files(spark: SparkSession, files: list[LandingFile]) -> list[LandingFile]:
    """The compressed files Spark cannot read to their end (truncated or corrupt), one small job each.

    The fallback when a failed read does not name its file (`failed_files`). A plain-text file has no
    integrity check; its truncated last line is quarantined as a record.
    """

    def fails(file: LandingFile) -> bool:
        try:
            spark.read.text(file.path).count()
        except Exception:  # noqa: BLE001 - any failure to read the file to its end makes it corrupt
            return True
        return False

    candidates = [f for f in files if f.compressed]
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(fails, candidates))
    return [f for f, bad in zip(candidates, verdicts, strict=True) if bad]


def read_lines(spark: SparkSession, files: list[LandingFile], max_line_bytes: int) -> DataFrame:
    """Every line of `files` as `raw`, with `source_file` and `ingest_date` (its day folder, if any);
    lines of `max_line_bytes` or more are skipped (their files are quarantined as LINE_TOO_LONG).

    A byte-order mark is an encoding artefact, not content: it is dropped where a file starts with one,
    like the "\r" of a "\r\n" line end. Bytes that are not UTF-8 are decoded by Spark as U+FFFD; the
    `bad_encoding` rule quarantines them.
    """
    read = spark.read.option("lineSep", LINE_SEP).option(MAX_LINE_OPTION, str(max_line_bytes))
    lines = read.text([f.path for f in files]).select(
        F.regexp_replace(F.col("value"), "^\ufeff|\r$", "").alias("raw"),
        source_file_column().alias("source_file"),
    )
    return lines.select("*", landing_date_column().alias("ingest_date"))


def is_read_failure(exc: BaseException) -> bool:
    text = str(exc)
    markers = (
        "FAILED_READ_FILE",
        "EOFException",
        "Unexpected end of input stream",
        "ZipException",
        "not in GZIP",
    )
    return any(marker in text for marker in markers)


def date_in_path(path: str) -> str | None:
    match = re.search(DATE_FOLDER, path)
    return match.group(1) if match else None
