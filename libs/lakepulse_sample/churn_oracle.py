"""A trained churn model against the planted truth of generated data (landing/_truth), which real data lacks.

The generator draws each customer's churn from a known probability; comparing the model's ROC AUC with
that probability's own says how much of the learnable signal the model found, which the test AUC alone
cannot. The product never reads the truth (train_churn logs only what any lake supports): the tests and
the bench call `oracle_metrics` (or `oracle_for_run`) on a trained model and the lake's gold tables.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.gold import churn_label
from lakepulse.ml.churn import KEYS, LABEL, MODEL_NAME, SCORE, roc_auc, with_score
from lakepulse.ml.churn.metrics import with_recency_score
from lakepulse.runtime import delta_io

log = logging.getLogger("lakepulse_sample")


def truth_path(config: Config) -> str:
    return f"{config.paths.landing.rstrip('/')}/_truth/churn.csv"


def _has(spark: SparkSession, config: Config, name: str) -> bool:
    folder = truth_path(config).rsplit("/", 1)[0]
    return any(p.rstrip("/").endswith(f"/{name}") for p in delta_io.list_children(spark, folder))


def truth_probabilities(spark: SparkSession, config: Config) -> DataFrame | None:
    """(customer_key, true_probability, churn_date) from landing/_truth/churn.csv (generated data only),
    ids pseudonymised like silver's. A customer who churned inside the period has no probability."""
    from lakepulse.privacy import pseudonym_key, pseudonymise, with_key

    if not _has(spark, config, "churn.csv"):
        return None
    raw = spark.read.option("header", True).csv(truth_path(config))
    return raw.transform(with_key(pseudonym_key(config))).select(
        pseudonymise("customer_id").alias("customer_key"),
        F.col("churn_probability").cast("double").alias("true_probability"),
        F.try_to_date(F.col("churn_date"), "yyyy-MM-dd").alias("churn_date"),
    )


def truth_period(spark: SparkSession, config: Config) -> tuple[dt.date | None, int]:
    """(last generated day, horizon of the planted probabilities) from manifest.json; without one, no
    day (the caller falls back to the features' last as-of date) and the label's horizon."""
    if not _has(spark, config, "manifest.json"):
        return None, config.gold.churn_horizon_days
    folder = truth_path(config).rsplit("/", 1)[0]
    manifest = spark.read.option("multiLine", True).json(f"{folder}/manifest.json")
    row = manifest.first()  # one row: the manifest object
    fields = manifest.columns
    horizon = (
        int(row["churn_horizon_days"]) if "churn_horizon_days" in fields else config.gold.churn_horizon_days
    )
    end = None
    if "period" in fields and row["period"] is not None and row["period"]["end"]:
        end = dt.date.fromisoformat(row["period"]["end"])
    return end, horizon


def oracle_rows(spark: SparkSession, config: Config, features: DataFrame) -> tuple[DataFrame, dt.date] | None:
    """The feature snapshot the day after the period, for customers the label applies to (active in the
    look-back) that have a truth value, labelled with the planted outcome (a churn date in the truth's
    horizon); and that date. None without truth or without a snapshot that day, since the comparison
    is only fair on the window the truth describes: no gold label exists there, its horizon lies past
    the data."""
    truth = truth_probabilities(spark, config)
    if truth is None:
        return None
    last_day, horizon = truth_period(spark, config)
    if last_day is None:
        last_day = features.agg(F.max("as_of_date")).first()[0] - dt.timedelta(days=1)  # one row
    oracle_date = last_day + dt.timedelta(days=1)
    snapshot = features.filter(F.col("as_of_date") == F.lit(oracle_date))
    if snapshot.limit(1).count() == 0:
        log.warning("churn oracle: no features as of %s (the day after the period)", oracle_date)
        return None
    end = oracle_date + dt.timedelta(days=horizon)
    outcome = (
        F.col("churn_date").isNotNull()
        & (F.col("churn_date") >= F.lit(oracle_date))
        & (F.col("churn_date") < F.lit(end))
    )
    rows = (
        snapshot.transform(churn_label.applies_to(config.gold.churn_active_days))
        .join(truth.filter(F.col("true_probability").isNotNull()), on="customer_key", how="inner")
        .withColumn(LABEL, outcome.cast("double"))
    )
    return rows, oracle_date


def oracle_metrics(
    spark: SparkSession, config: Config, model: PipelineModel, inputs: Sequence[str]
) -> dict[str, float]:
    """The planted probabilities' ROC AUC (the best any model can do), and the model's and the recency
    baseline's on exactly the same rows (`oracle_rows`); `inputs` are the model's signature columns,
    fed as scoring feeds them. Empty without truth, or when those rows hold one class only."""
    features = delta_io.read_delta(spark, config.table_path("gold", "customer_features"))
    found = oracle_rows(spark, config, features)
    if found is None:
        return {}
    rows, oracle_date = found
    kinds = dict(rows.dtypes)
    recency = config.models.recency_feature
    extra = [c for c in (recency,) if c in kinds and c not in inputs]
    model_in = rows.select(
        *KEYS,
        LABEL,
        "true_probability",
        *[(F.col(c) if kinds[c] == "string" else F.col(c).cast("double")).alias(c) for c in inputs],
        *extra,
    )
    scored = with_score(model.transform(model_in)).persist()
    try:
        if scored.agg(F.countDistinct(LABEL)).first()[0] < 2:
            log.warning("churn oracle: the rows as of %s hold one class only", oracle_date)
            return {}
        out = {
            "oracle_rows": float(scored.count()),
            "oracle_churn_rate": float(scored.agg(F.avg(LABEL)).first()[0]),
            "oracle_roc_auc": roc_auc(scored, "true_probability"),
            "oracle_model_roc_auc": roc_auc(scored, SCORE),
        }
        out["auc_ratio_to_oracle"] = out["oracle_model_roc_auc"] / out["oracle_roc_auc"]
        if recency in scored.columns:
            baseline = with_recency_score(scored, recency)
            out["oracle_baseline_recency_roc_auc"] = roc_auc(baseline, "recency_score")
        return out
    finally:
        scored.unpersist()


def oracle_for_run(spark: SparkSession, config: Config, run_id: str) -> dict[str, float]:
    """`oracle_metrics` of the model version a train_churn run (`run_id`) registered."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import get_model_info

    from lakepulse.ml import tracking

    tracking.setup_mlflow(config)
    (version,) = MlflowClient().search_model_versions(f"name='{MODEL_NAME}' and run_id='{run_id}'")
    uri = f"models:/{MODEL_NAME}/{version.version}"
    inputs = get_model_info(uri).signature.inputs.input_names()
    model = mlflow.spark.load_model(uri, dfs_tmpdir=tracking.dfs_tmpdir(config))
    return oracle_metrics(spark, config, model, inputs)
