"""gold/market_signals: searches and purchases per category, country and day, with a trend score.

The trend score compares a cell's (category x country) search volume over the last `recent` days
(the day itself and the days before it) with its own `baseline` days just before those, measured in
standard errors of a `recent`-day mean under the cell's own day-to-day variation:

    score = (recent_mean - baseline_mean) / sqrt((baseline_var + baseline_mean + 1) / recent)

The `baseline_mean + 1` term is a Poisson floor: a cell with a flat or tiny history would otherwise
divide by (almost) zero and rank on noise. Cells are ranked per day among those with a full baseline.

A search's country is its customer's (state in force that day), for anonymous sessions their
session's customer's, and for fully anonymous traffic the country most identified customers seen at
the same coarse coordinates (1 decimal degree) in the read window belong to; else `unknown`.

A cell has a row on a day when it had at least one search or purchase in the recent or baseline days:
the rows do not depend on how many days one run computes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import Frame, framed, join_state, state_intervals

UNKNOWN = "unknown"
NEEDS = {
    "events": ("event_date", "customer_key", "session_id", "event_type", "category", "lat", "lon"),
    "customer_history": ("customer_key", "updated_at", "country"),
}

SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("category", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("searches", T.LongType()),
        T.StructField("purchases", T.LongType()),
        T.StructField("searches_recent", T.LongType()),
        T.StructField("purchases_recent", T.LongType()),
        T.StructField("baseline_daily_mean", T.DoubleType()),
        T.StructField("baseline_daily_stddev", T.DoubleType()),
        T.StructField("trend_ratio", T.DoubleType()),
        T.StructField("trend_score", T.DoubleType()),
        T.StructField("has_full_history", T.BooleanType()),
        T.StructField("trend_rank", T.IntegerType()),
    ]
)


def lookback_days(recent_days: int, baseline_days: int) -> int:
    return recent_days + baseline_days - 1


def with_country(rows: DataFrame, events: DataFrame, history: DataFrame) -> DataFrame:
    """`rows` (a subset of `events`) with `country`; see the module docstring for the sources' order.

    Session customers and coordinates are learned from all of `events`, not only from `rows`.
    """
    states = state_intervals(history.select("customer_key", "updated_at", "country"), extend_first=True)
    sessions = events.groupBy("session_id", "event_date").agg(F.max("customer_key").alias("session_key"))
    identified = join_state(
        events.filter(
            F.col("customer_key").isNotNull() & F.col("lat").isNotNull() & F.col("lon").isNotNull()
        ),
        states,
        "event_date",
        ["country"],
    ).filter(F.col("country").isNotNull())
    counts = identified.groupBy("lat", "lon", "country").agg(F.countDistinct("customer_key").alias("n"))
    best = Window.partitionBy("lat", "lon").orderBy(F.desc("n"), "country")
    places = (
        counts.withColumn("r", F.row_number().over(best))
        .filter(F.col("r") == 1)
        .select("lat", "lon", F.col("country").alias("place_country"))
    )
    attributed = rows.join(sessions, on=["session_id", "event_date"], how="left").select(
        *[c for c in rows.columns if c != "customer_key"],
        F.coalesce("customer_key", "session_key").alias("customer_key"),
    )
    known = join_state(attributed, states, "event_date", ["country"])
    return known.join(F.broadcast(places), on=["lat", "lon"], how="left").select(
        *[c for c in known.columns if c != "country"],
        F.coalesce("country", "place_country", F.lit(UNKNOWN)).alias("country"),
    )


def daily_cells(history: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Searches and purchases per (category, country, day), with the squares the baseline variance
    needs: windows then slide over a few rows per cell instead of raw events."""

    def step(events: DataFrame) -> DataFrame:
        relevant = events.filter(
            F.col("event_type").isin("search", "purchase") & F.col("category").isNotNull()
        )
        return (
            with_country(relevant, events, history)
            .groupBy("category", "country", "event_date")
            .agg(
                F.sum(F.when(F.col("event_type") == "search", 1).otherwise(0))
                .cast("bigint")
                .alias("searches"),
                F.sum(F.when(F.col("event_type") == "purchase", 1).otherwise(0))
                .cast("bigint")
                .alias("purchases"),
            )
            .withColumn("searches_sq", F.col("searches") * F.col("searches"))
            .withColumn("events", F.col("searches") + F.col("purchases"))
        )

    return step


