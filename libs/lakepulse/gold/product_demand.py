"""gold/product_demand_daily: per product and day, the demand the pricing model fits on and the prices
its recommendations start from.

Every purchase line gets the list price in force at its timestamp from the price history; lines are
aggregated per product and day (the finest grain at which one list price holds) into purchase lines,
units, the mean log list price and the share of lines bought with a promo code, with the day's weather
averaged over all cities. A product also has a row on a day it sold nothing while it had a list price
(zero lines and units), carrying its closing list price (the one in force at the end of the day) and
its first known price, so the recommendations' current prices, unit costs and zero-demand days come
from this table and the pricing model reads gold only. Rows are bounded by products x days.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.planner import DayRange

WEATHER_COLUMNS = ("temp_c", "precipitation_mm")
NEEDS = {
    "events": ("event_ts", "event_date", "event_type", "product_id", "category", "quantity", "promo_code"),
    "prices": ("product_id", "category", "price", "valid_from", "valid_to"),
    "weather": ("date", *WEATHER_COLUMNS),
}

SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("product_id", T.StringType(), False),
        T.StructField("day_of_week", T.IntegerType(), False),
        T.StructField("purchases", T.LongType(), False),
        T.StructField("quantity", T.LongType(), False),
        T.StructField("log_price", T.DoubleType(), True),  # null on a day without a purchase
        T.StructField("promo_share", T.DoubleType(), True),  # null on a day without a purchase
        T.StructField("list_price", T.DoubleType(), True),  # closing list price; null if delisted that day
        T.StructField("base_price", T.DoubleType(), True),  # the product's first known list price
        T.StructField("temp_c", T.DoubleType(), True),
        T.StructField("precipitation_mm", T.DoubleType(), True),
    ]
)


def purchases_at_list_price(events: DataFrame, prices: DataFrame) -> DataFrame:
    """Purchase lines with the list price in force at their timestamp.

    The list price, not the line's own unit price: a promo discount is a control of its own
    (promo share), and mixing it into the price would credit the promo's lift to the price. A line
    before any known price has no price to learn from and is dropped by the inner join.
    """
    buys = events.filter(
        (F.col("event_type") == "purchase")
        & F.col("product_id").isNotNull()
        & F.col("category").isNotNull()
        & (F.col("quantity") > 0)
    ).select(
        "event_ts",
        "event_date",
        "product_id",
        "category",
        F.col("quantity").cast("long").alias("quantity"),
        F.col("promo_code").isNotNull().alias("with_promo"),
    )
    history = prices.select(
        F.col("product_id").alias("h_product_id"),
        F.col("price").cast("double").alias("list_price"),
        F.col("valid_from").alias("h_valid_from"),
        F.col("valid_to").alias("h_valid_to"),
    )
    in_force = (
        (buys["product_id"] == history["h_product_id"])
        & (history["h_valid_from"] <= buys["event_ts"])
        & (history["h_valid_to"].isNull() | (buys["event_ts"] < history["h_valid_to"]))
    )
    return buys.join(history, in_force, how="inner").select(*buys.columns, "list_price")


def first_prices(prices: DataFrame) -> DataFrame:
    """(product_id, category, base_price): each product's first known price.

    The recommendations' unit cost stands on it (no cost feed yet), so it must not move with the
    price being set.
    """
    return prices.groupBy("product_id").agg(
        F.min_by("category", "valid_from").alias("category"),
        F.min_by(F.col("price").cast("double"), "valid_from").alias("base_price"),
    )


def closing_prices(prices: DataFrame, days: DayRange) -> DataFrame:
    """(product_id, p_category, date, list_price): the price in force at the end of each day of `days`.

    A price [valid_from, valid_to) holds at day D's last instant when valid_from is on or before D and
    valid_to (exclusive) is after D, so its days run from to_date(valid_from) to to_date(valid_to) - 1.
    """
    lo = F.greatest(F.to_date("valid_from"), F.lit(days.start))
    hi = F.least(F.coalesce(F.date_sub(F.to_date("valid_to"), 1), F.lit(days.end)), F.lit(days.end))
    return (
        prices.select(
            "product_id",
            F.col("category").alias("p_category"),
            F.col("price").cast("double").alias("list_price"),
            lo.alias("lo"),
            hi.alias("hi"),
        )
        .filter(F.col("lo") <= F.col("hi"))
        .select("product_id", "p_category", "list_price", F.explode(F.sequence("lo", "hi")).alias("date"))
    )


def daily_weather(weather: DataFrame | None) -> DataFrame | None:
    """(date, temp_c, precipitation_mm) averaged over every city.

    Purchases carry no city here, so the weather can only be one exogenous control shared by all
    products; None (no weather table) leaves the controls null and the fit goes on without them.
    """
    if weather is None:
        return None
    return weather.groupBy("date").agg(*[F.avg(c).alias(c) for c in WEATHER_COLUMNS])


def demand_by_product_day(purchases: DataFrame) -> DataFrame:
    """One row per (category, product, date) with a purchase at a known list price."""
    return purchases.groupBy("category", "product_id", F.col("event_date").alias("date")).agg(
        F.count(F.lit(1)).alias("purchases"),
        F.sum("quantity").alias("quantity"),
        F.avg(F.log("list_price")).alias("log_price"),
        F.avg(F.col("with_promo").cast("double")).alias("promo_share"),
    )


def product_demand_daily(
    days: DayRange, prices: DataFrame, weather: DataFrame | None
) -> Callable[[DataFrame], DataFrame]:
    """events (the days of `days`) -> SCHEMA rows for those days.

    Demand rows and closing-price rows are joined on (product, day): a day with purchases but no
    closing price (delisted that day) keeps its demand, a priced day without purchases gets zeros.
    """

    def transform(events: DataFrame) -> DataFrame:
        demand = demand_by_product_day(
            purchases_at_list_price(events.filter(days.contains("event_date")), prices)
        )
        panel = demand.join(closing_prices(prices, days), ["product_id", "date"], "full_outer")
        panel = panel.join(first_prices(prices).drop("category"), "product_id", "left")
        means = daily_weather(weather)
        if means is None:
            panel = panel.select("*", *[F.lit(None).cast("double").alias(c) for c in WEATHER_COLUMNS])
        else:
            panel = panel.join(means, "date", "left")
        derived = {
            "category": F.coalesce("category", "p_category"),
            "day_of_week": F.dayofweek("date"),
            "purchases": F.coalesce("purchases", F.lit(0)),
            "quantity": F.coalesce("quantity", F.lit(0)),
        }
        return panel.select(
            *[derived.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name) for f in SCHEMA.fields]
        )

    return transform
