"""Right to erasure in the landing area: the files that still hold an erased customer's records are
rewritten without them, and the rewrite is booked so that ingest does not read the file again.

Landing files are the sources' deliveries as received, kept so that a lake can be rebuilt; erasing the
customer from the tables only would leave the clear id, e-mail and every event in them. Which records
belong to the customer is decided as for the quarantine's `raw` text (`lakepulse.ops.erasure`): a line
holding the customer id as a whole token. A line is the unit, as ingest reads JSON lines and CSV rows
(a CSV field quoted across lines would keep its other lines: docs/privacy.md).

Finding the files is one Spark job over the landing folder, matched against a one-row source holding
the id's pattern (no literal in the plan, so the id stays out of the Spark UI and event logs); only the
paths of the files that hold the customer reach the driver. Rewriting them is done here, file by file,
with pyarrow's filesystems (local disk, or S3 with the AWS_* variables of the environment): Spark writes
folders of part files, never one file in place, and no library rewrites a compressed text file without
some lines. The new content goes to a hidden file beside the old one (ingest and Spark skip hidden
names), is booked, then moved over it:
- a file ingest had booked in its current form gets a booking of the rewritten content (outcome
  `erasure_rewrite`, same relative path, its new size, fingerprint and time), so the next ingest knows
  it (by time, or by size and fingerprint where a move changes the time) and reads nothing again; the
  booking comes before the move, so a crash between them leaves the old file known by its old booking,
  and forget's rerun finds it again;
- a file never ingested in that form (landed since the last ingest) is rewritten without a booking:
  ingest reads it later, without the customer.
Bookings carry txn_version -1: they are no batch, so ingest never mistakes them for an interrupted plan.
"""

from __future__ import annotations

import bz2
import contextlib
import datetime as dt
import gzip
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyarrow import fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.bronze import files as landing
from lakepulse.bronze import identity
from lakepulse.config import Config
from lakepulse.contracts import schemas
from lakepulse.errors import LakepulseError
from lakepulse.ops import erasure, lake
from lakepulse.runtime import delta_io, paths

OUTCOME = "erasure_rewrite"
NO_BATCH = -1  # txn_version of a booking that is no ingest batch


@dataclass(frozen=True)
class Codec:
    """A compression Hadoop reads landing files with, as Python's standard library writes it."""

    reader: Callable[[object], object]
    writer: Callable[[object], object]  # closing the writer ends the stream, not the file under it
    truncated_end: bytes  # the start of another stream, cut short: the file stays truncated


# Hadoop's .lz4 and .snappy use their own block framing, .deflate a bare zlib stream, .zst needs a codec
# the standard library lacks: such a file holding the customer is refused with one line (`_codec`).
CODECS = {
    ".gz": Codec(
        lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
        lambda f: gzip.GzipFile(fileobj=f, mode="wb", mtime=0),  # mtime 0: a rerun writes the same bytes
        gzip.compress(b"truncated\n", mtime=0)[:12],
    ),
    ".bz2": Codec(
        lambda f: bz2.BZ2File(f, mode="rb"),
        lambda f: bz2.BZ2File(f, mode="wb"),
        bz2.compress(b"truncated\n")[:12],
    ),
}
CHUNK = 1 << 20


class Unrewritable(LakepulseError):
    """A landing file holding the customer that lakepulse cannot rewrite (the message names it)."""


@dataclass(frozen=True)
class Rewritten:
    source: str
    path: str  # as Spark lists it
    rel_path: str  # relative to the source's landing folder
    lines_removed: int
    size: int
    modified_at: str  # UTC text, landing.TIMESTAMP_TEXT
    fingerprint: str
    booked: bool  # whether ingest had it, so it was booked again as rewritten


def token_pattern(customer_id: str) -> bytes:
    """The pattern `lakepulse.ops.erasure` matches quarantine's `raw` with, for lines read as bytes."""
    return erasure.token_pattern(customer_id).encode()


