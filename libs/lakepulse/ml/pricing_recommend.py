"""Margin-maximising price recommendations within a guardrail (Spark), from a model's elasticities.

With q(p) = q0 (p/p0)^e and unit cost c, the margin (p - c) q(p) peaks at p* = c e / (1 + e) when
e < -1 and rises without bound otherwise; the margin is unimodal, so clipping p* to the guardrail
[p0 (1 - m), p0 (1 + m)] gives the best price within it. A category whose interval does not exclude
zero keeps its prices: a price move on a noise estimate is not a recommendation. The recommendation
assumes the number of purchases does not react to price, as the demand model does (docs/models.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.ml.demand_model import DemandModel

RECOMMENDATIONS_SCHEMA = T.StructType(
    [
        T.StructField("product_id", T.StringType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("current_price", T.DecimalType(12, 2), False),
        T.StructField("recommended_price", T.DecimalType(12, 2), False),
        T.StructField("price_change_pct", T.DoubleType(), False),
        T.StructField("unit_cost", T.DecimalType(12, 2), False),
        T.StructField("elasticity", T.DoubleType(), False),
        T.StructField("baseline_daily_quantity", T.DoubleType(), False),
        T.StructField("expected_daily_quantity", T.DoubleType(), False),
        T.StructField("expected_demand_change_pct", T.DoubleType(), False),
        T.StructField("current_daily_margin", T.DoubleType(), False),
        T.StructField("expected_daily_margin", T.DoubleType(), False),
        T.StructField("expected_margin_change", T.DoubleType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("as_of_date", T.DateType(), False),
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("generated_at", T.TimestampType(), False),
    ]
)


def baseline_demand(demand: DataFrame, as_of: dt.date, baseline_days: int) -> DataFrame:
    """(q_product_id, q0): mean daily units over the `baseline_days` days up to `as_of`.

    Divided by the window's length, not by the days with a purchase, so a day without one counts as
    zero demand rather than vanishing from the mean.
    """
    start = as_of - dt.timedelta(days=baseline_days - 1)
    return (
        demand.filter(F.col("date").between(F.lit(start), F.lit(as_of)))
        .groupBy(F.col("product_id").alias("q_product_id"))
        .agg((F.sum("quantity") / F.lit(float(baseline_days))).alias("q0"))
    )


def recommendation_inputs(
    demand: DataFrame,
    elasticities: DataFrame,
    as_of: dt.date,
    unit_cost_ratio: float,
    baseline_days: int,
) -> DataFrame:
    """(product_id, category, p0, cost, q0, elasticity, ci_high) per product with a list price at the
    end of `as_of` (gold/product_demand_daily's closing price: the price in force now).

    A product of a category without an estimate is left out: there is nothing to recommend from.
    """
    current = demand.filter((F.col("date") == F.lit(as_of)) & F.col("list_price").isNotNull()).select(
        "product_id",
        "category",
        F.col("list_price").alias("p0"),
        (F.col("base_price") * F.lit(unit_cost_ratio)).alias("cost"),
    )
    recent = baseline_demand(demand, as_of, baseline_days)
    e = elasticities.select(F.col("category").alias("e_category"), "elasticity", "ci_high")
    return (
        current.join(recent, current["product_id"] == recent["q_product_id"], how="left")
        .join(e, current["category"] == e["e_category"], how="inner")
        .filter(F.col("elasticity").isNotNull())
        .select(
            "product_id",
            "category",
            "p0",
            "cost",
            F.coalesce("q0", F.lit(0.0)).alias("q0"),
            "elasticity",
            "ci_high",
        )
    )


def _reason(
    not_significant: Column, inelastic: Column, optimum: Column, lower: Column, upper: Column
) -> Column:
    return (
        F.when(not_significant, F.lit("kept: elasticity not significantly negative"))
        .when(inelastic, F.lit("inelastic: raised to the guardrail"))
        .when(optimum < lower, F.lit("optimum below the guardrail: lowered to it"))
        .when(optimum > upper, F.lit("optimum above the guardrail: raised to it"))
        .otherwise(F.lit("margin optimum within the guardrail"))
    )


def with_recommended_price(max_change: float) -> Callable[[DataFrame], DataFrame]:
    """Adds p1 (the best whole-cent price within p0 +- max_change) and the reason for it.

    Rounded to cents and then clamped again, so rounding can never step outside the guardrail.
    """

    def transform(inputs: DataFrame) -> DataFrame:
        lower = F.col("p0") * F.lit(1.0 - max_change)
        upper = F.col("p0") * F.lit(1.0 + max_change)
        optimum = F.col("cost") * F.col("elasticity") / (F.lit(1.0) + F.col("elasticity"))
        not_significant = F.col("ci_high").isNull() | (F.col("ci_high") >= 0)
        inelastic = F.col("elasticity") >= -1
        raw = (
            F.when(not_significant, F.col("p0"))
            .when(inelastic, upper)
            .otherwise(F.least(F.greatest(optimum, lower), upper))
        )
        cents = F.least(F.greatest(F.round(raw, 2), F.ceil(lower * 100) / 100), F.floor(upper * 100) / 100)
        return inputs.select(
            "*",
            F.when(not_significant, F.col("p0")).otherwise(cents).alias("p1"),
            _reason(not_significant, inelastic, optimum, lower, upper).alias("reason"),
        )

    return transform


def with_expected_demand(priced: DataFrame) -> DataFrame:
    """Adds q1, the daily units the demand curve expects at p1, so margins can be compared."""
    q1 = F.col("q0") * F.pow(F.col("p1") / F.col("p0"), F.col("elasticity"))
    return priced.select("*", q1.alias("q1"))


def to_recommendations(
    as_of: dt.date, model_version: int, generated_at: dt.datetime
) -> Callable[[DataFrame], DataFrame]:
    """The gold table's rows (RECOMMENDATIONS_SCHEMA), stamped with the model and day they rest on."""

    def transform(expected: DataFrame) -> DataFrame:
        margin0 = (F.col("p0") - F.col("cost")) * F.col("q0")
        margin1 = (F.col("p1") - F.col("cost")) * F.col("q1")
        demand_change = F.when(F.col("q0") > 0, (F.col("q1") / F.col("q0") - 1) * 100).otherwise(F.lit(0.0))
        rows = expected.select(
            "product_id",
            "category",
            F.col("p0").alias("current_price"),
            F.col("p1").alias("recommended_price"),
            ((F.col("p1") / F.col("p0") - 1) * 100).alias("price_change_pct"),
            F.col("cost").alias("unit_cost"),
            "elasticity",
            F.col("q0").alias("baseline_daily_quantity"),
            F.col("q1").alias("expected_daily_quantity"),
            demand_change.alias("expected_demand_change_pct"),
            margin0.alias("current_daily_margin"),
            margin1.alias("expected_daily_margin"),
            (margin1 - margin0).alias("expected_margin_change"),
            "reason",
            F.lit(as_of).alias("as_of_date"),
            F.lit(int(model_version)).alias("model_version"),
            F.lit(generated_at).cast("timestamp").alias("generated_at"),
        )
        return rows.select(
            *[F.col(f.name).cast(f.dataType).alias(f.name) for f in RECOMMENDATIONS_SCHEMA.fields]
        )

    return transform


def recommendations(
    demand: DataFrame,
    elasticities: DataFrame,
    as_of: dt.date,
    max_change: float,
    unit_cost_ratio: float,
    baseline_days: int,
    model_version: int,
    generated_at: dt.datetime,
) -> DataFrame:
    """One row per product with a current price and an estimate (RECOMMENDATIONS_SCHEMA).

    `demand`: gold/product_demand_daily (at least the baseline window's days); `elasticities`:
    (category, elasticity, ci_high). Baseline demand is the product's mean daily quantity over the
    `baseline_days` days up to `as_of` (days without a purchase count as zero).
    """
    return (
        recommendation_inputs(demand, elasticities, as_of, unit_cost_ratio, baseline_days)
        .transform(with_recommended_price(max_change))
        .transform(with_expected_demand)
        .transform(to_recommendations(as_of, model_version, generated_at))
    )


def elasticities_from_model(spark: SparkSession, model: DemandModel) -> DataFrame:
    """(category, elasticity, ci_high) of a loaded model, NaN as null.

    The recommendations drop a null elasticity and read a null bound as not significant; a NaN would
    instead pass the null filter and carry into every figure computed from it.
    """
    rows = [
        (
            c,
            f.elasticity if math.isfinite(f.elasticity) else None,
            f.ci_high if math.isfinite(f.ci_high) else None,
        )
        for c, f in model.category_fits().items()
    ]
    return spark.createDataFrame(rows, "category string, elasticity double, ci_high double")
