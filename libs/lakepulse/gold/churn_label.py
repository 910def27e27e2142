"""The churn label, defined once here for kpi_daily's churn rate and for the churn model.

As of a label date D (a day; "as of D" means at 00:00 UTC on D, like the features):
- a customer is *active* if they had at least one event in [D - active_days, D), i.e. on one of the
  `active_days` days before D (`gold.churn_active_days`, default 30); with `churn_active_days` 0
  (`EVER`), every customer with an event at any time before D is: the definition for sparse purchase
  histories (a transactions file), where most customers buy once or twice and an activity window would
  leave most of the base unlabelled and unscored. It reads silver/events from its first day, so it
  suits whole rebuilds (bring your own data) more than daily incremental runs;
- an active customer *churns* if they have a `subscription_cancel` event in [D, D + H) or no event at
  all in [D, D + H), H = `gold.churn_horizon_days` (default 30).
Only active customers get a label. The label uses only events on or after D, the features only events
before D, so features as of D and the label as of D never share an event.

A label date needs its whole horizon in silver: the last labelable date is the last complete day
minus H + 1 (`offsets`). kpi_daily's churn rate for day X is therefore the label as of X - H,
the latest date whose horizon ends on X - 1.

The `features` job writes the labels as gold/churn_labels (`build`, one partition per label date), so
the churn model reads gold only; kpi_daily computes its churn rate from the same functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.contracts import schemas
from lakepulse.gold.context import Context
from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import Frame, framed, trailing

# gold/churn_labels (written by the `features` job; the churn model and its tests read it).
SCHEMA = schemas.GOLD_CHURN_LABELS
NEEDS = {"events": ("customer_key", "event_date", "event_type")}
EVER = 0  # churn_active_days: an event at any time before the label date makes a customer active


def lookback(active_days: int) -> int | None:
    """The label's look-back in days, None for all of history (`EVER`)."""
    if active_days < 0:
        raise ValueError(f"gold.churn_active_days must be 0 (ever) or more, not {active_days}")
    return None if active_days == EVER else active_days


def activity(events: DataFrame) -> DataFrame:
    """Per identified customer and day: how many events, how many of them subscription cancels."""
    cancel = F.col("event_type") == F.lit("subscription_cancel")
    return (
        events.filter(F.col("customer_key").isNotNull())
        .groupBy("customer_key", "event_date")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.sum(F.when(cancel, 1).otherwise(0)).cast("bigint").alias("cancels"),
        )
    )


def events_needed(label_days: DayRange, horizon_days: int, active_days: int, first_day: dt.date) -> DayRange:
    """The event days labels for `label_days` read: the active look-back before (from silver's
    `first_day` on), the horizon after."""
    back = lookback(active_days)
    start = first_day if back is None else max(first_day, label_days.start - dt.timedelta(days=back))
    return DayRange(min(start, label_days.start), label_days.end + dt.timedelta(days=horizon_days - 1))


def churn_labels(
    label_days: DayRange, horizon_days: int, active_days: int
) -> Callable[[DataFrame], DataFrame]:
    """`activity(events) -> (customer_key, label_date, churned, cancelled)` for every label date in
    `label_days` and every customer active as of it. The events must cover `events_needed(...)`."""

    def transform(days: DataFrame) -> DataFrame:
        anchors = (
            days.select("customer_key")
            .distinct()
            .select("customer_key", F.explode(label_days.sequence()).alias("label_date"))
        )
        windows = framed(
            days,
            anchors,
            ["customer_key"],
            "event_date",
            "label_date",
            [
                trailing("past_events", "events", lookback(active_days)),
                Frame("future_events", "events", 0, horizon_days - 1),
                Frame("future_cancels", "cancels", 0, horizon_days - 1),
            ],
        )
        cancelled = F.col("future_cancels") > 0
        return windows.filter(F.col("past_events") > 0).select(
            "customer_key",
            "label_date",
            (cancelled | (F.col("future_events") == 0)).alias("churned"),
            cancelled.alias("cancelled"),
        )

    return transform


def offsets(config: Config) -> tuple[int, int, int]:
    """gold/churn_labels' computable days against silver/events' (first day, last complete day), and how
    far a silver change reaches back: a label date needs A days of look-back before it and its whole
    horizon in silver, and a late event on day X changes the labels as of X - H + 1 .. X + A (every
    later one with `EVER`, which the runner's recompute-from-the-earliest-change covers). With `EVER`
    the first label date is silver's second day: nobody is active before the first."""
    gold = config.gold
    back = lookback(gold.churn_active_days)
    return 1 if back is None else back, -(gold.churn_horizon_days - 1), gold.churn_horizon_days - 1


def build(ctx: Context, days: DayRange) -> DataFrame:
    """gold/churn_labels for `days`, from only the silver/events days their windows need."""
    gold = ctx.config.gold
    window = events_needed(days, gold.churn_horizon_days, gold.churn_active_days, ctx.bounds("events")[0])
    return (
        activity(ctx.read("events", NEEDS["events"], window))
        .transform(churn_labels(days, gold.churn_horizon_days, gold.churn_active_days))
        .withColumn("horizon_days", F.lit(gold.churn_horizon_days))
        .withColumn("active_days", F.lit(gold.churn_active_days))
        .select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SCHEMA])
    )


def applies_to(active_days: int) -> Callable[[DataFrame], DataFrame]:
    """The rows of a gold/customer_features snapshot the label applies to: customers active as of its
    as-of date. A feature row as of D sees every event before D, so "an event in [D - A, D)" is its
    last activity at most A days back (any activity at all with `EVER`); scoring and the model's tests
    pick whom to score from gold alone."""
    back = lookback(active_days)

    def transform(features: DataFrame) -> DataFrame:
        if back is None:
            return features.filter(F.col("last_activity_date").isNotNull())
        return features.filter(F.col("days_since_last_activity") <= F.lit(back))

    return transform
