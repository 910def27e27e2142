"""Product price paths: a few changes of 5-20% per product over the period, within a bounded band.

Each product's path is a fold over its change days (`F.aggregate`), so a step can bounce off the band
instead of drifting away: demand then stays inside the range where the planted curve holds.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakepulse_sample import dims
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import uniform

PRICE_CSV_COLUMNS = ("product_id", "category", "price", "currency", "effective_from")
CURRENCY = "EUR"


def with_price_path(p: GenerateParams) -> Callable[[DataFrame], DataFrame]:
    """Adds `changes`: array<struct<day, level, delta>> with day 0 the initial price (level = log of
    price / product base price)."""
    rate = min(0.3, dims.CHANGES_PER_PRODUCT / p.days)
    lo, hi = dims.PRICE_STEP
    bound = dims.PRICE_LEVEL_BOUND

    def change(level: Column, day: Column) -> Column:
        return F.struct(day.alias("day"), level.alias("level"))

    def step(acc: Column, day: Column) -> Column:
        size = F.log(1.0 + lo + (hi - lo) * uniform(p.seed, "price_step", "product_idx", day))
        signed = F.when(uniform(p.seed, "price_dir", "product_idx", day) < 0.5, size).otherwise(-size)
        proposed = acc["level"] + signed
        level = F.when(F.abs(proposed) > bound, acc["level"] - signed).otherwise(proposed)
        return F.struct(
            level.alias("level"),
            F.concat(acc["changes"], F.array(change(level, day))).alias("changes"),
        )

    def transform(products: DataFrame) -> DataFrame:
        change_days = F.filter(
            F.sequence(F.lit(1), F.lit(p.days - 1)),
            lambda d: uniform(p.seed, "price_change", "product_idx", d) < rate,
        )
        start = F.struct(F.lit(0.0).alias("level"), F.array(change(F.lit(0.0), F.lit(0))).alias("changes"))
        return products.withColumn(
            "changes", F.aggregate(change_days, start, step, lambda acc: acc["changes"])
        )

    return transform


def price_at(base_price: Column, level: Column) -> Column:
    """The one rounding rule, shared by the prices feed and the prices charged in events."""
    return F.round(base_price * F.exp(level), 2).cast("decimal(12,2)")


def price_changes(products_with_path: DataFrame) -> DataFrame:
    """One row per product and change day (day 0 = initial price), with the change in log level."""
    return products_with_path.select(
        "product_idx",
        "product_id",
        "category_idx",
        "category",
        "product_base_price",
        F.posexplode("changes").alias("n", "c"),
    ).select(  # fmt: skip
        "product_idx",
        "product_id",
        "category_idx",
        "category",
        F.col("c.day").alias("day"),
        price_at(F.col("product_base_price"), F.col("c.level")).alias("price"),
        F.col("c.level").alias("level"),
    )


def daily_prices(products_with_path: DataFrame, p: GenerateParams) -> DataFrame:
    """(product_idx, day) -> the price valid that day: small (products x days), joined by broadcast."""
    days = F.sequence(F.lit(0), F.lit(p.days - 1))
    return products_with_path.select(
        "product_idx",
        "product_id",
        "category_idx",
        "category",
        "product_base_price",
        "changes",
        F.explode(days).alias("day"),
    ).select(  # fmt: skip
        "product_idx",
        "product_id",
        "category_idx",
        "category",
        "day",
        price_at(
            F.col("product_base_price"),
            F.aggregate(
                "changes",
                F.lit(0.0),
                lambda acc, c: F.when(c["day"] <= F.col("day"), c["level"]).otherwise(acc),
            ),
        ).alias("unit_price"),
    )


def category_rises(products_with_path: DataFrame, days: int, window: int) -> DataFrame:
    """Per category, `rises[d]` = the average rise in log price over its products during the `window`
    days before day d (d = 0 .. days-1): what a fan of the category has just experienced.

    Computed once per category (a handful of rows) so that the churn hazard reads it by index.
    """
    rises = products_with_path.select(
        "category_idx",
        F.explode(
            F.zip_with(
                F.slice("changes", 2, 1_000_000),
                F.slice("changes", 1, 1_000_000),
                lambda now, before: F.struct(
                    now["day"].alias("day"), (now["level"] - before["level"]).alias("delta")
                ),
            )
        ).alias("c"),
    ).where(F.col("c.delta") > 0)
    per_category = rises.groupBy("category_idx").agg(
        # sorted, so that the sums below (and every churn draw after them) are the same on every run
        F.array_sort(
            F.collect_list(F.struct(F.col("c.day").alias("day"), F.col("c.delta").alias("delta")))
        ).alias("rise_days")
    )
    in_window = lambda d: lambda r: (r["day"] < d) & (r["day"] >= d - window)  # noqa: E731
    return per_category.select(
        "category_idx",
        F.transform(
            F.sequence(F.lit(0), F.lit(days - 1)),
            lambda d: (
                F.aggregate(F.filter("rise_days", in_window(d)), F.lit(0.0), lambda acc, r: acc + r["delta"])
                / dims.PRODUCTS_PER_CATEGORY
            ),
        ).alias("rises"),
    )


def prices_feed(changes: DataFrame, p: GenerateParams) -> DataFrame:
    """The prices CSV rows: the first day holds every product's initial price, later days only changes."""
    return changes.select(
        F.date_format(F.date_add(F.lit(p.start), F.col("day")), "yyyy-MM-dd").alias("date"),
        F.col("product_id"),
        F.col("category"),
        F.col("price").cast("string").alias("price"),
        F.lit(CURRENCY).alias("currency"),
        F.date_format(F.date_add(F.lit(p.start), F.col("day")), "yyyy-MM-dd'T00:00:00Z'").alias(
            "effective_from"
        ),
    )
