"""The demand dataset: one row per product and day with a purchase, built in Spark from silver.

Every purchase line gets the list price in force at its timestamp from the price history; lines are
aggregated per product and day (the finest grain at which a price holds) into purchase lines, units,
the mean log list price and the share of lines bought with a promo code, with the day's weather
averaged over all cities. Each row also carries its category, so the same table read per category and
day is the category's demand against its prices. The table is bounded by products x days (tens of
thousands of rows for a year of a few hundred products), which is why the fit may collect it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.ml.demand_model import WEATHER_COLUMNS

DEMAND_SCHEMA = T.StructType(
    [
        T.StructField("category", T.StringType(), False),
        T.StructField("product_id", T.StringType(), False),
        T.StructField("date", T.DateType(), False),
        T.StructField("day_of_week", T.IntegerType(), False),
        T.StructField("purchases", T.LongType(), False),
        T.StructField("quantity", T.LongType(), False),
        T.StructField("log_price", T.DoubleType(), False),
        T.StructField("promo_share", T.DoubleType(), False),
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

    The unit cost's basis until a cost feed exists: the first price is the one least shaped by the
    price moves the model is meant to judge.
    """
    return prices.groupBy("product_id").agg(
        F.min_by("category", "valid_from").alias("category"),
        F.min_by(F.col("price").cast("double"), "valid_from").alias("base_price"),
    )


def daily_weather(weather: DataFrame | None) -> DataFrame | None:
    """(date, temp_c, precipitation_mm) averaged over every city.

    Purchases carry no city here, so the weather can only be one exogenous control shared by all
    products; None (no weather table) lets the fit go on without it.
    """
    if weather is None:
        return None
    return weather.groupBy("date").agg(
        F.avg("temp_c").alias("temp_c"),
        F.avg("precipitation_mm").alias("precipitation_mm"),
    )


def demand_by_product_day(purchases: DataFrame, weather: DataFrame | None) -> DataFrame:
    """One row per (product, date) with a purchase (DEMAND_SCHEMA).

    A product-day is the finest grain at which one list price holds, so averaging over it loses no
    price variation while bounding the rows the driver later collects.
    """
    daily = purchases.groupBy("category", "product_id", F.col("event_date").alias("date")).agg(
        F.count(F.lit(1)).alias("purchases"),
        F.sum("quantity").alias("quantity"),
        F.avg(F.log("list_price")).alias("log_price"),
        F.avg(F.col("with_promo").cast("double")).alias("promo_share"),
    )
    daily_means = daily_weather(weather)
    if daily_means is None:
        with_weather = daily.select("*", *[F.lit(None).cast("double").alias(c) for c in WEATHER_COLUMNS])
    else:
        with_weather = daily.join(daily_means, on="date", how="left")
    derived = {"day_of_week": F.dayofweek("date")}
    return with_weather.select(
        *[derived.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name) for f in DEMAND_SCHEMA.fields]
    )
