"""Price elasticity per category from a log-log demand model, and margin-maximising price recommendations.

Demand dataset (Spark, from silver): every purchase line gets the list price in force at its timestamp
from the price history; lines are aggregated per product and day (the finest grain at which a price
holds) into purchase lines, units, the mean log list price, and the share of lines bought with a promo
code, with the day's weather averaged over all cities. Each row also carries its category, so the same
table read per category and day is the category's demand against its prices.

Model (driver, numpy): per category, weighted least squares of log(units per purchase line) on
log(price), day-of-week dummies, promo share, mean temperature and precipitation, each product-day
weighted by its number of lines (a mean over more lines is less noisy). The log-price coefficient is
the elasticity; its standard error gives a 95% t interval. The dependent variable is the intensive
margin (how much a purchase takes): the number of purchase lines is mostly driven by traffic, and at a
product-day grain its count noise would swamp the price signal. The price effect is identified from
price changes over time and from price differences between a category's products; the recommendation
therefore assumes the number of purchases does not react to price (docs/models.md).
The product-day table is bounded by products x days (tens of thousands of rows for a year of a few
hundred products), so it is collected on purpose; nothing per purchase is.

Recommendation (Spark): with q(p) = q0 (p/p0)^e and unit cost c, the margin (p - c) q(p) peaks at
p* = c e / (1 + e) when e < -1 and rises without bound otherwise; the margin is unimodal, so clipping
p* to the guardrail [p0 (1 - m), p0 (1 + m)] gives the best price within it. A category whose interval
does not exclude zero keeps its prices: a price move on a noise estimate is not a recommendation.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import mlflow.pyfunc
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.config import Config
from lakepulse.errors import LakepulseError

log = logging.getLogger("lakepulse.models")

MODEL_NAME = "lakepulse-pricing"
TEST_METRIC = "test_rmse_log_units"  # weighted holdout RMSE of log units per purchase line; lower is better

DOW_COLUMNS = tuple(f"dow_{d}" for d in range(2, 8))  # Sunday (1) is the reference day
WEATHER_COLUMNS = ("temp_c", "precipitation_mm")
CONTROL_COLUMNS = (*DOW_COLUMNS, "promo_share", *WEATHER_COLUMNS)

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

ELASTICITIES_SCHEMA = T.StructType(
    [
        T.StructField("category", T.StringType(), False),
        T.StructField("elasticity", T.DoubleType(), True),
        T.StructField("std_error", T.DoubleType(), True),
        T.StructField("ci_low", T.DoubleType(), True),
        T.StructField("ci_high", T.DoubleType(), True),
        T.StructField("r2", T.DoubleType(), True),
        T.StructField("n_observations", T.IntegerType(), False),
        T.StructField("n_days", T.IntegerType(), False),
        T.StructField("first_date", T.DateType(), True),
        T.StructField("last_date", T.DateType(), True),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("is_champion", T.BooleanType(), False),
        T.StructField("trained_at", T.TimestampType(), False),
    ]
)

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


# --------------------------------------------------------------------------------------------------
# Demand dataset (Spark)


def purchases_at_list_price(events: DataFrame, prices: DataFrame) -> DataFrame:
    """Purchase lines with the list price in force at their timestamp; a line before any price is dropped."""
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
    """(product_id, category, base_price): each product's first known price (the unit cost's basis)."""
    return prices.groupBy("product_id").agg(
        F.min_by("category", "valid_from").alias("category"),
        F.min_by(F.col("price").cast("double"), "valid_from").alias("base_price"),
    )


def daily_weather(weather: DataFrame | None) -> DataFrame | None:
    """(date, temp_c, precipitation_mm) averaged over every city: one exogenous control for all products."""
    if weather is None:
        return None
    return weather.groupBy("date").agg(
        F.avg("temp_c").alias("temp_c"), F.avg("precipitation_mm").alias("precipitation_mm")
    )


def demand_by_product_day(purchases: DataFrame, weather: DataFrame | None) -> DataFrame:
    """One row per (product, date) with a purchase: lines, units, mean log price, promo share, weather."""
    daily = purchases.groupBy("category", "product_id", F.col("event_date").alias("date")).agg(
        F.count(F.lit(1)).alias("purchases"),
        F.sum("quantity").alias("quantity"),
        F.avg(F.log("list_price")).alias("log_price"),
        F.avg(F.col("with_promo").cast("double")).alias("promo_share"),
    )
    w = daily_weather(weather)
    if w is None:
        out = daily.select("*", *[F.lit(None).cast("double").alias(c) for c in WEATHER_COLUMNS])
    else:
        out = daily.join(w, on="date", how="left")
    out = out.withColumn("day_of_week", F.dayofweek("date"))
    return out.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in DEMAND_SCHEMA.fields])


# --------------------------------------------------------------------------------------------------
# Log-log model (driver, on the bounded product x day table)


@dataclass
class CategoryFit:
    category: str
    elasticity: float
    std_error: float
    ci_low: float
    ci_high: float
    r2: float
    n_observations: int
    n_days: int
    first_date: dt.date | None
    last_date: dt.date | None
    intercept: float
    # Coefficient per control actually used (constant controls are dropped), and the controls' means
    # for filling a missing value at prediction time.
    controls: dict[str, float] = field(default_factory=dict)
    control_means: dict[str, float] = field(default_factory=dict)
    # Duan's smearing factor: mean of exp(residual), turning exp(E[log units]) into E[units].
    smearing: float = 1.0

    @property
    def significant(self) -> bool:
        return math.isfinite(self.ci_high) and self.ci_high < 0


def add_controls(frame: pd.DataFrame, fill: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Day-of-week dummies (Spark's numbering, 1 = Sunday) and filled promo share and weather."""
    out = frame.copy()
    for d in range(2, 8):
        out[f"dow_{d}"] = (out["day_of_week"].astype(int) == d).astype(float)
    for name in ("promo_share", *WEATHER_COLUMNS):
        values = out[name].astype(float)
        default = (fill or {}).get(name)
        if default is None or not math.isfinite(default):
            default = float(values.mean()) if values.notna().any() else 0.0
        out[name] = values.fillna(default)
    return out


