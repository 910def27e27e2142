"""Which days a gold run computes, and the silver read that covers exactly those days.

Gold tables are incremental by day. A run computes a closed range of days: the one given with
`--as-of`, the one given with `--from/--to`, or by default every complete day after the last one the
table already holds. "Complete" is decided from silver's own partition metadata (min and max of the
date partition column, answered by Delta from its log without reading data files), less
`gold.settle_days` for sources that still receive late records.

Reads are restricted with a filter on the silver table's date partition column, so Delta prunes every
partition outside the window before any file is opened; `inputFiles()` of such a read lists exactly the
files the job will scan, which is what runs report and tests check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.errors import LakepulseError, UsageError
from lakepulse.runtime import delta_io


@dataclass(frozen=True, order=True)
class DayRange:
    """A closed range of calendar days, [start, end]."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"empty day range {self.start}..{self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def widen(self, before: int = 0, after: int = 0) -> DayRange:
        """The range extended by `before` days at the start and `after` days at the end."""
        return DayRange(self.start - dt.timedelta(days=before), self.end + dt.timedelta(days=after))

    def shift(self, days: int) -> DayRange:
        return DayRange(self.start + dt.timedelta(days=days), self.end + dt.timedelta(days=days))

    def __iter__(self) -> Iterator[dt.date]:
        return (self.start + dt.timedelta(days=i) for i in range(self.days))

    def contains(self, column: str | Column) -> Column:
        value = F.col(column) if isinstance(column, str) else column
        return value.between(F.lit(self.start), F.lit(self.end))

    def predicate(self, column: str) -> str:
        """The same condition as SQL text, for Delta's `replaceWhere`."""
        return f"`{column}` >= DATE'{self.start.isoformat()}' AND `{column}` <= DATE'{self.end.isoformat()}'"

    def sequence(self) -> Column:
        """An array column holding every day of the range (explode it to get one row per day)."""
        return F.sequence(F.lit(self.start), F.lit(self.end))

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}..{self.end}"


@dataclass(frozen=True)
class DayRequest:
    """What the command line asked for; all None means "every complete day not yet computed"."""

    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def explicit(self) -> bool:
        return self.start is not None or self.end is not None


def parse_day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} {value!r}: expected a date YYYY-MM-DD") from None


def request_from_args(as_of: str | None, start: str | None, end: str | None) -> DayRequest:
    if as_of is not None and (start is not None or end is not None):
        raise UsageError("--as-of selects one day; it cannot be combined with --from/--to")
    if as_of is not None:
        day = parse_day(as_of, "--as-of")
        return DayRequest(day, day)
    first = parse_day(start, "--from") if start is not None else None
    last = parse_day(end, "--to") if end is not None else None
    if first is not None and last is not None and first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    return DayRequest(first, last)


def plan_days(
    request: DayRequest, done_through: dt.date | None, first: dt.date, last: dt.date, table: str
) -> DayRange | None:
    """The days to compute, or None when the table is already up to date.

    `first`..`last` are the days the sources can support; `done_through` the last day the gold table
    already holds. An explicit request outside what the sources support is an error, never a silent
    clamp: a half-computed day would look like a real one.
    """
    if request.explicit:
        start = request.start or (done_through + dt.timedelta(days=1) if done_through else first)
        end = request.end or last
        if start < first or end > last:
            supported = f"{first}..{last}" if first <= last else "no day yet"
            raise LakepulseError(
                f"gold/{table}: days {start}..{end} requested, but silver supports {supported}"
            )
        if start > end:
            raise LakepulseError(f"gold/{table}: --from {start} is after the last computable day {end}")
        return DayRange(start, end)
    start = max(first, done_through + dt.timedelta(days=1)) if done_through else first
    return DayRange(start, last) if start <= last else None


def partition_bounds(spark: SparkSession, path: str, column: str) -> tuple[dt.date, dt.date] | None:
    """min and max of a date column; Delta answers from its log (a metadata-only query), no data read."""
    if not delta_io.is_delta(spark, path):
        return None
    row = delta_io.read_delta(spark, path).agg(F.min(column).alias("lo"), F.max(column).alias("hi")).first()
    return None if row["lo"] is None else (row["lo"], row["hi"])


def read_days(spark: SparkSession, path: str, column: str, days: DayRange) -> DataFrame:
    """The rows of `days` only: a filter on the partition column, which Delta turns into pruning."""
    return delta_io.read_delta(spark, path).filter(days.contains(column))
