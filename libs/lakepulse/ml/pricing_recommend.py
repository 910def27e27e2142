"""Margin-maximising price recommendations within a guardrail (Spark), from a model's elasticities.

With q(p) = q0 (p/p0)^e and unit cost c, the margin (p - c) q(p) peaks at p* = c e / (1 + e) when
e < -1 and rises without bound otherwise; the margin is unimodal, so clipping p* to the guardrail
[p0 (1 - m), p0 (1 + m)] gives the best price within it. A category whose interval does not exclude
zero keeps its prices: a price move on a noise estimate is not a recommendation. The recommendation
assumes the number of purchases does not react to price, as the demand model does (docs/models.md).

What a reader acts on is the expected gain, not the price move: each row carries the expected daily
volume and margin change at the recommended price with their range over the elasticity's 95% interval
(the curve evaluated at both bounds; the margin is monotone in e at a fixed price, so the bounds are the
range), whether the guardrail binds (the margin optimum lies beyond it, or demand is inelastic and the
margin keeps rising with price) and the unconstrained optimum it would otherwise be.
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
        T.StructField("expected_demand_change_pct_low", T.DoubleType(), False),
        T.StructField("expected_demand_change_pct_high", T.DoubleType(), False),
        T.StructField("expected_margin_change_low", T.DoubleType(), False),
        T.StructField("expected_margin_change_high", T.DoubleType(), False),
        T.StructField("guardrail_binds", T.BooleanType(), False),
        T.StructField("unconstrained_price", T.DoubleType(), True),
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
    """(product_id, category, p0, cost, q0, elasticity, ci_low, ci_high) per product with a list price at the
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
    e = elasticities.select(F.col("category").alias("e_category"), "elasticity", "ci_low", "ci_high")
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
            "ci_low",
            "ci_high",
        )
    )


def _reason(
    not_significant: Column, inelastic: Column, optimum: Column, lower: Column, upper: Column, m: float
) -> Column:
    """Why this price, in words a reader can check: the optimum and how far the guardrail moved it."""
    away = F.format_number(F.abs(optimum / F.col("p0") - 1) * 100, 0)
    edge = f"{m * 100:.0f}%"

    def clipped(side: str, moved: str, sign: str) -> Column:
        return F.concat(
            F.lit("margin optimum "),
            F.format_number(optimum, 2),
            F.lit(" is "),
            away,
            F.lit(f"% {side} the price: {moved} to the {sign}{edge} guardrail"),
        )

    return (
        F.when(not_significant, F.lit("kept: elasticity not significantly negative"))
        .when(
            inelastic,
            F.lit(f"inelastic (e >= -1): margin rises with price, raised to the +{edge} guardrail"),
        )
        .when(optimum < lower, clipped("below", "lowered", "-"))
        .when(optimum > upper, clipped("above", "raised", "+"))
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
        binds = ~not_significant & (inelastic | (optimum < lower) | (optimum > upper))
        return inputs.select(
            "*",
            F.when(not_significant, F.col("p0")).otherwise(cents).alias("p1"),
            _reason(not_significant, inelastic, optimum, lower, upper, max_change).alias("reason"),
            binds.alias("guardrail_binds"),
            F.when(~not_significant & ~inelastic, optimum).alias("unconstrained_price"),
        )

    return transform


def with_expected_demand(priced: DataFrame) -> DataFrame:
    """Adds q1, the daily units the demand curve expects at p1, and the same at the interval's bounds
    (q1_ci_low, q1_ci_high; a bound that is missing gives the point estimate)."""

    def at(e: Column) -> Column:
        return F.col("q0") * F.pow(F.col("p1") / F.col("p0"), e)

    e = F.col("elasticity")
    return priced.select(
        "*",
        at(e).alias("q1"),
        at(F.coalesce(F.col("ci_low"), e)).alias("q1_ci_low"),
        at(F.coalesce(F.col("ci_high"), e)).alias("q1_ci_high"),
    )


def to_recommendations(
    as_of: dt.date, model_version: int, generated_at: dt.datetime
) -> Callable[[DataFrame], DataFrame]:
    """The gold table's rows (RECOMMENDATIONS_SCHEMA), stamped with the model and day they rest on."""

    def transform(expected: DataFrame) -> DataFrame:
        margin0 = (F.col("p0") - F.col("cost")) * F.col("q0")

        def margin(q: str) -> Column:
            return (F.col("p1") - F.col("cost")) * F.col(q) - margin0

        def demand(q: str) -> Column:
            return F.when(F.col("q0") > 0, (F.col(q) / F.col("q0") - 1) * 100).otherwise(F.lit(0.0))

        margin1 = (F.col("p1") - F.col("cost")) * F.col("q1")
        demand_change = demand("q1")
        bounds = ("q1_ci_low", "q1_ci_high")
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
            F.least(*[demand(q) for q in bounds]).alias("expected_demand_change_pct_low"),
            F.greatest(*[demand(q) for q in bounds]).alias("expected_demand_change_pct_high"),
            F.least(*[margin(q) for q in bounds]).alias("expected_margin_change_low"),
            F.greatest(*[margin(q) for q in bounds]).alias("expected_margin_change_high"),
            "guardrail_binds",
            "unconstrained_price",
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
    """(category, elasticity, ci_low, ci_high) of a loaded model, NaN as null.

    The recommendations drop a null elasticity and read a null bound as not significant; a NaN would
    instead pass the null filter and carry into every figure computed from it.
    """
    rows = [
        (
            c,
            f.elasticity if math.isfinite(f.elasticity) else None,
            f.ci_low if math.isfinite(f.ci_low) else None,
            f.ci_high if math.isfinite(f.ci_high) else None,
        )
        for c, f in model.category_fits().items()
    ]
    return spark.createDataFrame(rows, "category string, elasticity double, ci_low double, ci_high double")
