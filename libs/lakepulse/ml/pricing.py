"""Price elasticity per category from a log-log demand model, tracked and registered in MLflow.

`train` is what the `train_pricing` job runs: read gold/product_demand_daily at a pinned version (the
product-days with a purchase, `demand`), fit per category (`demand_fit`), judge the method on a time
holdout, log and register the `DemandModel` (`demand_model`), write gold/price_elasticities, and
refresh gold/price_recommendations from whichever version is champion (`pricing_recommend`).
`refresh_recommendations` is what `score` runs. The names listed in `__all__` stay importable from
here as before the split (the demand dataset's Spark transforms moved to `lakepulse.gold.product_demand`
with the table); `DemandModel` must, because versions registered before it were pickled as
`lakepulse.ml.pricing.DemandModel`.
"""

from __future__ import annotations

import datetime as dt
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
from lakepulse.ml.demand import DEMAND_SCHEMA, fit_rows
from lakepulse.ml.demand_fit import (
    fit_all,
    fit_category,
    holdout_rmse,
    holdout_split,
    summarize,
)
from lakepulse.ml.demand_model import (
    CONTROL_COLUMNS,
    DOW_COLUMNS,
    WEATHER_COLUMNS,
    CategoryFit,
    DemandModel,
    add_controls,
    fits_of,
    model_input_example,
    predict_log_units,
)
from lakepulse.ml.pricing_recommend import RECOMMENDATIONS_SCHEMA, elasticities_from_model, recommendations
from lakepulse.ml.pricing_tracking import (
    MODEL_NAME,
    TEST_METRIC,
    champion_scorer,
    log_and_register,
    log_plots,
    metric_key,
    run_metrics,
    run_params,
    window_of,
)
from lakepulse.ml.registry import Challenge

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
    "elasticities_frame",
    "elasticities_from_model",
    "fit_all",
    "fit_category",
    "fit_rows",
    "holdout_rmse",
    "holdout_split",
    "load_champion",
    "load_demand",
    "metric_key",
    "model_input_example",
    "predict_log_units",
    "recommendations",
    "refresh_recommendations",
    "run_metrics",
    "run_params",
    "summarize",
    "train",
]
# Champions registered before the layered layout were pickled (by reference) as
# lakepulse.models.pricing.DemandModel: that name resolves to this module once it is imported.
sys.modules.setdefault("lakepulse.models", sys.modules["lakepulse.ml"])
sys.modules.setdefault("lakepulse.models.pricing", sys.modules[__name__])

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


DEMAND_TABLE = "product_demand_daily"


def load_demand(spark: SparkSession, config: Config) -> tuple[DataFrame, dict[str, int]]:
    """gold/product_demand_daily pinned at its current version, and that version by table name.

    Pinned so the run trains on exactly the version it logs, and can be reproduced by time travel.
    """
    from lakepulse.ml.tracking import read_pinned

    demand, version = read_pinned(spark, config, "gold", DEMAND_TABLE)
    return demand, {f"gold/{DEMAND_TABLE}": version}


def collect_demand(demand: DataFrame) -> pd.DataFrame:
    """The product-days with a purchase on the driver, where the per-category fits run."""
    # Bounded collect: one row per product and day with a purchase, whatever the number of purchases.
    frame = fit_rows(demand).orderBy("category", "product_id", "date").toPandas()
    if frame.empty:
        raise LakepulseError(
            f"pricing: gold/{DEMAND_TABLE} holds no purchase at a known list price (run kpis first)"
        )
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
    demand, versions = load_demand(spark, config)
    frame = collect_demand(demand)
    fit_part, test_part = holdout_split(frame, config.models.demand_holdout_fraction)
    test_rmse = holdout_rmse(fit_all(fit_part), test_part)
    # The registered model is refitted on every day: the holdout only judges the method.
    fits = fit_all(frame)

    with mlflow.start_run(run_name="train_pricing") as run:
        run_id = run.info.run_id
        mlflow.set_tags({"lakepulse.job": "train_pricing", "lakepulse.env": config.env})
        mlflow.log_params(run_params(config, frame, fits))
        tracking.log_table_versions(config, versions)
        test_dataset = log_inputs(config, demand, versions, test_part)
        log_plots(frame, fits)
        challenge = Challenge(
            window_of(test_part, versions, config.models.demand_holdout_fraction),
            champion_scorer(test_part),
            config.models.pricing_promotion_margin,
        )
        promotion = log_and_register(
            frame, fits, run_id, run_metrics(fits, test_rmse), challenge, test_dataset
        )

    write_elasticities(spark, config, fits, run_id, promotion)
    written = refresh_recommendations(spark, config, demand=demand)
    return PricingRun(run_id, promotion, fits, test_rmse, written)


def log_inputs(config: Config, demand: DataFrame, versions: Mapping[str, int], test: pd.DataFrame):
    """gold/product_demand_daily at its pinned version as the run's MLflow dataset: "training" (the
    registered model is refitted on every day) and "test" (the holdout days that judged the method),
    which it returns (the test metric is linked to it)."""
    from lakepulse.ml import tracking

    name = f"gold/{DEMAND_TABLE}"
    holdout = f"holdout days {test['date'].min()}..{test['date'].max()}"
    logged = tracking.log_delta_inputs(config, {name: demand}, versions, {"training": None, "test": holdout})
    return logged["test"][0]


def load_champion(config: Config) -> tuple[object | None, DemandModel | None]:
    """(ModelVersion, DemandModel) of models:/lakepulse-pricing@champion, or (None, None). The champion
    is handed back as a `DemandModel` whatever class it was saved as (`demand_model.fits_of`)."""
    import mlflow.pyfunc
    from mlflow import MlflowClient

    from lakepulse.ml import registry

    champion = registry.champion_version(MlflowClient(), MODEL_NAME)
    if champion is None:
        return None, None
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{registry.CHAMPION}").unwrap_python_model()
    return champion, DemandModel(fits_of(model))


def refresh_recommendations(
    spark: SparkSession, config: Config, demand: DataFrame | None = None
) -> int | None:
    """Recomputes gold/price_recommendations from the pricing champion; None when there is no champion.

    From the champion, not from the latest run: a challenger that lost must not set prices. As of the
    demand table's newest day, from its closing prices and the baseline window's days only.
    """
    from lakepulse.ml import tracking
    from lakepulse.runtime import delta_io

    tracking.setup_mlflow(config)
    champion, model = load_champion(config)
    if champion is None:
        return None
    if demand is None:
        demand, _ = load_demand(spark, config)
    # The newest computed day: a max over one column (one row).
    as_of = demand.agg(F.max("date")).first()[0]
    if as_of is None:
        raise LakepulseError(f"pricing: gold/{DEMAND_TABLE} is empty, no demand to base recommendations on")
    first_day = as_of - dt.timedelta(days=config.models.demand_baseline_days - 1)
    recs = recommendations(
        demand.filter(F.col("date") >= F.lit(first_day)),
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
