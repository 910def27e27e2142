"""What a gold table's build is given, and what a table declares: its clock, its reads, its writes.

`Context` is the only way a build reads silver: each read is restricted to the days the build asks for
(Delta prunes the other partitions) and records which files it will scan, for the run's report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.gold import planner
from lakepulse.gold.planner import DayRange
from lakepulse.runtime import delta_io

# Silver tables partitioned by day, and their partition column.
DAY_PARTITIONED = {
    "events": "event_date",
    "requests": "request_date",
    "app_logs": "log_date",
    "billing": "charge_date",
}
# Silver tables that are not partitioned but carry a day column reads can filter on.
DAY_COLUMNS = {**DAY_PARTITIONED, "weather": "date"}
_PARTITION_VALUE = re.compile(r"/[a-z_]+=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class Read:
    table: str
    days: DayRange | None
    files: int
    partitions: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "table": f"silver/{self.table}",
            "from": str(self.days.start) if self.days else None,
            "to": str(self.days.end) if self.days else None,
            "files": self.files,
            "partitions": list(self.partitions),
        }


@dataclass
class Context:
    """What a table's build gets: silver reads that check and record themselves, and the gold seed."""

    spark: SparkSession
    config: Config
    reads: list[Read] = field(default_factory=list)
    _bounds: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)

    def silver_path(self, table: str) -> str:
        return self.config.table_path("silver", table)

    def bounds(self, table: str) -> tuple[dt.date, dt.date]:
        """(first day, last complete day) of a day-partitioned silver table."""
        if table not in self._bounds:
            path = self.silver_path(table)
            found = planner.partition_bounds(self.spark, path, DAY_PARTITIONED[table])
            if found is None:
                raise LakepulseError(f"silver/{table} is missing or empty at {path}: run refine first")
            self._bounds[table] = (found[0], found[1] - dt.timedelta(days=self.config.gold.settle_days))
        return self._bounds[table]

    def read(self, table: str, columns: Sequence[str], days: DayRange | None = None) -> DataFrame:
        """The silver table's `columns`, restricted to `days` (on its day column) when given."""
        path = self.silver_path(table)
        if not delta_io.is_delta(self.spark, path):
            raise LakepulseError(f"silver/{table} is missing at {path}: run refine first")
        df = delta_io.read_delta(self.spark, path)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise LakepulseError(f"silver/{table} has no column {missing[0]!r}, which gold needs ({path})")
        if days is not None:
            df = df.filter(days.contains(DAY_COLUMNS[table]))
        df = df.select(*columns)
        files = df.inputFiles()
        partitions = sorted({m.group(1) for f in files if (m := _PARTITION_VALUE.search(f))})
        self.reads.append(Read(table, days, len(files), tuple(partitions)))
        return df

    def gold_day(self, table: str, column: str, day: dt.date) -> DataFrame | None:
        """The gold table's rows of one day, or None when it holds none (no table, or a gap)."""
        path = self.config.table_path("gold", table)
        if not delta_io.is_delta(self.spark, path):
            return None
        rows = delta_io.read_delta(self.spark, path).filter(F.col(column) == F.lit(day))
        return rows if rows.limit(1).count() else None


@dataclass(frozen=True)
class Table:
    name: str
    date_column: str  # the gold column that names a computed day
    clock: tuple[str, ...]  # day-partitioned silver tables bounding the computable days
    build: Callable[[Context, DayRange], DataFrame]
    first_offset: int = 0  # first computable day = the clock's first common day + offset
    last_offset: int = 0  # last computable day = the clock's last complete common day + offset
    partition_by: tuple[str, ...] = ()
    done_column: str | None = None  # the column whose max is the last computed day (default date_column)
    replace: Callable[[DayRange], str] | None = None  # replaceWhere for computed days (default date_column)
    # Offsets that depend on the configuration (a label's look-back and horizon): config -> (first_offset,
    # last_offset, reach_back), reach_back being how many days before a late silver change its rows read it.
    window: Callable[[Config], tuple[int, int, int]] | None = None

    def offsets(self, config: Config) -> tuple[int, int, int]:
        """(first_offset, last_offset, reach_back); only a table reading days after its own reaches back."""
        return self.window(config) if self.window else (self.first_offset, self.last_offset, 0)
