"""The churn model against the planted truth of generated data (landing/_truth), which real data lacks.

The generator draws each customer's churn from a known probability; comparing the model's ROC AUC with
that probability's own says how much of the learnable signal the model found, which the test AUC alone
cannot. On real data there is no truth file and nothing here runs.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.ml.churn.data import TrainingData, active_customers
from lakepulse.ml.churn.features import LABEL, SCORE, model_input
from lakepulse.ml.churn.metrics import roc_auc, with_recency_score
from lakepulse.ml.churn.pipelines import with_score

log = logging.getLogger("lakepulse.ml")


def truth_path(config: Config) -> str:
    return f"{config.paths.landing.rstrip('/')}/_truth/churn.csv"


def truth_probabilities(spark: SparkSession, config: Config) -> DataFrame | None:
    """(customer_key, true_probability, churn_date) from landing/_truth/churn.csv (generated data only),
    ids pseudonymised like silver's. A customer who churned inside the period has no probability."""
    from lakepulse.privacy import pseudonym_key, pseudonymise, with_key
    from lakepulse.runtime import delta_io

    folder = truth_path(config).rsplit("/", 1)[0]
    if not any(p.rstrip("/").endswith("/churn.csv") for p in delta_io.list_children(spark, folder)):
        return None
    raw = spark.read.option("header", True).csv(truth_path(config))
    return raw.transform(with_key(pseudonym_key(config))).select(
        pseudonymise("customer_id").alias("customer_key"),
        F.col("churn_probability").cast("double").alias("true_probability"),
        F.try_to_date(F.col("churn_date"), "yyyy-MM-dd").alias("churn_date"),
    )


def truth_period(spark: SparkSession, config: Config) -> tuple[dt.date | None, int]:
    """(last generated day, horizon of the planted probabilities) from manifest.json; without one, no
    day (the caller falls back to silver's last event day) and the label's horizon."""
    from lakepulse.runtime import delta_io

    folder = truth_path(config).rsplit("/", 1)[0]
    if not any(p.rstrip("/").endswith("/manifest.json") for p in delta_io.list_children(spark, folder)):
        return None, config.gold.churn_horizon_days
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


def oracle_metrics(
    spark: SparkSession, config: Config, model: PipelineModel, data: TrainingData, recency: str
) -> dict[str, float]:
    """The planted true probabilities' ROC AUC, and the model's and the recency baseline's on the same rows.

    The truth is each customer's probability, as of the end of the generated period, of churning in
    the horizon after it; churn.csv also holds the churn date those draws produced, which for
    customers still there at the end may fall inside that horizon. The one as-of date this compares
    fairly on is therefore the day after the last event day (features then see the whole period and
    nothing after it), with the planted outcome (a churn date in the horizon) as the label: no gold
    label exists there, since its horizon lies past the data. The rows are the customers the model
    applies to (active in the look-back) that have a truth value; all three AUCs use exactly them.
    """
    found = oracle_rows(spark, config, data)
    if found is None:
        return {}
    rows, oracle_date = found
    scored = with_score(model.transform(model_input(rows, data.spec, keep=["true_probability"]))).persist()
    try:
        if scored.agg(F.countDistinct(LABEL)).first()[0] < 2:
            log.warning(
                "churn: the oracle rows as of %s hold one class only; no oracle comparison", oracle_date
            )
            return {}
        out = {
            "oracle_rows": float(scored.count()),
            "oracle_churn_rate": float(scored.agg(F.avg(LABEL)).first()[0]),
            "oracle_roc_auc": roc_auc(scored, "true_probability"),
            "oracle_model_roc_auc": roc_auc(scored, SCORE),
        }
        out["auc_ratio_to_oracle"] = out["oracle_model_roc_auc"] / out["oracle_roc_auc"]
        if recency in scored.columns:
            out["oracle_baseline_recency_roc_auc"] = roc_auc(
                with_recency_score(scored, recency), "recency_score"
            )
        return out
    finally:
        scored.unpersist()


def oracle_rows(spark: SparkSession, config: Config, data: TrainingData) -> tuple[DataFrame, dt.date] | None:
    """The feature snapshot the day after the period, for active customers with a truth value, labelled
    with the planted outcome; and that date. None when there is no truth or no snapshot that day, since
    without either the comparison would not be on the window the truth describes."""
    truth = truth_probabilities(spark, config)
    if truth is None:
        return None
    last_day, horizon = truth_period(spark, config)
    if last_day is None:
        last_day = data.events.agg(F.max("event_date")).first()[0]  # one row
    oracle_date = last_day + dt.timedelta(days=1)
    snapshot = data.features.filter(F.col("as_of_date") == F.lit(oracle_date))
    if snapshot.limit(1).count() == 0:
        log.warning(
            "churn: no features as of %s (the day after the last event day): no oracle comparison",
            oracle_date,
        )
        return None
    end = oracle_date + dt.timedelta(days=horizon)
    outcome = (
        F.col("churn_date").isNotNull()
        & (F.col("churn_date") >= F.lit(oracle_date))
        & (F.col("churn_date") < F.lit(end))
    )
    rows = (
        snapshot.join(
            active_customers(data.events, oracle_date, config.gold.churn_active_days),
            "customer_key",
            "left_semi",
        )
        .join(truth.filter(F.col("true_probability").isNotNull()), on="customer_key", how="inner")
        .withColumn(LABEL, outcome.cast("double"))
    )
    return rows, oracle_date
