"""Price elasticity per category from a log-log demand model, tracked and registered in MLflow.

`train` is what the `train_pricing` job runs: build the demand dataset from pinned silver versions
(`demand`), fit per category (`demand_fit`), judge the method on a time holdout, log and register the
`DemandModel` (`demand_model`), write gold/price_elasticities, and refresh gold/price_recommendations
from whichever version is champion (`pricing_recommend`). `refresh_recommendations` is what `score`
runs. The names listed in `__all__` stay importable from here as before the split; `DemandModel` must,
because versions registered before it were pickled as `lakepulse.ml.pricing.DemandModel`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.ml.demand import (
    DEMAND_SCHEMA,
    daily_weather,
    demand_by_product_day,
    first_prices,
    purchases_at_list_price,
)
from lakepulse.ml.demand_fit import (
    fit_all,
    fit_category,
    holdout_rmse,
    holdout_split,
    relative_errors,
    summarize,
)
from lakepulse.ml.demand_model import (
    CONTROL_COLUMNS,
    DOW_COLUMNS,
    WEATHER_COLUMNS,
    CategoryFit,
    DemandModel,
    add_controls,
    model_input_example,
    predict_log_units,
)
from lakepulse.ml.pricing_recommend import RECOMMENDATIONS_SCHEMA, elasticities_from_model, recommendations
from lakepulse.ml.pricing_tracking import (
    MODEL_NAME,
    TEST_METRIC,
    log_and_register,
    log_plots,
    metric_key,
    run_metrics,
    run_params,
)

if TYPE_CHECKING:
    from lakepulse.ml.registry import Promotion

__all__ = [
    "CONTROL_COLUMNS",
    "DEMAND_SCHEMA",
    "DOW_COLUMNS",
    "ELASTICITIES_SCHEMA",
    "MODEL_NAME",
    "RECOMMENDATIONS_SCHEMA",
    "TEST_METRIC",
    "WEATHER_COLUMNS",
    "CategoryFit",
    "DemandModel",
    "PricingRun",
    "add_controls",
    "daily_weather",
    "demand_by_product_day",
    "elasticities_frame",
    "elasticities_from_model",
    "first_prices",
    "fit_all",
    "fit_category",
    "holdout_rmse",
    "holdout_split",
    "load_champion",
    "load_sources",
    "metric_key",
    "model_input_example",
    "predict_log_units",
    "purchases_at_list_price",
    "recommendations",
    "refresh_recommendations",
    "relative_errors",
    "run_metrics",
    "run_params",
    "summarize",
    "train",
    "truth_elasticities",
]
# Champions registered before the layered layout were pickled (by reference) as
# lakepulse.models.pricing.DemandModel: that name resolves to this module once it is imported.
sys.modules.setdefault("lakepulse.models", sys.modules["lakepulse.ml"])
sys.modules.setdefault("lakepulse.models.pricing", sys.modules[__name__])

log = logging.getLogger("lakepulse.ml")

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


@dataclass(frozen=True)
class PricingRun:
    run_id: str
    promotion: Promotion
    fits: dict[str, CategoryFit]
    test_rmse: float
    errors: dict[str, float] | None  # relative elasticity error per planted category
    recommendations: int | None


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def elasticities_frame(
    spark: SparkSession,
    fits: Mapping[str, CategoryFit],
    run_id: str,
    model_version: int,
    is_champion: bool,
    trained_at: dt.datetime,
) -> DataFrame:
    """gold/price_elasticities rows for one model version; NaN figures become nulls, which readers of
    the table (the report, notebooks, SQL) handle, where a NaN silently poisons an average."""
    rows = [
        (
            f.category,
            _finite(f.elasticity),
            _finite(f.std_error),
            _finite(f.ci_low),
            _finite(f.ci_high),
            _finite(f.r2),
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


def truth_elasticities(spark: SparkSession, config: Config) -> dict[str, float] | None:
    """The planted elasticities of generated data (landing/_truth), or None for real data."""
    from lakepulse.runtime import delta_io

    path = f"{config.paths.landing.rstrip('/')}/_truth/elasticities.csv"
    if not any(
        p.rstrip("/").endswith("elasticities.csv")
        for p in delta_io.list_children(spark, path.rsplit("/", 1)[0])
    ):
        return None
    frame = spark.read.option("header", True).csv(path).select("category", F.col("elasticity").cast("double"))
    # Bounded collect: one row per category.
    return {r["category"]: float(r["elasticity"]) for r in frame.collect()}


def load_sources(spark: SparkSession, config: Config) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """The silver tables pricing reads, each pinned at its current version (weather is optional).

    Pinned so the run trains on exactly the versions it logs, and can be reproduced by time travel.
    """
    from lakepulse.ml.tracking import read_pinned
    from lakepulse.runtime import delta_io

    frames, versions = {}, {}
    for table in ("events", "prices", "weather"):
        if table == "weather" and not delta_io.is_delta(spark, config.table_path("silver", table)):
            log.warning("pricing: no silver/weather table, fitting without weather controls")
            continue
        frames[table], versions[f"silver/{table}"] = read_pinned(spark, config, "silver", table)
    return frames, versions


def collect_demand(sources: Mapping[str, DataFrame]) -> pd.DataFrame:
    """The product-day demand table on the driver, where the per-category fits run."""
    purchases = purchases_at_list_price(sources["events"], sources["prices"])
    demand = demand_by_product_day(purchases, sources.get("weather"))
    # Bounded collect: one row per product and day, whatever the number of purchases.
    frame = demand.orderBy("category", "product_id", "date").toPandas()
    if frame.empty:
        raise LakepulseError("pricing: no purchase in silver/events has a list price in silver/prices")
    return frame


def write_elasticities(
    spark: SparkSession, config: Config, fits: Mapping[str, CategoryFit], run_id: str, promotion: Promotion
) -> None:
    """gold/price_elasticities: the champion's estimates (is_champion) and, when this run did not
    replace it, this run's as well, so a challenger's figures are visible next to the ones in use."""
    from lakepulse.runtime import delta_io

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


def train(spark: SparkSession, config: Config) -> PricingRun:
    """Fits, logs and registers the demand model; writes gold/price_elasticities and the recommendations."""
    import mlflow

    from lakepulse.ml import tracking

    tracking.setup_mlflow(config)
    sources, versions = load_sources(spark, config)
    frame = collect_demand(sources)
    fit_part, test_part = holdout_split(frame, config.models.demand_holdout_fraction)
    test_rmse = holdout_rmse(fit_all(fit_part), test_part)
    # The registered model is refitted on every day: the holdout only judges the method.
    fits = fit_all(frame)
    truth = truth_elasticities(spark, config)
    errors = relative_errors(fits, truth) if truth else None

    with mlflow.start_run(run_name="train_pricing") as run:
        run_id = run.info.run_id
        mlflow.set_tags({"lakepulse.job": "train_pricing", "lakepulse.env": config.env})
        mlflow.log_params(run_params(config, frame, fits))
        tracking.log_table_versions(config, versions)
        mlflow.log_metrics(run_metrics(fits, test_rmse, truth, errors))
        log_plots(frame, fits, truth)
        promotion = log_and_register(frame, DemandModel(fits), run_id, test_rmse)

    write_elasticities(spark, config, fits, run_id, promotion)
    written = refresh_recommendations(spark, config, sources=sources)
    return PricingRun(run_id, promotion, fits, test_rmse, errors, written)


def load_champion(config: Config) -> tuple[object | None, DemandModel | None]:
    """(ModelVersion, DemandModel) of models:/lakepulse-pricing@champion, or (None, None)."""
    import mlflow.pyfunc
    from mlflow import MlflowClient

    from lakepulse.ml import registry

    champion = registry.champion_version(MlflowClient(), MODEL_NAME)
    if champion is None:
        return None, None
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{registry.CHAMPION}").unwrap_python_model()
    return champion, model


def refresh_recommendations(
    spark: SparkSession, config: Config, sources: Mapping[str, DataFrame] | None = None
) -> int | None:
    """Recomputes gold/price_recommendations from the pricing champion; None when there is no champion.

    From the champion, not from the latest run: a challenger that lost must not set prices.
    """
    from lakepulse.ml import tracking
    from lakepulse.runtime import delta_io

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
