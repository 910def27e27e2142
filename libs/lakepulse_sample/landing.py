"""Writing the landing area: day folders of part files, as Spark's writers produce them.

Lines are spread over ~files_per_day files per day by a `file_no` derived from each record's key, and
sorted inside each file, so the same seed gives the same content in the same files on every run (only
Spark's random file-name suffix differs). `pid` (the Spark partition) is kept on the staged rows:
the writer names a file after its partition (`part-<pid>-…`), which is how the truth knows exactly
which records the deliberately truncated file held.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.errors import LakepulseError, UsageError

TRUTH_DIR = "_truth"


def local_dir(uri: str) -> Path:
    """The landing area as a local (or shared, mounted) directory: some finishing steps are file ops."""
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    elif "://" in uri:
        raise UsageError(f"landing path {uri}: generate writes to a local or mounted filesystem path only")
    return Path(uri)


def ensure_empty(landing: Path, sources: tuple[str, ...], overwrite: bool) -> None:
    """Refuses to mix two generations; with `overwrite`, removes what a previous generation wrote."""
    existing = sorted(p.name for p in landing.iterdir()) if landing.is_dir() else []
    if existing and not overwrite:
        raise UsageError(
            f"landing folder {landing} already holds data ({', '.join(existing[:5])}): "
            "pass --overwrite to replace it"
        )
    for name in (*sources, TRUTH_DIR):
        target = landing / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    landing.mkdir(parents=True, exist_ok=True)


def with_date(df: DataFrame, start) -> DataFrame:
    return df.withColumn("date", F.date_format(F.date_add(F.lit(start), F.col("day")), "yyyy-MM-dd"))


def stage(spark: SparkSession, df: DataFrame, files_per_day: int, sort: tuple[str, ...]) -> DataFrame:
    """Assigns each row its file (partition) and order, and keeps the result for the write and the counts.

    Rows need `date` and `file_key`; rows with the same key always share a file (so a re-sent duplicate
    sits next to its original).
    """
    # Several partitions per file of a day, so that two files of one day seldom share a partition.
    partitions = max(int(spark.conf.get("spark.sql.shuffle.partitions")), 4 * files_per_day)
    return (
        df.withColumn("file_no", F.pmod(F.xxhash64("file_key"), F.lit(files_per_day)))
        .repartition(partitions, "date", "file_no")
        .sortWithinPartitions("date", *sort)
        .withColumn("pid", F.spark_partition_id())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )


def write_text(staged: DataFrame, path: Path, extension: str, gzip_on: bool = False) -> None:
    writer = staged.select("date", "line").write.mode("overwrite").partitionBy("date")
    writer.option("compression", "gzip" if gzip_on else "none").text(str(path))
    _finish(path, ".txt", extension)


def write_csv(staged: DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    (
        staged.select("date", *columns)
        .write.mode("overwrite")
        .partitionBy("date")
        .option("header", True)
        .option("escape", '"')
        .option("lineSep", "\n")
        .csv(str(path))
    )
    _finish(path, ".csv", ".csv")


def _finish(path: Path, spark_ext: str, extension: str) -> None:
    """Gives files the source's extension and drops Hadoop's checksum side files (real sources have none;
    and a rewritten file would no longer match its checksum)."""
    for folder, _dirs, files in os.walk(path):
        for name in files:
            file = Path(folder) / name
            if name.endswith(".crc"):
                file.unlink()
            elif name.startswith("part-") and spark_ext != extension and spark_ext in name:
                file.rename(file.with_name(name.replace(spark_ext, extension, 1)))


def part_file(path: Path, date: str, pid: int) -> Path:
    matches = sorted((path / f"date={date}").glob(f"part-{pid:05d}-*"))
    if len(matches) != 1:
        raise LakepulseError(
            f"expected one file for partition {pid} in {path}/date={date}, found {len(matches)}"
        )
    return matches[0]


def truncate_gzip(file: Path, expected_lines: int) -> None:
    """Cuts one gzip file mid-stream, as an interrupted upload would: a bounded, single-file operation.

    The file is re-compressed with a fixed header time first, so the cut bytes are the same on every run.
    """
    data = gzip.decompress(file.read_bytes())
    lines = data.count(b"\n")
    if lines != expected_lines:
        raise LakepulseError(f"{file}: holds {lines} lines, the staged partition had {expected_lines}")
    packed = gzip.compress(data, compresslevel=6, mtime=0)
    file.write_bytes(packed[: len(packed) // 2])