def files_holding(spark: SparkSession, root: str, source: DataFrame) -> list[str]:
    """The landing files under `root` with a line matching the one-row `source`'s `pattern` column."""
    text = (
        spark.read.option("recursiveFileLookup", "true")
        .option("ignoreCorruptFiles", "true")  # a truncated file ingest quarantined: its readable lines
        .text(root)
        .select(F.col("value"), landing.source_file_column().alias("path"))
    )
    holding = (
        text.join(F.broadcast(source.select("pattern")), F.expr("value RLIKE pattern"), how="inner")
        .select("path")
        .distinct()
    )
    return sorted(r["path"] for r in holding.collect())  # the files holding one customer: a few paths


def _filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    if paths.is_local(path):
        return pafs.LocalFileSystem(), paths.local_path(path)
    uri = "s3" + path[len("s3a") :] if path.startswith("s3a:") else path
    return pafs.FileSystem.from_uri(uri)


def _codec(path: str) -> Codec | None:
    lower = path.lower()
    if not lower.endswith(landing.COMPRESSED_SUFFIXES):
        return None
    for suffix, codec in CODECS.items():
        if lower.endswith(suffix):
            return codec
    raise Unrewritable(
        f"landing file {path} holds the customer but its compression cannot be rewritten "
        f"(supported: plain, {', '.join(CODECS)})"
    )


def _lines(stream) -> Iterator[bytes]:
    rest = b""
    while block := stream.read(CHUNK):
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part + b"\n"
    if rest:
        yield rest