def _nan_fit(category: str, n: int) -> CategoryFit:
    nan = float("nan")
    return CategoryFit(category, nan, nan, nan, nan, nan, n, 0, None, None, nan)


def fit_category(category: str, frame: pd.DataFrame) -> CategoryFit:
    """Weighted least squares of log(units per line) on log price and the controls; 95% t interval."""
    from scipy import stats

    data = add_controls(frame[(frame["quantity"] > 0) & (frame["purchases"] > 0)])
    n = len(data)
    controls = [c for c in CONTROL_COLUMNS if n and data[c].nunique() > 1]
    names = ["intercept", "log_price", *controls]
    x = np.column_stack(
        [np.ones(n), data["log_price"].to_numpy(float), *[data[c].to_numpy(float) for c in controls]]
    )
    y = np.log(data["quantity"].to_numpy(float) / data["purchases"].to_numpy(float))
    w = data["purchases"].to_numpy(float)
    dof = n - x.shape[1]
    if n == 0 or data["log_price"].nunique() < 2 or dof < 1 or np.linalg.matrix_rank(x) < x.shape[1]:
        return _nan_fit(category, n)
    root = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)
    residuals = y - x @ beta
    sigma2 = float((w * residuals**2).sum()) / dof
    covariance = sigma2 * np.linalg.inv((x * w[:, None]).T @ x)
    se = float(math.sqrt(covariance[1, 1]))
    half = float(stats.t.ppf(0.975, dof)) * se
    centred = y - np.average(y, weights=w)
    total = float((w * centred**2).sum())
    r2 = 1.0 - float((w * residuals**2).sum()) / total if total > 0 else float("nan")
    coef = dict(zip(names, (float(b) for b in beta), strict=True))
    return CategoryFit(
        category=category,
        elasticity=coef["log_price"],
        std_error=se,
        ci_low=coef["log_price"] - half,
        ci_high=coef["log_price"] + half,
        r2=r2,
        n_observations=n,
        n_days=int(data["date"].nunique()),
        first_date=min(data["date"]),
        last_date=max(data["date"]),
        intercept=coef["intercept"],
        controls={c: coef[c] for c in controls},
        control_means={c: float(data[c].mean()) for c in ("promo_share", *WEATHER_COLUMNS)},
        smearing=float(np.average(np.exp(residuals), weights=w)),
    )


