"""gold/promo_response: promo lift per segment (city type x weekday x hour band) against its baseline.

For each day D and segment, over the `window` days ending on D (D included):
- promo sessions: session-days with a promo_view; converted when the promo was redeemed, i.e. a
  purchase carrying a promo code follows the session's first promo_view (a purchase without the code
  is organic: it would count in the baseline too, and crediting it to the promo would blur the
  promo's own effect with the segment's ordinary buying);
- baseline sessions: session-days without a promo_view; converted when they hold any purchase;
- lift = promo conversion rate / baseline conversion rate (promo-driven purchases per promo view
  against the segment's purchases per session without a promo), uplift = their difference.
A session's segment is its customer's city type (state in force that day; `unknown` for anonymous
sessions) and the weekday and hour band (UTC) of its first event. Segments are ranked per day by lift
among those with at least `min_sessions` promo and baseline sessions and a known city type.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.daily import EVENT_COLUMNS, session_days
from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import Frame, framed, join_state, state_intervals

UNKNOWN = "unknown"
# Hour bands (UTC): night 22:00-05:59, morning 06:00-11:59, afternoon 12:00-17:59, evening 18:00-21:59.
HOUR_BANDS = (("night", 0), ("morning", 6), ("afternoon", 12), ("evening", 18), ("night", 22))
SEGMENT = ("city_type", "weekday", "hour_band")
NEEDS = {
    "events": EVENT_COLUMNS,
    "customer_history": ("customer_key", "updated_at", "city_type"),
}

SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("window_start", T.DateType()),
        T.StructField("city_type", T.StringType()),
        T.StructField("weekday", T.StringType()),
        T.StructField("hour_band", T.StringType()),
        T.StructField("promo_sessions", T.LongType()),
        T.StructField("promo_conversions", T.LongType()),
        T.StructField("promo_conversion_rate", T.DoubleType()),
        T.StructField("baseline_sessions", T.LongType()),
        T.StructField("baseline_conversions", T.LongType()),
        T.StructField("baseline_conversion_rate", T.DoubleType()),
        T.StructField("lift", T.DoubleType()),
        T.StructField("uplift", T.DoubleType()),
        T.StructField("lift_rank", T.IntegerType()),
    ]
)


def band_of_hour(hour: int) -> str:
    """The band of an hour of the day (0-23), in plain Python (for reading planted truth)."""
    return [name for name, start in HOUR_BANDS if hour >= start][-1]


def hour_band(ts: str | Column) -> Column:
    hour = F.hour(F.col(ts) if isinstance(ts, str) else ts)
    band = F.lit(HOUR_BANDS[0][0])
    for name, start in HOUR_BANDS[1:]:
        band = F.when(hour >= start, F.lit(name)).otherwise(band)
    return band


def _rate(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def segment_days(history: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Promo and baseline session counts per (day, segment): the window then slides over a few rows per
    segment, not over sessions."""

    def step(events: DataFrame) -> DataFrame:
        states = state_intervals(history.select("customer_key", "updated_at", "city_type"), extend_first=True)
        sessions = join_state(session_days(events), states, "event_date", ["city_type"])
        promo = F.col("has_promo_view")
        return (
            sessions.select(
                "event_date",
                F.coalesce("city_type", F.lit(UNKNOWN)).alias("city_type"),
                F.date_format("start_ts", "EEEE").alias("weekday"),
                hour_band("start_ts").alias("hour_band"),
                promo.cast("bigint").alias("promo"),
                (promo & F.col("redeemed_after_promo")).cast("bigint").alias("promo_conv"),
                (~promo).cast("bigint").alias("base"),
                (~promo & F.col("has_purchase")).cast("bigint").alias("base_conv"),
            )
            .groupBy("event_date", *SEGMENT)
            .agg(*[F.sum(c).alias(c) for c in ("promo", "promo_conv", "base", "base_conv")])
        )

    return step


def promo_windows(days: DayRange, window_days: int) -> Callable[[DataFrame], DataFrame]:
    """Each segment on each computed day, summed over the window ending on it; a segment without any
    session in the window gets no row (nothing to compare)."""

    def step(daily: DataFrame) -> DataFrame:
        anchors = daily.select(*SEGMENT).distinct().select(*SEGMENT, F.explode(days.sequence()).alias("date"))
        lo = -(window_days - 1)
        frames = [
            Frame("promo_sessions", "promo", lo, 0),
            Frame("promo_conversions", "promo_conv", lo, 0),
            Frame("baseline_sessions", "base", lo, 0),
            Frame("baseline_conversions", "base_conv", lo, 0),
        ]
        out = framed(daily, anchors, list(SEGMENT), "event_date", "date", frames)
        return out.filter((F.col("promo_sessions") + F.col("baseline_sessions")) > 0)

    return step


def promo_lift(window_days: int) -> Callable[[DataFrame], DataFrame]:
    """Lift as a ratio of rates, so segments of very different traffic compare; null where either side
    saw no session (no rate to compare)."""

    def step(windows: DataFrame) -> DataFrame:
        rated = windows.select(
            "*",
            F.date_sub("date", window_days - 1).alias("window_start"),
            _rate("promo_conversions", "promo_sessions").alias("promo_conversion_rate"),
            _rate("baseline_conversions", "baseline_sessions").alias("baseline_conversion_rate"),
        )
        return rated.select(
            "*",
            _rate("promo_conversion_rate", "baseline_conversion_rate").alias("lift"),
            (F.col("promo_conversion_rate") - F.col("baseline_conversion_rate")).alias("uplift"),
        )

    return step


def lift_ranks(min_sessions: int) -> Callable[[DataFrame], DataFrame]:
    """Ranks per day only segments with enough sessions on both sides and a known city type: a lift
    over a handful of sessions is noise, and `unknown` is no segment one can target. Ties share a rank."""

    def step(rated: DataFrame) -> DataFrame:
        rankable = (
            (F.col("promo_sessions") >= min_sessions)
            & (F.col("baseline_sessions") >= min_sessions)
            & (F.col("city_type") != F.lit(UNKNOWN))
            & F.col("lift").isNotNull()
        )
        rank = F.rank().over(Window.partitionBy("date", rankable).orderBy(F.desc("lift")))
        return rated.withColumn("lift_rank", F.when(rankable, rank))

    return step


def promo_response(
    days: DayRange, history: DataFrame, window_days: int, min_sessions: int
) -> Callable[[DataFrame], DataFrame]:
    """events (covering `days` widened by `window_days - 1` before) -> promo_response rows for `days`."""

    def transform(events: DataFrame) -> DataFrame:
        return (
            events.transform(segment_days(history))
            .transform(promo_windows(days, window_days))
            .transform(promo_lift(window_days))
            .transform(lift_ranks(min_sessions))
            .select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SCHEMA])
        )

    return transform