def _stamp(ns: int) -> str:
    """A file time as Spark's listing shows it (milliseconds, UTC text)."""
    moment = dt.datetime.fromtimestamp(ns // 1_000_000 / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def rewrite_without(path: str, pattern: bytes) -> tuple[str, int] | None:
    """Writes the file at `path` without the lines matching `pattern` to a hidden file beside it;
    returns that file's path and the number of lines left out (None when no line matched).

    A truncated compressed file (ingest quarantined it whole, loading none of its records) keeps what
    it was: its readable lines but the customer's, then a truncated end of the same codec, so ingest
    still finds it corrupt, never a file of records it had not loaded.
    """
    filesystem, where = _filesystem(path)
    codec = _codec(path)
    folder, name = where.rsplit("/", 1)
    _remove_stale(filesystem, folder, name)
    temp = f"{folder}/.{name}.erasure-{uuid.uuid4().hex}.tmp"
    match = re.compile(pattern)
    removed, truncated = 0, False
    try:
        with (
            filesystem.open_input_stream(where, compression=None) as stored,  # not decompressed by its name
            filesystem.open_output_stream(temp, compression=None) as out,
        ):
            source = codec.reader(stored) if codec else stored
            sink = codec.writer(out) if codec else out
            lines = iter(source) if codec else _lines(stored)  # a codec's reader yields lines itself
            while True:
                try:
                    line = next(lines)
                except StopIteration:
                    break
                except (EOFError, OSError, pa.ArrowException):  # the file ends midway
                    if codec is None:
                        raise
                    truncated = True
                    break
                if match.search(line.rstrip(b"\r\n")):
                    removed += 1
                else:
                    sink.write(line)
            if codec:
                sink.close()  # the codec's end; `out` stays open
                if truncated:
                    out.write(codec.truncated_end)
    except (OSError, pa.ArrowException) as exc:
        _remove_quietly(filesystem, temp)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Unrewritable(
            f"landing file {path} holds the customer but cannot be rewritten ({first})"
        ) from exc
    if not removed:
        filesystem.delete_file(temp)
        return None
    return temp, removed


def _remove_stale(filesystem: pafs.FileSystem, folder: str, name: str) -> None:
    """Removes what an interrupted forget left of this file's rewrite (hidden, never read by ingest)."""
    for info in filesystem.get_file_info(pafs.FileSelector(folder)):
        if info.base_name.startswith(f".{name}.erasure-") and info.base_name.endswith(".tmp"):
            _remove_quietly(filesystem, info.path)


def _remove_quietly(filesystem: pafs.FileSystem, path: str) -> None:
    with contextlib.suppress(OSError):
        filesystem.delete_file(path)


def _sha256(filesystem: pafs.FileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with filesystem.open_input_stream(path, compression=None) as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _current_bookings(spark: SparkSession, config: Config, found: list[tuple[str, str]]) -> set[tuple]:
    """(source, rel_path, size, modified_at) of the bookings of the found files (their relative paths
    only: bounded by the files holding the customer)."""
    path = lake.ops(config, lake.FILES)
    if not found or not delta_io.is_delta(spark, path):
        return set()
    wanted = F.struct("source", "rel_path").isin(*[F.struct(F.lit(s), F.lit(r)) for s, r in found])
    rows = (
        delta_io.read_delta(spark, path)
        .where(wanted)
        .select(
            "source", "rel_path", "size", F.date_format("modified_at", landing.TIMESTAMP_TEXT).alias("at")
        )
        .collect()
    )  # the bookings of a few files
    return {(r["source"], r["rel_path"], int(r["size"]), r["at"]) for r in rows}


@dataclass(frozen=True)
class LandingErasure:
    rewritten: list[Rewritten]
    refused: list[str]  # one line per file that holds the customer and could not be rewritten


def erase_from_landing(
    spark: SparkSession, config: Config, source: DataFrame, customer_id: str, request_id: str
) -> LandingErasure:
    """Rewrites every landing file holding `customer_id` without its lines (module docstring): all new
    contents first, then one commit booking those ingest had, then each moved over its old file. A file
    that cannot be rewritten (an unsupported codec, a truncated file) is named in `refused` and left as
    it is; the others are rewritten all the same."""
    root = config.paths.landing.rstrip("/")
    if paths.is_local(root) and not os.path.isdir(paths.local_path(root)):
        return LandingErasure([], [])
    found = []
    holding = files_holding(spark, root, source)
    for f in _listed(spark, holding):
        rel = identity.relative_path(f.path, root)
        if rel is not None and "/" in rel:  # <landing>/<source>/<relative path>
            found.append((*rel.split("/", 1), f))
    booked = _current_bookings(spark, config, [(name, rel) for name, rel, _ in found])
    pattern = token_pattern(customer_id)
    done: list[tuple[Rewritten, str]] = []
    refused: list[str] = []
    for name, rel_path, f in found:
        try:
            written = rewrite_without(f.path, pattern)
        except Unrewritable as exc:
            refused.append(str(exc))
            continue
        if written is None:
            continue
        temp, removed = written
        filesystem, _ = _filesystem(f.path)
        info = filesystem.get_file_info(temp)
        fingerprint = _sha256(filesystem, temp)
        known = (name, rel_path, f.size, f.modified_at) in booked
        rewritten = Rewritten(
            name, f.path, rel_path, removed, int(info.size), _stamp(info.mtime_ns), fingerprint, known
        )
        done.append((rewritten, temp))
    rows = [_booking(r, request_id) for r, _ in done if r.booked]
    if rows:
        frame = lake.small_frame(spark, rows, schemas.INGESTED_FILES)
        txn = (f"lakepulse-erasure-landing-{request_id}", 0)
        delta_io.append(frame, lake.ops(config, lake.FILES), txn=txn, user_metadata=f"erasure {request_id}")
    for r, temp in done:
        _move(r.path, temp)
    return LandingErasure([r for r, _ in done], refused)


def _move(path: str, temp: str) -> None:
    """The rewritten content replaces the file (a rename on a local disk, a copy on S3)."""
    filesystem, where = _filesystem(path)
    filesystem.move(temp, where)


def _listed(spark: SparkSession, files: list[str]) -> list[landing.LandingFile]:
    """Size and time of `files` as ingest lists them (binaryFile without its content: no data read)."""
    if not files:
        return []
    rows = spark.read.format("binaryFile").load(files).select(*landing.metadata_columns()).collect()
    return landing.to_files(rows)  # a few files


def _booking(done: Rewritten, request_id: str) -> tuple:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return (
        done.source, done.path, done.size, done.modified_at, f"erasure {request_id}", NO_BATCH, request_id,
        now, done.rel_path, done.fingerprint, OUTCOME, None,
    )  # fmt: skip
