"""gold/customer_features: one point-in-time row per customer and as-of date (docs/gold.md).

Features as of D use only what was known before D: events with event_date < D, the customer state in
force at the end of D - 1, price and plan changes received before D, weather of the days before D.
Nothing on or after D can reach a row, which is what makes a training set over any range of as-of
dates free of leakage (tests plant later events and check the rows do not move).

Windowed numbers (7/30/90 days) slide over customer-days (see `windows.framed`). Lifetime numbers
(frequency, monetary, last activity and purchase) would need the whole history; instead a run starts
from the table's own row for the day before its first as-of date (the "seed") and adds the days since,
so a daily run reads only its 90-day window. Without a seed (first run, or a gap) the run reads from
the first silver day, so lifetime numbers are always exact; `runner` decides which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.daily import EVENT_COLUMNS, MONEY, customer_days
from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import framed, state_intervals, trailing

WINDOWS = (7, 30, 90)
LOOKBACK_DAYS = max(WINDOWS)
WEATHER_DAYS = 7
# A cart or purchase "sees a price change" when the product's price changed within this many days.
PRICE_CHANGE_RECENT_DAYS = 30
BAD_WEATHER = ("rain", "snow")

STATE_ATTRIBUTES = ("signup_date", "country", "city", "city_type", "plan", "acquisition_channel", "age_band")
WINDOW_METRICS = (
    "events",
    "active_days",
    "sessions",
    "purchases",
    "spend",
    "searches",
    "support_tickets",
    "promo_views",
    "promo_purchases",
)
TREND_METRICS = ("events", "sessions", "purchases", "spend")
SEED_COLUMNS = ("frequency", "monetary", "last_activity_date", "last_purchase_date")

NEEDS = {
    "events": EVENT_COLUMNS,
    "customer_history": ("customer_key", "updated_at", *STATE_ATTRIBUTES),
    "prices": ("product_id", "price", "valid_from", "valid_to"),
    "weather": ("date", "country", "city", "temp_c", "condition"),
}


def _schema() -> T.StructType:
    fields = [
        T.StructField("as_of_date", T.DateType()),
        T.StructField("customer_key", T.StringType()),
        T.StructField("signup_date", T.DateType()),
        *[T.StructField(a, T.StringType()) for a in STATE_ATTRIBUTES[1:]],
        T.StructField("days_since_signup", T.IntegerType()),
        T.StructField("last_activity_date", T.DateType()),
        T.StructField("days_since_last_activity", T.IntegerType()),
        T.StructField("last_purchase_date", T.DateType()),
        T.StructField("recency_days", T.IntegerType()),
        T.StructField("frequency", T.LongType()),
        T.StructField("monetary", MONEY),
        T.StructField("avg_order_value", T.DoubleType()),
    ]
    for w in WINDOWS:
        for m in WINDOW_METRICS:
            fields.append(T.StructField(f"{m}_{w}d", MONEY if m == "spend" else T.LongType()))
    for m in TREND_METRICS:
        fields.append(T.StructField(f"{m}_trend_7_30", T.DoubleType()))
        fields.append(T.StructField(f"{m}_trend_30_90", T.DoubleType()))
    fields += [
        T.StructField("weekend_share_90d", T.DoubleType()),
        T.StructField("evening_share_90d", T.DoubleType()),
        T.StructField("plan_changes_90d", T.LongType()),
        T.StructField("plan_changes_total", T.LongType()),
        T.StructField("days_since_plan_change", T.IntegerType()),
        T.StructField("price_increases_seen_90d", T.LongType()),
        T.StructField("price_decreases_seen_90d", T.LongType()),
        T.StructField("rain_days_7d", T.LongType()),
        T.StructField("avg_temp_c_7d", T.DoubleType()),
    ]
    return T.StructType(fields)


SCHEMA = _schema()


def anchors(history: DataFrame, days: DayRange) -> DataFrame:
    """(customer, as-of date, state) for every as-of date in `days` whose customer was known before it.

    The state for as-of D is the one in force at the end of D - 1; a state in force on days
    [valid_from, valid_to] therefore serves as-of dates [valid_from + 1, valid_to + 1].
    """
    states = state_intervals(history.select("customer_key", "updated_at", *STATE_ATTRIBUTES))
    lo = F.greatest(F.date_add("valid_from", 1), F.lit(days.start))
    hi = F.least(F.coalesce(F.date_add("valid_to", 1), F.lit(days.end)), F.lit(days.end))
    return (
        states.filter(lo <= hi)
        .select("customer_key", *STATE_ATTRIBUTES, F.explode(F.sequence(lo, hi)).alias("as_of_date"))
        .filter(F.col("signup_date") < F.col("as_of_date"))
    )


def plan_changes(history: DataFrame) -> DataFrame:
    """One row per received plan change (a state whose plan differs from the previous state's)."""
    previous = F.lag("plan").over(Window.partitionBy("customer_key").orderBy("updated_at"))
    day = F.to_date("updated_at")
    marked = history.select("customer_key", "updated_at", "plan", previous.alias("previous_plan"))
    return marked.filter(F.col("previous_plan") != F.col("plan")).select(
        "customer_key",
        day.alias("event_date"),
        F.lit(1).cast("bigint").alias("plan_changes"),
        day.alias("plan_change_day"),
    )


def price_exposure(events: DataFrame, prices: DataFrame) -> DataFrame:
    """Per customer and day: carts and purchases made at a price that had recently gone up / down."""
    previous = F.lag("price").over(Window.partitionBy("product_id").orderBy("valid_from"))
    changed = prices.select(
        F.col("product_id").alias("p_product_id"),
        F.col("price").alias("p_price"),
        previous.alias("p_previous"),
        F.col("valid_from").alias("p_from"),
        F.col("valid_to").alias("p_to"),
    ).filter(F.col("p_previous").isNotNull())
    seen = events.filter(
        F.col("customer_key").isNotNull()
        & F.col("event_type").isin("add_to_cart", "purchase")
        & F.col("product_id").isNotNull()
    )
    ts = F.col("event_ts")
    joined = seen.join(
        F.broadcast(changed),
        (F.col("product_id") == F.col("p_product_id"))
        & (ts >= F.col("p_from"))
        & (F.col("p_to").isNull() | (ts < F.col("p_to")))
        & (ts < F.col("p_from") + F.expr(f"INTERVAL {PRICE_CHANGE_RECENT_DAYS} DAYS")),
        how="inner",
    )
    return joined.groupBy("customer_key", "event_date").agg(
        F.sum(F.when(F.col("p_price") > F.col("p_previous"), 1).otherwise(0))
        .cast("bigint")
        .alias("price_increases"),
        F.sum(F.when(F.col("p_price") < F.col("p_previous"), 1).otherwise(0))
        .cast("bigint")
        .alias("price_decreases"),
    )


def weather_exposure(weather: DataFrame, days: DayRange) -> DataFrame:
    """(country, city, as_of_date): rain/snow days and mean temperature over the 7 days before."""
    rows = weather.select(
        "country",
        "city",
        "date",
        F.when(F.col("condition").isin(*BAD_WEATHER), 1).when(F.col("condition").isNotNull(), 0).alias("bad"),
        F.col("temp_c").cast("double").alias("temp_c"),
        F.when(F.col("temp_c").isNotNull(), 1).alias("has_temp"),
    )
    cities = (
        rows.select("country", "city")
        .distinct()
        .select("country", "city", F.explode(days.sequence()).alias("as_of_date"))
    )
    out = framed(
        rows,
        cities,
        ["country", "city"],
        "date",
        "as_of_date",
        [
            trailing("rain_days_7d", "bad", WEATHER_DAYS),
            trailing("temp_sum", "temp_c", WEATHER_DAYS, how="sum"),
            trailing("temp_days", "has_temp", WEATHER_DAYS),
        ],
    )
    return out.select(
        "country",
        "city",
        "as_of_date",
        F.col("rain_days_7d").cast("bigint").alias("rain_days_7d"),
        F.when(F.col("temp_days") > 0, F.col("temp_sum") / F.col("temp_days")).alias("avg_temp_c_7d"),
    )


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator.cast("double") / denominator.cast("double"))


