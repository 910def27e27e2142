"""Daily building blocks shared by several gold tables: customer-days and session-days of silver events.

Every windowed gold number starts from one of these two grains, so that a window of any length is a
sum over a few rows per key rather than a rescan of raw events.

A session that runs past midnight (UTC) counts once on each day it touches (a "session-day"): it keeps
daily numbers additive and a day's numbers independent of the next day's data.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

MONEY = T.DecimalType(18, 2)
EVENT_COLUMNS = (
    "event_ts",
    "event_date",
    "customer_key",
    "session_id",
    "event_type",
    "promo_code",
    "category",
    "product_id",
    "unit_price",
    "quantity",
)
# Evening = 18:00-23:59 UTC (the events carry no local time zone).
EVENING_FROM_HOUR = 18


def is_type(event_type: str) -> Column:
    return F.col("event_type") == F.lit(event_type)


def count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("bigint")


def amount() -> Column:
    """A purchase line's amount, unit price x quantity, in the events' currency."""
    return (F.col("unit_price") * F.col("quantity")).cast(MONEY)


def is_weekend(day: str | Column) -> Column:
    value = F.col(day) if isinstance(day, str) else day
    return F.dayofweek(value).isin(1, 7)  # Spark: 1 = Sunday, 7 = Saturday


def customer_days(events: DataFrame) -> DataFrame:
    """One row per identified customer and day with that day's counts (anonymous events are dropped)."""
    purchase = is_type("purchase")
    return (
        events.filter(F.col("customer_key").isNotNull())
        .groupBy("customer_key", "event_date")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.countDistinct("session_id").alias("sessions"),
            count_if(purchase).alias("purchases"),
            F.coalesce(F.sum(F.when(purchase, amount())), F.lit(0)).cast(MONEY).alias("spend"),
            count_if(is_type("search")).alias("searches"),
            count_if(is_type("support_ticket")).alias("support_tickets"),
            count_if(is_type("promo_view")).alias("promo_views"),
            count_if(purchase & F.col("promo_code").isNotNull()).alias("promo_purchases"),
            count_if(is_type("subscription_cancel")).alias("cancels"),
            count_if(F.hour("event_ts") >= EVENING_FROM_HOUR).alias("evening_events"),
        )
        .withColumn("weekend_events", F.when(is_weekend("event_date"), F.col("events")).otherwise(F.lit(0)))
    )


def session_days(events: DataFrame) -> DataFrame:
    """One row per session and day: its customer, start, funnel steps, purchases and promo response.

    The session's customer is its one non-null `customer_key` (null for an anonymous session).
    `redeemed_after_promo` is true when a purchase carrying a promo code follows the session's first
    promo_view: the promo was used. Purchases without a code are organic and not credited to it.
    """
    purchase = is_type("purchase")
    first_promo = F.min(F.when(is_type("promo_view"), F.col("event_ts")))
    last_redemption = F.max(F.when(purchase & F.col("promo_code").isNotNull(), F.col("event_ts")))
    return events.groupBy("session_id", "event_date").agg(
        F.max("customer_key").alias("customer_key"),
        F.min("event_ts").alias("start_ts"),
        F.count(F.lit(1)).alias("events"),
        count_if(F.col("customer_key").isNotNull()).alias("identified_events"),
        (count_if(is_type("search")) > 0).alias("has_search"),
        (count_if(is_type("add_to_cart")) > 0).alias("has_cart"),
        (count_if(is_type("checkout")) > 0).alias("has_checkout"),
        (count_if(purchase) > 0).alias("has_purchase"),
        count_if(purchase).alias("purchases"),
        F.coalesce(F.sum(F.when(purchase, amount())), F.lit(0)).cast(MONEY).alias("revenue"),
        first_promo.isNotNull().alias("has_promo_view"),
        F.coalesce(last_redemption > first_promo, F.lit(False)).alias("redeemed_after_promo"),
    )
