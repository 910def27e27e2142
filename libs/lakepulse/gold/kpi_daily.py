"""gold/kpi_daily: the business's daily numbers, overall and by country, channel and plan (docs/gold.md).

One row per (date, dimension, segment): dimension `all` (segment `all`), `country`, `channel`
(acquisition channel) or `plan`. Distinct counts (active customers) are not additive across segments,
so every dimension is computed from customer level, never summed from another.

A customer belongs to the segment of their state in force at the end of the day (first state also
covering earlier days); anonymous sessions and customers we hold no record of fall in segment
`unknown`. Active customers over 7/30 days use non-overlapping coverage intervals
(`windows.covered_days`), so the cost does not grow with the window length. A row exists when any of
its counts (or its churn base) is non-zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold import churn_label
from lakepulse.gold.daily import EVENT_COLUMNS, MONEY, session_days
from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import count_covering, covered_days, join_state, state_intervals

DIMENSIONS = (("all", None), ("country", "country"), ("channel", "acquisition_channel"), ("plan", "plan"))
UNKNOWN = "unknown"
ACTIVE_WINDOWS = {"active_customers_daily": 1, "active_customers_weekly": 7, "active_customers_monthly": 30}
STATE_ATTRIBUTES = ("country", "acquisition_channel", "plan")
KEYS = ("date", "dimension", "segment")

NEEDS = {
    "events": EVENT_COLUMNS,
    "customer_history": ("customer_key", "updated_at", *STATE_ATTRIBUTES),
}

COUNTS = (
    *ACTIVE_WINDOWS,
    "sessions",
    "search_sessions",
    "cart_sessions",
    "checkout_sessions",
    "purchase_sessions",
    "purchases",
    "events",
    "customer_events",
)

SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("dimension", T.StringType()),
        T.StructField("segment", T.StringType()),
        *[T.StructField(c, T.LongType()) for c in ACTIVE_WINDOWS],
        T.StructField("sessions", T.LongType()),
        T.StructField("search_sessions", T.LongType()),
        T.StructField("cart_sessions", T.LongType()),
        T.StructField("checkout_sessions", T.LongType()),
        T.StructField("purchase_sessions", T.LongType()),
        T.StructField("conversion_rate", T.DoubleType()),
        T.StructField("purchases", T.LongType()),
        T.StructField("revenue", MONEY),
        T.StructField("arpu", T.DoubleType()),
        T.StructField("events", T.LongType()),
        T.StructField("customer_events", T.LongType()),
        T.StructField("events_per_active_customer", T.DoubleType()),
        T.StructField("stickiness", T.DoubleType()),
        T.StructField("churn_label_date", T.DateType()),
        T.StructField("churn_base", T.LongType()),
        T.StructField("churned", T.LongType()),
        T.StructField("churn_rate", T.DoubleType()),
    ]
)


def lookback_days(horizon_days: int, active_days: int) -> int:
    """How many days before the first computed day a run reads: monthly actives, or churn labels."""
    return max(max(ACTIVE_WINDOWS.values()) - 1, horizon_days + active_days)


def segments() -> Column:
    """The (dimension, segment) pairs of a row with state attributes (null attributes: unknown)."""
    pairs = [
        F.struct(F.lit(name).alias("dimension"), F.coalesce(F.col(attr), F.lit(UNKNOWN)).alias("segment"))
        if attr
        else F.struct(F.lit("all").alias("dimension"), F.lit("all").alias("segment"))
        for name, attr in DIMENSIONS
    ]
    return F.explode(F.array(*pairs))


def _by_segment(df: DataFrame, states: DataFrame, day: str | Column) -> DataFrame:
    with_state = join_state(df, states, day, STATE_ATTRIBUTES)
    return with_state.select("*", segments().alias("_seg")).select(
        "*", F.col("_seg.dimension").alias("dimension"), F.col("_seg.segment").alias("segment")
    )


def _ratio(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator).cast("double") / F.col(denominator).cast("double"))


def kpi_daily(
    days: DayRange, history: DataFrame, horizon_days: int, active_days: int, first_event_day: dt.date
) -> Callable[[DataFrame], DataFrame]:
    """events -> kpi_daily rows for `days`. `events` must cover `days` widened by `lookback_days`
    before (fewer days only where silver itself starts later, `first_event_day`)."""

    def transform(events: DataFrame) -> DataFrame:
        states = state_intervals(
            history.select("customer_key", "updated_at", *STATE_ATTRIBUTES), extend_first=True
        )

        # Active customers, all three windows in one pass: coverage intervals cut by the customer's
        # state intervals, then counted per (window, dimension, segment).
        active = (
            events.filter(F.col("customer_key").isNotNull()).select("customer_key", "event_date").distinct()
        )
        covers = None
        for name, window in ACTIVE_WINDOWS.items():
            cover = covered_days(active, ["customer_key"], "event_date", window).withColumn(
                "metric", F.lit(name)
            )
            covers = cover if covers is None else covers.unionByName(cover)
        s = states.select(F.col("customer_key").alias("_k"), "valid_from", "valid_to", *STATE_ATTRIBUTES)
        overlap = (
            (F.col("_k") == F.col("customer_key"))
            & (F.col("cover_to") >= F.col("valid_from"))
            & (F.col("valid_to").isNull() | (F.col("cover_from") <= F.col("valid_to")))
        )
        cut = covers.join(s, overlap, how="left").select(
            "metric",
            F.when(F.col("_k").isNull(), F.col("cover_from"))
            .otherwise(F.greatest("cover_from", "valid_from"))
            .alias("cover_from"),
            F.when(F.col("_k").isNull() | F.col("valid_to").isNull(), F.col("cover_to"))
            .otherwise(F.least("cover_to", "valid_to"))
            .alias("cover_to"),
            segments().alias("_seg"),
        )
        cut = cut.select("metric", "cover_from", "cover_to", "_seg.dimension", "_seg.segment")
        counted = count_covering(cut, ["metric", "dimension", "segment"], days, "n")
        actives = counted.select(
            *KEYS, *[F.when(F.col("metric") == name, F.col("n")).alias(name) for name in ACTIVE_WINDOWS]
        )

        # Sessions, funnel, purchases, revenue and events: session-days of the computed days.
        sessions = _by_segment(session_days(events.filter(days.contains("event_date"))), states, "event_date")
        sessions = sessions.select(
            F.col("event_date").alias("date"),
            "dimension",
            "segment",
            F.lit(1).alias("sessions"),
            F.col("has_search").cast("bigint").alias("search_sessions"),
            F.col("has_cart").cast("bigint").alias("cart_sessions"),
            F.col("has_checkout").cast("bigint").alias("checkout_sessions"),
            F.col("has_purchase").cast("bigint").alias("purchase_sessions"),
            "purchases",
            "revenue",
            "events",
            F.col("identified_events").alias("customer_events"),
        )

        # Churn: label as of date - horizon, segmented by the state known before the label date.
        labels = churn_label.activity(events).transform(
            churn_label.churn_labels(days.shift(-horizon_days), horizon_days, active_days)
        )
        churn = _by_segment(labels, states, F.date_sub(F.col("label_date"), 1)).select(
            F.date_add("label_date", horizon_days).alias("date"),
            "dimension",
            "segment",
            F.lit(1).alias("churn_base"),
            F.col("churned").cast("bigint").alias("churned"),
        )

        # One aggregation over the three parts (not three joins): missing parts are null, summed as 0.
        parts = actives.unionByName(sessions, allowMissingColumns=True).unionByName(
            churn, allowMissingColumns=True
        )
        rows = parts.groupBy(*KEYS).agg(
            *[F.sum(c).alias(c) for c in (*COUNTS, "revenue", "churn_base", "churned")]
        )
        label_date = F.date_sub(F.col("date"), horizon_days)
        complete = F.date_sub(label_date, active_days) >= F.lit(first_event_day)
        filled = rows.select(
            *KEYS,
            *[F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c) for c in COUNTS],
            F.coalesce(F.col("revenue"), F.lit(0)).cast(MONEY).alias("revenue"),
            label_date.alias("churn_label_date"),
            F.when(complete, F.coalesce(F.col("churn_base"), F.lit(0))).alias("churn_base"),
            F.when(complete, F.coalesce(F.col("churned"), F.lit(0))).alias("churned"),
        )
        derived = {
            "conversion_rate": _ratio("purchase_sessions", "sessions"),
            "arpu": _ratio("revenue", "active_customers_daily"),
            "events_per_active_customer": _ratio("customer_events", "active_customers_daily"),
            "stickiness": _ratio("active_customers_daily", "active_customers_monthly"),
            "churn_rate": _ratio("churned", "churn_base"),
        }
        # Only rows with something to say: the row set must not depend on how many days a run reads.
        anything = F.greatest(*[F.col(c) for c in COUNTS], F.coalesce(F.col("churn_base"), F.lit(0))) > 0
        return filled.filter(days.contains("date") & anything).select(
            *[
                (derived[f.name] if f.name in derived else F.col(f.name)).cast(f.dataType).alias(f.name)
                for f in SCHEMA
            ]
        )

    return transform
