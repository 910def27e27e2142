"""Daily weather per city: a seasonal temperature curve by climate, rain or snow on wet days.

Weather nudges demand (more sessions and slightly larger baskets on rainy days), so it is built first
and joined into the customer days by broadcast (cities x days is small).
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse_sample import dims
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import normal, uniform

WEATHER_CSV_COLUMNS = ("date", "country", "city", "temp_c", "precipitation_mm", "condition")


def daily_weather(spark: SparkSession, p: GenerateParams) -> DataFrame:
    """(city_idx, day) with temp_c, precipitation_mm and condition, plus its demand multipliers."""
    days = spark.range(p.days).select(F.col("id").cast("int").alias("day"))
    date = F.date_add(F.lit(p.start), F.col("day"))
    # Warmest around day-of-year 200 (mid July) in the northern hemisphere, where all cities are.
    season = F.cos(2 * math.pi * (F.dayofyear(date) - 200) / 365.25)
    temp = (
        F.col("mean_temp")
        + F.col("temp_amplitude") * season
        + 3.0 * normal(p.seed, "temp", "city_idx", "day")
    )
    wet = uniform(p.seed, "wet", "city_idx", "day") < F.col("wet_days")
    rain = F.round(0.2 - F.log(1.0 - uniform(p.seed, "rain_mm", "city_idx", "day")) * 4.0, 1)
    grid = dims.cities_df(spark).crossJoin(days)
    out = grid.select(
        "city_idx",
        "day",
        "country",
        "city",
        F.round(temp, 1).alias("temp_c"),
        F.when(wet, rain).otherwise(F.lit(0.0)).alias("precipitation_mm"),
        F.when(wet & (temp < 1.0), F.lit("snow"))
        .when(wet, F.lit("rain"))
        .when(uniform(p.seed, "cloud", "city_idx", "day") < 0.45, F.lit("cloudy"))
        .otherwise(F.lit("sunny"))
        .alias("condition"),
    )
    return out.withColumn("weather_activity", _by_condition(dims.WEATHER_ACTIVITY)).withColumn(
        "weather_quantity", _by_condition(dims.WEATHER_QUANTITY)
    )


def _by_condition(values: dict[str, float]) -> Column:
    cases = " ".join(f"WHEN '{k}' THEN CAST({v!r} AS DOUBLE)" for k, v in values.items())
    return F.expr(f"CASE condition {cases} ELSE 1.0D END")


def weather_feed(weather: DataFrame, p: GenerateParams) -> DataFrame:
    """The weather CSV rows, as strings so that number formatting is fixed here, not by the writer.

    The file keeps its own `date` column (beside the date=D folder), so it is written as text lines:
    Spark's CSV writer would drop a partition column from the rows.
    """
    return weather.select(
        F.date_format(F.date_add(F.lit(p.start), F.col("day")), "yyyy-MM-dd").alias("date"),
        "country",
        "city",
        F.format_string("%.1f", "temp_c").alias("temp_c"),
        F.format_string("%.1f", "precipitation_mm").alias("precipitation_mm"),
        "condition",
        "city_idx",
        "day",
    )