def trend_windows(days: DayRange, recent_days: int, baseline_days: int) -> Callable[[DataFrame], DataFrame]:
    """Every cell on every computed day, with its recent and baseline sums; a cell quiet over the whole
    window gets no row, so the rows do not depend on how many days one run computes."""

    def step(daily: DataFrame) -> DataFrame:
        cells = daily.select("category", "country").distinct()
        anchors = cells.select("category", "country", F.explode(days.sequence()).alias("date"))
        r, b = recent_days, baseline_days
        frames = [
            Frame("searches", "searches", 0, 0),
            Frame("purchases", "purchases", 0, 0),
            Frame("searches_recent", "searches", -(r - 1), 0),
            Frame("purchases_recent", "purchases", -(r - 1), 0),
            Frame("baseline_sum", "searches", -(r + b - 1), -r),
            Frame("baseline_sumsq", "searches_sq", -(r + b - 1), -r),
            Frame("window_events", "events", -(r + b - 1), 0),
        ]
        out = framed(daily, anchors, ["category", "country"], "event_date", "date", frames)
        return out.filter(F.col("window_events") > 0)

    return step


def trend_scores(
    recent_days: int, baseline_days: int, first_event_day: dt.date
) -> Callable[[DataFrame], DataFrame]:
    """The score of the module docstring. A baseline reaching before silver's first day is marked, not
    dropped: its missing days read as 0 and would make any cell look like it is rising."""

    def step(windows: DataFrame) -> DataFrame:
        r, b = recent_days, baseline_days
        recent_mean = F.col("searches_recent") / F.lit(float(r))
        mean = F.col("baseline_sum") / F.lit(float(b))
        var = F.greatest(F.col("baseline_sumsq") / F.lit(float(b)) - mean * mean, F.lit(0.0))
        full = F.date_sub(F.col("date"), r + b - 1) >= F.lit(first_event_day)
        return windows.select(
            "*",
            mean.alias("baseline_daily_mean"),
            F.sqrt(var).alias("baseline_daily_stddev"),
            F.when(mean > 0, recent_mean / mean).alias("trend_ratio"),
            ((recent_mean - mean) / F.sqrt((var + mean + F.lit(1.0)) / F.lit(float(r)))).alias("trend_score"),
            full.alias("has_full_history"),
        )

    return step


def trend_ranks(scored: DataFrame) -> DataFrame:
    """Ranks per day among cells whose score means something (full baseline, known country); equal
    scores share a rank, so no cell wins a tie by sort order."""
    rankable = F.col("has_full_history") & (F.col("country") != F.lit(UNKNOWN))
    rank = F.rank().over(
        Window.partitionBy("date", rankable.alias("_rankable")).orderBy(F.desc("trend_score"))
    )
    return scored.withColumn("trend_rank", F.when(rankable, rank))


def market_signals(
    days: DayRange, history: DataFrame, recent_days: int, baseline_days: int, first_event_day: dt.date
) -> Callable[[DataFrame], DataFrame]:
    """events (covering `days` widened by `lookback_days` before) -> market_signals rows for `days`."""

    def transform(events: DataFrame) -> DataFrame:
        return (
            events.transform(daily_cells(history))
            .transform(trend_windows(days, recent_days, baseline_days))
            .transform(trend_scores(recent_days, baseline_days, first_event_day))
            .transform(trend_ranks)
            .select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SCHEMA])
        )

    return transform