def fit_all(frame: pd.DataFrame) -> dict[str, CategoryFit]:
    return {str(c): fit_category(str(c), part) for c, part in frame.groupby("category", sort=True)}


def predict_log_units(fits: Mapping[str, CategoryFit], frame: pd.DataFrame) -> np.ndarray:
    """E[log units per purchase line] per row; NaN for a category without a fit."""
    frame = frame.reset_index(drop=True)
    out = np.full(len(frame), np.nan)
    for category, part in frame.groupby("category", sort=False):
        fit = fits.get(str(category))
        if fit is None or not math.isfinite(fit.elasticity):
            continue
        data = add_controls(part, fit.control_means)
        value = fit.intercept + fit.elasticity * data["log_price"].to_numpy(float)
        for name, coef in fit.controls.items():
            value = value + coef * data[name].to_numpy(float)
        out[part.index.to_numpy()] = value
    return out


def holdout_split(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest `fraction` of days held out (whole days, for every category at once)."""
    days = sorted(frame["date"].unique())
    n_test = max(1, int(round(len(days) * fraction)))
    if len(days) - n_test < 10:
        raise LakepulseError(
            f"pricing: only {len(days)} days of demand; the holdout of {n_test} (models.demand_holdout_fraction) "
            "leaves fewer than 10 days to fit on"
        )
    cut = days[-n_test]
    return frame[frame["date"] < cut], frame[frame["date"] >= cut]


def holdout_rmse(fits: Mapping[str, CategoryFit], test: pd.DataFrame) -> float:
    """Line-weighted RMSE of log units per line over the held-out product-days with a prediction."""
    test = test[(test["quantity"] > 0) & (test["purchases"] > 0)].reset_index(drop=True)
    predicted = predict_log_units(fits, test)
    actual = np.log(test["quantity"].to_numpy(float) / test["purchases"].to_numpy(float))
    ok = np.isfinite(predicted)
    if not ok.any():
        return float("nan")
    w = test["purchases"].to_numpy(float)[ok]
    return float(np.sqrt(np.average((actual[ok] - predicted[ok]) ** 2, weights=w)))


def metric_key(text: str) -> str:
    """MLflow keys allow letters, digits, `_-./ `; category names may hold anything else."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)


# --------------------------------------------------------------------------------------------------
# The MLflow model: expected units per purchase, and the elasticities the recommendations use


class DemandModel(mlflow.pyfunc.PythonModel):
    """Expected units per purchase line of a category at a price, day of week, promo share and weather.

    Holds only numbers (per-category coefficients), so loading it needs no Spark. `predict` returns the
    mean, not the median: exp(E[log units]) times the fit's smearing factor.
    """

    def __init__(self, fits: Mapping[str, CategoryFit]):
        self.fits = {k: asdict(v) for k, v in fits.items()}

    def category_fits(self) -> dict[str, CategoryFit]:
        return {k: CategoryFit(**v) for k, v in self.fits.items()}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        del context, params
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        frame["log_price"] = np.log(frame["price"].astype(float))
        fits = self.category_fits()
        log_units = predict_log_units(fits, frame)
        smearing = np.array([fits[c].smearing if c in fits else np.nan for c in frame["category"]])
        return pd.DataFrame({"expected_units_per_purchase": np.exp(log_units) * smearing})


def model_input_example(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input: category, price, day_of_week (1 = Sunday .. 7), promo_share, weather."""
    return pd.DataFrame(
        {
            "category": frame["category"].astype(str),
            "price": np.exp(frame["log_price"].astype(float)).round(2),
            "day_of_week": frame["day_of_week"].astype("int32"),
            "promo_share": frame["promo_share"].astype(float),
            "temp_c": frame["temp_c"].astype(float),
            "precipitation_mm": frame["precipitation_mm"].astype(float),
        }
    ).reset_index(drop=True)


def elasticities_frame(
    spark: SparkSession,
    fits: Mapping[str, CategoryFit],
    run_id: str,
    model_version: int,
    is_champion: bool,
    trained_at: dt.datetime,
) -> DataFrame:
    def num(x: float) -> float | None:
        return None if x is None or not math.isfinite(x) else float(x)

    rows = [
        (
            f.category,
            num(f.elasticity),
            num(f.std_error),
            num(f.ci_low),
            num(f.ci_high),
            num(f.r2),
            int(f.n_observations),
            int(f.n_days),
            f.first_date,
            f.last_date,
            run_id,
            int(model_version),
            bool(is_champion),
            trained_at,
        )
        for f in fits.values()
    ]
    return spark.createDataFrame(rows, ELASTICITIES_SCHEMA)


# --------------------------------------------------------------------------------------------------
# Recommendations (Spark)


def recommendations(
    prices: DataFrame,
    purchases: DataFrame,
    elasticities: DataFrame,
    as_of: dt.date,
    max_change: float,
    unit_cost_ratio: float,
    baseline_days: int,
    model_version: int,
    generated_at: dt.datetime,
) -> DataFrame:
    """One row per product with a current price (RECOMMENDATIONS_SCHEMA).

    `elasticities`: (category, elasticity, ci_high). Baseline demand is the product's mean daily
    quantity over the `baseline_days` days up to `as_of` (days without a purchase count as zero).
    """
    current = prices.filter(F.col("valid_to").isNull()).select(
        "product_id", "category", F.col("price").cast("double").alias("p0")
    )
    costs = first_prices(prices).select(
        F.col("product_id").alias("c_product_id"),
        (F.col("base_price") * F.lit(unit_cost_ratio)).alias("cost"),
    )
    start = as_of - dt.timedelta(days=baseline_days - 1)
    recent = (
        purchases.filter(F.col("event_date").between(F.lit(start), F.lit(as_of)))
        .groupBy(F.col("product_id").alias("q_product_id"))
        .agg((F.sum("quantity") / F.lit(float(baseline_days))).alias("q0"))
    )
    e = elasticities.select(F.col("category").alias("e_category"), "elasticity", "ci_high")
    base = (
        current.join(costs, current["product_id"] == costs["c_product_id"], how="inner")
        .join(recent, current["product_id"] == recent["q_product_id"], how="left")
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
    # Whole cents, still inside the guardrail after rounding.
    cents = F.least(F.greatest(F.round(raw, 2), F.ceil(lower * 100) / 100), F.floor(upper * 100) / 100)
    reason = (
        F.when(not_significant, F.lit("kept: elasticity not significantly negative"))
        .when(inelastic, F.lit("inelastic: raised to the guardrail"))
        .when(optimum < lower, F.lit("optimum below the guardrail: lowered to it"))
        .when(optimum > upper, F.lit("optimum above the guardrail: raised to it"))
        .otherwise(F.lit("margin optimum within the guardrail"))
    )
    with_price = base.select(
        "*", F.when(not_significant, F.col("p0")).otherwise(cents).alias("p1"), reason.alias("reason")
    )
    q1 = F.col("q0") * F.pow(F.col("p1") / F.col("p0"), F.col("elasticity"))
    out = with_price.select("*", q1.alias("q1"))
    margin0 = (F.col("p0") - F.col("cost")) * F.col("q0")
    margin1 = (F.col("p1") - F.col("cost")) * F.col("q1")
    return out.select(
        "product_id",
        "category",
        F.col("p0").cast("decimal(12,2)").alias("current_price"),
        F.col("p1").cast("decimal(12,2)").alias("recommended_price"),
        ((F.col("p1") / F.col("p0") - 1) * 100).alias("price_change_pct"),
        F.col("cost").cast("decimal(12,2)").alias("unit_cost"),
        "elasticity",
        F.col("q0").alias("baseline_daily_quantity"),
        F.col("q1").alias("expected_daily_quantity"),
        F.when(F.col("q0") > 0, (F.col("q1") / F.col("q0") - 1) * 100)
        .otherwise(F.lit(0.0))
        .alias("expected_demand_change_pct"),
        margin0.alias("current_daily_margin"),
        margin1.alias("expected_daily_margin"),
        (margin1 - margin0).alias("expected_margin_change"),
        "reason",
        F.lit(as_of).alias("as_of_date"),
        F.lit(int(model_version)).alias("model_version"),
        F.lit(generated_at).cast("timestamp").alias("generated_at"),
    ).select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in RECOMMENDATIONS_SCHEMA.fields])


def elasticities_from_model(spark: SparkSession, model: DemandModel) -> DataFrame:
    rows = [
        (
            c,
            f.elasticity if math.isfinite(f.elasticity) else None,
            f.ci_high if math.isfinite(f.ci_high) else None,
        )
        for c, f in model.category_fits().items()
    ]
    return spark.createDataFrame(rows, "category string, elasticity double, ci_high double")


def truth_elasticities(spark: SparkSession, config: Config) -> dict[str, float] | None:
    """The planted elasticities of generated data (landing/_truth), or None for real data."""
    from lakepulse import delta_io

    path = f"{config.paths.landing.rstrip('/')}/_truth/elasticities.csv"
    if not any(
        p.rstrip("/").endswith("elasticities.csv")
        for p in delta_io.list_children(spark, path.rsplit("/", 1)[0])
    ):
        return None
    frame = spark.read.option("header", True).csv(path).select("category", F.col("elasticity").cast("double"))
    # Bounded collect: one row per category.
    return {r["category"]: float(r["elasticity"]) for r in frame.collect()}


def relative_errors(fits: Mapping[str, CategoryFit], truth: Mapping[str, float]) -> dict[str, float]:
    """|estimate - planted| / |planted| per planted category (NaN when the category got no estimate)."""
    out = {}
    for category, planted in sorted(truth.items()):
        fit = fits.get(category)
        estimate = fit.elasticity if fit is not None else float("nan")
        out[category] = abs(estimate - planted) / abs(planted) if planted else float("nan")
    return out


def summarize(fits: Mapping[str, CategoryFit], sequence: Sequence[str] | None = None) -> list[str]:
    lines = []
    for c in sequence or sorted(fits):
        f = fits[c]
        lines.append(
            f"{c:<18} e={f.elasticity:7.3f}  95% CI [{f.ci_low:7.3f}, {f.ci_high:7.3f}]  R2={f.r2:5.3f}  product-days={f.n_observations}"
        )
    return lines


# --------------------------------------------------------------------------------------------------
# Training run and refresh, as the jobs call them


@dataclass(frozen=True)
class PricingRun:
    run_id: str
    promotion: object  # registry.Promotion
    fits: dict[str, CategoryFit]
    test_rmse: float
    errors: dict[str, float] | None  # relative elasticity error per planted category
    recommendations: int


def load_sources(spark: SparkSession, config: Config) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """The silver tables pricing reads, each pinned at its current version (weather is optional)."""
    from lakepulse import delta_io
    from lakepulse.models.tracking import read_pinned

    frames, versions = {}, {}
    for table in ("events", "prices", "weather"):
        if table == "weather" and not delta_io.is_delta(spark, config.table_path("silver", table)):
            log.warning("pricing: no silver/weather table, fitting without weather controls")
            continue
        frames[table], versions[f"silver/{table}"] = read_pinned(spark, config, "silver", table)
    return frames, versions


def train(spark: SparkSession, config: Config) -> PricingRun:
    """Fits, logs and registers the demand model; writes gold/price_elasticities and the recommendations."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from lakepulse import delta_io
    from lakepulse.models import plots, registry, tracking

    tracking.setup_mlflow(config)
    sources, versions = load_sources(spark, config)
    purchases = purchases_at_list_price(sources["events"], sources["prices"])
    demand = demand_by_product_day(purchases, sources.get("weather"))
    # Bounded collect: one row per product and day, whatever the number of purchases.
    frame = demand.orderBy("category", "product_id", "date").toPandas()
    if frame.empty:
        raise LakepulseError("pricing: no purchase in silver/events has a list price in silver/prices")
    fit_part, test_part = holdout_split(frame, config.models.demand_holdout_fraction)
    test_rmse = holdout_rmse(fit_all(fit_part), test_part)
    # The registered model is refitted on every day: the holdout only judges the method.
    fits = fit_all(frame)
    truth = truth_elasticities(spark, config)
    errors = relative_errors(fits, truth) if truth else None
    model = DemandModel(fits)

    with mlflow.start_run(run_name="train_pricing") as run:
        run_id = run.info.run_id
        mlflow.set_tags({"lakepulse.job": "train_pricing", "lakepulse.env": config.env})
        mlflow.log_params(
            {
                "model": (
                    "per category, WLS over product-days: log(units per purchase line) ~ log(price) "
                    "+ day of week + promo share + weather, weighted by purchase lines"
                ),
                "controls": ",".join(CONTROL_COLUMNS),
                "price_max_change": config.models.price_max_change,
                "unit_cost_ratio": config.models.unit_cost_ratio,
                "demand_holdout_fraction": config.models.demand_holdout_fraction,
                "demand_baseline_days": config.models.demand_baseline_days,
                "categories": len(fits),
                "days": int(frame["date"].nunique()),
                "product_days": len(frame),
                "first_date": str(frame["date"].min()),
                "last_date": str(frame["date"].max()),
            }
        )
        tracking.log_table_versions(config, versions)
        metrics = {TEST_METRIC: test_rmse}
        finite_r2 = [f.r2 for f in fits.values() if math.isfinite(f.r2)]
        metrics["mean_r2"] = float(np.mean(finite_r2)) if finite_r2 else float("nan")
        for c, f in fits.items():
            key = metric_key(c)
            metrics.update(
                {
                    f"elasticity.{key}": f.elasticity,
                    f"elasticity_ci_low.{key}": f.ci_low,
                    f"elasticity_ci_high.{key}": f.ci_high,
                    f"elasticity_std_error.{key}": f.std_error,
                    f"r2.{key}": f.r2,
                }
            )
        if errors:
            for c, err in errors.items():
                metrics[f"elasticity_rel_error.{metric_key(c)}"] = err
                metrics[f"elasticity_planted.{metric_key(c)}"] = truth[c]
            metrics["max_elasticity_rel_error"] = max(errors.values())
            metrics["categories_within_10pct"] = float(sum(e <= 0.10 for e in errors.values()))
            metrics["categories_planted"] = float(len(errors))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)})

        order = sorted(fits)
        fig = plots.elasticity_figure(
            order,
            [fits[c].elasticity for c in order],
            [fits[c].ci_low for c in order],
            [fits[c].ci_high for c in order],
            [truth.get(c) for c in order] if truth else None,
        )
        mlflow.log_figure(fig, "plots/elasticities.png")
        plots.close(fig)
        fig = plots.demand_curves_figure(
            [_demand_panel(frame, fits[c]) for c in order if math.isfinite(fits[c].elasticity)]
        )
        mlflow.log_figure(fig, "plots/demand_curves.png")
        plots.close(fig)
        mlflow.log_text(frame.to_csv(index=False), "data/demand_by_product_day.csv")

        example = model_input_example(frame.head(5))
        signature = infer_signature(example, model.predict(None, example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            signature=signature,
            input_example=example,
            pip_requirements=list(tracking.MODEL_REQUIREMENTS),
        )
        promotion = registry.register_and_promote(
            MlflowClient(), MODEL_NAME, info.model_uri, run_id, TEST_METRIC, test_rmse, higher_is_better=False
        )
        mlflow.set_tags(
            {
                "registered_model": MODEL_NAME,
                "registered_version": str(promotion.version),
                "promoted_to_champion": str(promotion.promoted).lower(),
            }
        )
        log.info(promotion.summary())

    # The champion's estimates (is_champion) and, when this run did not replace it, this run's as well.
    champion, champion_model = load_champion(config)
    table = elasticities_frame(
        spark,
        champion_model.category_fits(),
        champion.run_id,
        int(champion.version),
        True,
        dt.datetime.fromtimestamp(champion.creation_timestamp / 1000, dt.UTC).replace(tzinfo=None),
    )
    if not promotion.promoted:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        table = table.unionByName(elasticities_frame(spark, fits, run_id, promotion.version, False, now))
    delta_io.overwrite(table, config.table_path("gold", "price_elasticities"))
    written = refresh_recommendations(spark, config, sources=sources)
    return PricingRun(run_id, promotion, fits, test_rmse, errors, written)


def _demand_panel(frame: pd.DataFrame, fit: CategoryFit) -> dict[str, object]:
    """Log units per purchase net of the fitted controls, so the panel shows the price effect alone."""
    part = frame[(frame["category"] == fit.category) & (frame["quantity"] > 0) & (frame["purchases"] > 0)]
    data = add_controls(part, fit.control_means)
    adjusted = np.log(data["quantity"].to_numpy(float) / data["purchases"].to_numpy(float))
    for name, coef in fit.controls.items():
        adjusted = adjusted - coef * data[name].to_numpy(float)
    return {
        "category": fit.category,
        "log_price": data["log_price"].to_numpy(float),
        "adjusted_log_quantity": adjusted,
        "intercept": fit.intercept,
        "elasticity": fit.elasticity,
    }


def load_champion(config: Config) -> tuple[object | None, DemandModel | None]:
    """(ModelVersion, DemandModel) of models:/lakepulse-pricing@champion, or (None, None)."""
    import mlflow
    from mlflow import MlflowClient

    from lakepulse.models import registry

    champion = registry.champion_version(MlflowClient(), MODEL_NAME)
    if champion is None:
        return None, None
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{registry.CHAMPION}").unwrap_python_model()
    return champion, model


def refresh_recommendations(
    spark: SparkSession, config: Config, sources: Mapping[str, DataFrame] | None = None
) -> int | None:
    """Recomputes gold/price_recommendations from the pricing champion; None when there is no champion."""
    from lakepulse import delta_io
    from lakepulse.models import tracking

    tracking.setup_mlflow(config)
    champion, model = load_champion(config)
    if champion is None:
        return None
    if sources is None:
        sources, _ = load_sources(spark, config)
    events = sources["events"]
    # The newest event day: a max over the partition column (one row).
    as_of = events.agg(F.max("event_date")).first()[0]
    if as_of is None:
        raise LakepulseError("pricing: silver/events is empty, no demand to base recommendations on")
    # Only the baseline window's partitions are read and joined to the price history.
    first_day = as_of - dt.timedelta(days=config.models.demand_baseline_days - 1)
    purchases = purchases_at_list_price(
        events.filter(F.col("event_date") >= F.lit(first_day)), sources["prices"]
    )
    recs = recommendations(
        sources["prices"],
        purchases,
        elasticities_from_model(spark, model),
        as_of,
        config.models.price_max_change,
        config.models.unit_cost_ratio,
        config.models.demand_baseline_days,
        int(champion.version),
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    path = config.table_path("gold", "price_recommendations")
    delta_io.overwrite(recs, path)
    return delta_io.read_delta(spark, path).count()
