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
import functools
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


def lookback_days(horizon_days: int, active_days: int) -> int | None:
    """How many days before the first computed day a run reads: monthly actives, or churn labels
    (None: from silver's first day, for a label whose look-back is all of history)."""
    back = churn_label.lookback(active_days)
    if back is None:
        return None
    return max(max(ACTIVE_WINDOWS.values()) - 1, horizon_days + back)


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


def customer_states(history: DataFrame) -> DataFrame:
    """State intervals reaching back before the first record: activity that precedes a customer's first
    state still belongs to a segment rather than `unknown`."""
    return state_intervals(history.select("customer_key", "updated_at", *STATE_ATTRIBUTES), extend_first=True)


def active_covers(events: DataFrame) -> DataFrame:
    """Coverage intervals of all three windows in one frame (`metric` names the window), so that one
    cut and one count serve daily, weekly and monthly actives alike."""
    active = events.filter(F.col("customer_key").isNotNull()).select("customer_key", "event_date").distinct()
    covers = [
        covered_days(active, ["customer_key"], "event_date", window).withColumn("metric", F.lit(name))
        for name, window in ACTIVE_WINDOWS.items()
    ]
    return functools.reduce(DataFrame.unionByName, covers)


def cut_by_state(states: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Coverage intervals cut where the customer's state changes: a customer who moves counts in the old
    country until the move and in the new one from then on, never in both on one day."""

    def step(covers: DataFrame) -> DataFrame:
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
        return cut.select("metric", "cover_from", "cover_to", "_seg.dimension", "_seg.segment")

    return step


def active_counts(days: DayRange) -> Callable[[DataFrame], DataFrame]:
    """Distinct actives per (date, dimension, segment), one column per window: rows of the same shape as
    the other parts, so that all parts meet in one aggregation."""

    def step(cut: DataFrame) -> DataFrame:
        counted = count_covering(cut, ["metric", "dimension", "segment"], days, "n")
        return counted.select(
            *KEYS, *[F.when(F.col("metric") == name, F.col("n")).alias(name) for name in ACTIVE_WINDOWS]
        )

    return step


def session_counts(days: DayRange, states: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Sessions, funnel, purchases, revenue and events from session-days of the computed days only (the
    look-back is read for actives and churn, which need it)."""

    def step(events: DataFrame) -> DataFrame:
        sessions = _by_segment(session_days(events.filter(days.contains("event_date"))), states, "event_date")
        return sessions.select(
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

    return step


def churn_counts(
    days: DayRange, states: DataFrame, horizon_days: int, active_days: int
) -> Callable[[DataFrame], DataFrame]:
    """Churn of day X is the label as of X - horizon, the latest whose horizon is complete on X,
    segmented by the state known before its label date (what the model would have seen)."""

    def step(events: DataFrame) -> DataFrame:
        labels = churn_label.activity(events).transform(
            churn_label.churn_labels(days.shift(-horizon_days), horizon_days, active_days)
        )
        return _by_segment(labels, states, F.date_sub(F.col("label_date"), 1)).select(
            F.date_add("label_date", horizon_days).alias("date"),
            "dimension",
            "segment",
            F.lit(1).alias("churn_base"),
            F.col("churned").cast("bigint").alias("churned"),
        )

    return step


def summed_counts(parts: DataFrame) -> DataFrame:
    """One aggregation over the unioned parts rather than three joins: a part missing for a row is
    null and reads as 0."""
    return parts.groupBy(*KEYS).agg(
        *[F.sum(c).alias(c) for c in (*COUNTS, "revenue", "churn_base", "churned")]
    )


def filled_counts(
    horizon_days: int, active_days: int, first_event_day: dt.date
) -> Callable[[DataFrame], DataFrame]:
    """Missing counts become 0, but churn stays null while its look-back would start before silver: a
    truncated look-back finds fewer active customers, and a rate over them would mislead."""

    def step(rows: DataFrame) -> DataFrame:
        label_date = F.date_sub(F.col("date"), horizon_days)
        complete = F.date_sub(label_date, active_days) >= F.lit(first_event_day)
        return rows.select(
            *KEYS,
            *[F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c) for c in COUNTS],
            F.coalesce(F.col("revenue"), F.lit(0)).cast(MONEY).alias("revenue"),
            label_date.alias("churn_label_date"),
            F.when(complete, F.coalesce(F.col("churn_base"), F.lit(0))).alias("churn_base"),
            F.when(complete, F.coalesce(F.col("churned"), F.lit(0))).alias("churned"),
        )

    return step


def kpi_rows(days: DayRange) -> Callable[[DataFrame], DataFrame]:
    """The table's columns (SCHEMA is the contract), only on rows with something to say: the row set
    must not depend on how many days a run reads."""

    def step(filled: DataFrame) -> DataFrame:
        derived = {
            "conversion_rate": _ratio("purchase_sessions", "sessions"),
            "arpu": _ratio("revenue", "active_customers_daily"),
            "events_per_active_customer": _ratio("customer_events", "active_customers_daily"),
            "stickiness": _ratio("active_customers_daily", "active_customers_monthly"),
            "churn_rate": _ratio("churned", "churn_base"),
        }
        anything = F.greatest(*[F.col(c) for c in COUNTS], F.coalesce(F.col("churn_base"), F.lit(0))) > 0
        return filled.filter(days.contains("date") & anything).select(
            *[derived.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name) for f in SCHEMA]
        )

    return step


def kpi_daily(
    days: DayRange, history: DataFrame, horizon_days: int, active_days: int, first_event_day: dt.date
) -> Callable[[DataFrame], DataFrame]:
    """events -> kpi_daily rows for `days`. `events` must cover `days` widened by `lookback_days`
    before (fewer days only where silver itself starts later, `first_event_day`)."""

    def transform(events: DataFrame) -> DataFrame:
        states = customer_states(history)
        actives = (
            events.transform(active_covers).transform(cut_by_state(states)).transform(active_counts(days))
        )
        sessions = events.transform(session_counts(days, states))
        churn = events.transform(churn_counts(days, states, horizon_days, active_days))
        return (
            actives.unionByName(sessions, allowMissingColumns=True)
            .unionByName(churn, allowMissingColumns=True)
            .transform(summed_counts)
            .transform(filled_counts(horizon_days, active_days, first_event_day))
            .transform(kpi_rows(days))
        )

    return transform
