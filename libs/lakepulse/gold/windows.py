"""Shared window helpers: sliding day windows, validity intervals, distinct counts over trailing days.

Everything works on per-key daily rows (first aggregate events to one row per key and day, then
slide), which keeps the cost linear in the number of key-days whatever the number of anchor dates:

- `framed`: for anchor rows (key, day A) the sums/max/min of daily rows whose day lies in
  [A + lo, A + hi]. Anchors and daily rows are unioned and one window per key slides over them,
  ordered by day number with a RANGE frame, so a 90-day window costs one sort, not a 90-fold fan-out.
- `state_intervals` / `join_state`: the days on which each received state of a customer was in force,
  and the join of dated rows to the state in force on their day.
- `covered_days` / `count_covering`: how many distinct keys were active in the w days up to each day
  (daily/weekly/monthly actives) without fanning each active day out to w rows: each active day covers
  the days until the next active day or w days, whichever is first, so the intervals never overlap and
  a running sum of +1/-1 boundaries gives the distinct count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakepulse.gold.planner import DayRange

EPOCH = dt.date(1970, 1, 1)
_K = "_day_number"
_ANCHOR = "_is_anchor"


def day_number(column: str | Column) -> Column:
    """Days since 1970-01-01: an integer ordering that RANGE frames can measure in days."""
    value = F.col(column) if isinstance(column, str) else column
    return F.datediff(value, F.lit(EPOCH))


@dataclass(frozen=True)
class Frame:
    """Output `name` = `how`(`source`) over daily rows with day in [anchor + lo, anchor + hi].

    `lo=None` means from the first row on. Sums over no rows are 0 (cast to the source's type);
    max/min over no rows are null.
    """

    name: str
    source: str
    lo: int | None
    hi: int
    how: str = "sum"


def trailing(name: str, source: str, days: int | None, how: str = "sum") -> Frame:
    """The `days` days strictly before the anchor day (all earlier days when `days` is None)."""
    return Frame(name, source, None if days is None else -days, -1, how)


def framed(
    daily: DataFrame,
    anchors: DataFrame,
    keys: Sequence[str],
    day_column: str,
    anchor_column: str,
    frames: Sequence[Frame],
) -> DataFrame:
    """Anchor rows (all their columns kept) plus one column per frame, aggregated over `daily`.

    `daily` must hold `keys`, `day_column` and every frame's source; several daily rows per key and
    day are fine (they are simply all in the frame).
    """
    sources = sorted({f.source for f in frames})
    types = dict(daily.select(*sources).dtypes)
    rows = daily.select(*keys, day_number(day_column).alias(_K), F.lit(False).alias(_ANCHOR), *sources)
    marks = anchors.withColumn(_K, day_number(anchor_column)).withColumn(_ANCHOR, F.lit(True))
    both = marks.unionByName(rows, allowMissingColumns=True)
    ordered = Window.partitionBy(*keys).orderBy(_K)
    columns = []
    for f in frames:
        window = ordered.rangeBetween(Window.unboundedPreceding if f.lo is None else f.lo, f.hi)
        value = getattr(F, f.how)(F.col(f.source)).over(window)
        if f.how == "sum":
            value = F.coalesce(value, F.lit(0).cast(types[f.source]))
        columns.append(value.alias(f.name))
    return both.select(*anchors.columns, _ANCHOR, *columns).filter(F.col(_ANCHOR)).drop(_ANCHOR)


def state_intervals(history: DataFrame, key: str = "customer_key", extend_first: bool = False) -> DataFrame:
    """Each received state with the days it was in force at the end of: [valid_from, valid_to].

    A state received at `updated_at` is the customer's state at the end of every day from
    date(updated_at) until the day before the next state's date; of several states received on one
    day only the last is ever in force at a day's end, so the others get no days and are dropped.
    `valid_to` is null for the current state. With `extend_first`, the first state also covers every
    earlier day (for attributing activity that precedes the first record we hold); point-in-time
    features never use that.
    """
    order = Window.partitionBy(key).orderBy("updated_at")
    first = F.row_number().over(order) == 1
    nxt = F.lead("updated_at").over(order)
    out = history.select(
        "*",
        F.when(first & F.lit(extend_first), F.lit(dt.date(1900, 1, 1)))
        .otherwise(F.to_date("updated_at"))
        .alias("valid_from"),
        F.date_sub(F.to_date(nxt), 1).alias("valid_to"),
    )
    return out.filter(F.col("valid_to").isNull() | (F.col("valid_to") >= F.col("valid_from")))


def in_force(day: str | Column, prefix: str = "") -> Column:
    """Join condition: the state whose interval holds `day` (columns of the state side carry `prefix`)."""
    value = F.col(day) if isinstance(day, str) else day
    valid_to = F.col(f"{prefix}valid_to")
    return (value >= F.col(f"{prefix}valid_from")) & (valid_to.isNull() | (value <= valid_to))


def join_state(
    df: DataFrame, states: DataFrame, day: str | Column, attributes: Sequence[str], key: str = "customer_key"
) -> DataFrame:
    """`df` with the `attributes` of the state in force on `day` (null when none: anonymous, unknown)."""
    s = states.select(
        F.col(key).alias("_s_key"),
        F.col("valid_from").alias("_s_valid_from"),
        F.col("valid_to").alias("_s_valid_to"),
        *[F.col(a).alias(f"_s_{a}") for a in attributes],
    )
    joined = df.join(s, (df[key] == s["_s_key"]) & in_force(day, prefix="_s_"), how="left")
    return joined.select(*df.columns, *[F.col(f"_s_{a}").alias(a) for a in attributes])


def covered_days(active_days: DataFrame, keys: Sequence[str], day_column: str, window_days: int) -> DataFrame:
    """Per key, non-overlapping [cover_from, cover_to] intervals: the days on which the key counts as
    active in a trailing `window_days`-day window (the window ending on that day, inclusive).

    `active_days` must be unique on (keys, day).
    """
    order = Window.partitionBy(*keys).orderBy(day_column)
    nxt = F.lead(day_column).over(order)
    reach = F.date_add(F.col(day_column), window_days - 1)
    return active_days.select(
        *keys,
        F.col(day_column).alias("cover_from"),
        F.when(nxt.isNull(), reach).otherwise(F.least(reach, F.date_sub(nxt, 1))).alias("cover_to"),
    )


def count_covering(intervals: DataFrame, groups: Sequence[str], days: DayRange, name: str) -> DataFrame:
    """(groups, date, name): how many [cover_from, cover_to] intervals of each group hold each day of
    `days`. Groups with no interval at all on any day of `days` may be missing (read them as 0)."""
    starts = intervals.select(*groups, F.col("cover_from").alias("date"), F.lit(1).alias("delta"))
    ends = intervals.select(*groups, F.date_add("cover_to", 1).alias("date"), F.lit(-1).alias("delta"))
    deltas = starts.unionByName(ends).groupBy(*groups, "date").agg(F.sum("delta").alias("delta"))
    calendar = deltas.select(*groups).distinct().select(*groups, F.explode(days.sequence()).alias("date"))
    marks = deltas.unionByName(calendar.withColumn("delta", F.lit(0).cast("bigint")))
    running = F.sum("delta").over(
        Window.partitionBy(*groups).orderBy("date").rangeBetween(Window.unboundedPreceding, 0)
    )
    out = (
        marks.groupBy(*groups, "date")
        .agg(F.sum("delta").alias("delta"))
        .select(*groups, "date", running.alias(name))
    )
    return out.filter(days.contains("date"))
