"""The churn label, defined once here for kpi_daily's churn rate and for the churn model.

As of a label date D (a day; "as of D" means at 00:00 UTC on D, like the features):
- a customer is *active* if they had at least one event in [D - active_days, D), i.e. on one of the
  `active_days` days before D (`gold.churn_active_days`, default 30);
- an active customer *churns* if they have a `subscription_cancel` event in [D, D + H) or no event at
  all in [D, D + H), H = `gold.churn_horizon_days` (default 30).
Only active customers get a label. The label uses only events on or after D, the features only events
before D, so features as of D and the label as of D never share an event.

A label date needs its whole horizon in silver: the last labelable date is the last complete day
minus H + 1 (`last_label_day`). kpi_daily's churn rate for day X is therefore the label as of X - H,
the latest date whose horizon ends on X - 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.gold import planner
from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import Frame, framed, trailing

LABEL_SCHEMA = T.StructType(
    [
        T.StructField("customer_key", T.StringType()),
        T.StructField("label_date", T.DateType()),
        T.StructField("churned", T.BooleanType()),
        T.StructField("cancelled", T.BooleanType()),
    ]
)


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


def events_needed(label_days: DayRange, horizon_days: int, active_days: int) -> DayRange:
    """The event days labels for `label_days` read: the active look-back before, the horizon after."""
    return DayRange(
        label_days.start - dt.timedelta(days=active_days),
        label_days.end + dt.timedelta(days=horizon_days - 1),
    )


def last_label_day(last_complete_day: dt.date, horizon_days: int) -> dt.date:
    return last_complete_day - dt.timedelta(days=horizon_days - 1)


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
                trailing("past_events", "events", active_days),
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


def labelable_days(spark: SparkSession, config: Config) -> DayRange | None:
    """Every label date silver/events can support (full look-back and full horizon), or None."""
    bounds = planner.partition_bounds(spark, config.table_path("silver", "events"), "event_date")
    if bounds is None:
        return None
    gold = config.gold
    first = bounds[0] + dt.timedelta(days=gold.churn_active_days)
    last = last_label_day(bounds[1] - dt.timedelta(days=gold.settle_days), gold.churn_horizon_days)
    return DayRange(first, last) if first <= last else None


def labels_from_silver(spark: SparkSession, config: Config, label_days: DayRange) -> DataFrame:
    """Labels for `label_days` read straight from silver/events, only the partitions they need."""
    gold = config.gold
    supported = labelable_days(spark, config)
    if supported is None or label_days.start < supported.start or label_days.end > supported.end:
        raise LakepulseError(
            f"churn labels for {label_days} requested, but silver/events supports {supported or 'none yet'}"
        )
    window = events_needed(label_days, gold.churn_horizon_days, gold.churn_active_days)
    events = planner.read_days(spark, config.table_path("silver", "events"), "event_date", window)
    return (
        activity(events.select("customer_key", "event_date", "event_type"))
        .transform(churn_labels(label_days, gold.churn_horizon_days, gold.churn_active_days))
        .select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in LABEL_SCHEMA])
    )