# Every trailing number of a row, over the customer-day stream (see `windows.framed`). The `new_*`
# lifetime parts sum only days from `lifetime_from` on: the seed already holds the days before.
FRAMES = (
    *[trailing(f"{m}_{w}d", m, w) for w in WINDOWS for m in WINDOW_METRICS],
    trailing("weekend_events_90d", "weekend_events", 90),
    trailing("evening_events_90d", "evening_events", 90),
    trailing("price_increases_seen_90d", "price_increases", 90),
    trailing("price_decreases_seen_90d", "price_decreases", 90),
    trailing("plan_changes_90d", "plan_changes", 90),
    trailing("plan_changes_total", "plan_changes", None),
    trailing("last_plan_change_day", "plan_change_day", None, how="max"),
    trailing("new_purchases", "lt_purchases", None),
    trailing("new_spend", "lt_spend", None),
    trailing("new_last_activity", "lt_active_day", None, how="max"),
    trailing("new_last_purchase", "lt_purchase_day", None, how="max"),
)


def customer_activity(lifetime_from: dt.date) -> Callable[[DataFrame], DataFrame]:
    """Customer-days with their lifetime parts nulled before `lifetime_from`: the window numbers need
    those days, but the seed's lifetime numbers already count them."""

    def step(events: DataFrame) -> DataFrame:
        recent = F.col("event_date") >= F.lit(lifetime_from)
        return customer_days(events).select(
            "*",
            F.lit(1).cast("bigint").alias("active_days"),
            F.when(recent, F.col("purchases")).alias("lt_purchases"),
            F.when(recent, F.col("spend")).alias("lt_spend"),
            F.when(recent, F.col("event_date")).alias("lt_active_day"),
            F.when(recent & (F.col("purchases") > 0), F.col("event_date")).alias("lt_purchase_day"),
        )

    return step


def customer_daily(
    history: DataFrame, prices: DataFrame, lifetime_from: dt.date
) -> Callable[[DataFrame], DataFrame]:
    """Activity, price exposure and plan changes as one stream of customer-day rows, so that one sort
    per customer slides every window over all three."""

    def step(events: DataFrame) -> DataFrame:
        return (
            events.transform(customer_activity(lifetime_from))
            .unionByName(price_exposure(events, prices), allowMissingColumns=True)
            .unionByName(plan_changes(history), allowMissingColumns=True)
        )

    return step


def customer_windows(days: DayRange, history: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """One row per customer and as-of date with every FRAMES number, each over days strictly before the
    as-of date: nothing on or after it can leak into the row."""

    def step(daily: DataFrame) -> DataFrame:
        return framed(daily, anchors(history, days), ["customer_key"], "event_date", "as_of_date", FRAMES)

    return step


def with_seed(seed: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """The seed's lifetime numbers as `seed_*` columns (null without a seed, or for a customer new since
    it), so the lifetime columns are computed the same way with or without one."""

    def step(rows: DataFrame) -> DataFrame:
        if seed is None:
            return rows.select("*", *[F.lit(None).alias(f"seed_{c}") for c in SEED_COLUMNS])
        return rows.join(
            seed.select("customer_key", *[F.col(c).alias(f"seed_{c}") for c in SEED_COLUMNS]),
            on="customer_key",
            how="left",
        )

    return step


def with_weather(weather: DataFrame, days: DayRange) -> Callable[[DataFrame], DataFrame]:
    """Weather by the city of the state in force: a customer who moves gets the new city's weather."""

    def step(rows: DataFrame) -> DataFrame:
        return rows.join(weather_exposure(weather, days), on=["country", "city", "as_of_date"], how="left")

    return step


def _lifetime_columns() -> dict[str, Column]:
    """Whole-history numbers as seed plus days since: exact without reading the whole history."""
    as_of = F.col("as_of_date")
    frequency = F.coalesce(F.col("seed_frequency"), F.lit(0)) + F.col("new_purchases")
    monetary = (F.coalesce(F.col("seed_monetary"), F.lit(0)) + F.col("new_spend")).cast(MONEY)
    last_activity = F.greatest(F.col("seed_last_activity_date"), F.col("new_last_activity"))
    last_purchase = F.greatest(F.col("seed_last_purchase_date"), F.col("new_last_purchase"))
    return {
        "days_since_signup": F.datediff(as_of, F.col("signup_date")),
        "last_activity_date": last_activity,
        "days_since_last_activity": F.datediff(as_of, last_activity),
        "last_purchase_date": last_purchase,
        "recency_days": F.datediff(as_of, last_purchase),
        "frequency": frequency,
        "monetary": monetary,
        "avg_order_value": _ratio(monetary, frequency),
        "days_since_plan_change": F.datediff(as_of, F.col("last_plan_change_day")),
    }


def _habit_columns() -> dict[str, Column]:
    """Shares and daily rates rather than counts, so that customers of different activity levels and
    windows of 7, 30 and 90 days compare."""
    habits = {
        "weekend_share_90d": _ratio(F.col("weekend_events_90d"), F.col("events_90d")),
        "evening_share_90d": _ratio(F.col("evening_events_90d"), F.col("events_90d")),
    }
    for m in TREND_METRICS:
        rate = {w: F.col(f"{m}_{w}d").cast("double") / F.lit(float(w)) for w in WINDOWS}
        habits[f"{m}_trend_7_30"] = rate[7] - rate[30]
        habits[f"{m}_trend_30_90"] = rate[30] - rate[90]
    return habits


def feature_rows(rows: DataFrame) -> DataFrame:
    """The table's columns (SCHEMA is the contract); helper columns (seed, frames' parts) stop here."""
    derived = {**_lifetime_columns(), **_habit_columns()}
    return rows.select(*[derived.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name) for f in SCHEMA])


def customer_features(
    days: DayRange,
    history: DataFrame,
    prices: DataFrame,
    weather: DataFrame,
    seed: DataFrame | None,
    lifetime_from: dt.date,
) -> Callable[[DataFrame], DataFrame]:
    """events -> customer_features rows for the as-of dates `days`.

    `events` must cover [days.start - 90, days.end - 1] (and, without a seed, everything since
    `lifetime_from`); `seed` is the table's rows as of `lifetime_from` (their lifetime numbers count
    events before `lifetime_from`), or None when `lifetime_from` is the first silver day.
    """

    def transform(events: DataFrame) -> DataFrame:
        return (
            events.transform(customer_daily(history, prices, lifetime_from))
            .transform(customer_windows(days, history))
            .transform(with_seed(seed))
            .transform(with_weather(weather, days))
            .transform(feature_rows)
        )

    return transform
