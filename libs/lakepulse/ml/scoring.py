"""Batch scoring: the churn champion applied to the newest feature snapshot, into gold/churn_scores.

Only customers the label applies to are scored: those active (any event) in the look-back before the
snapshot's as-of date, which the snapshot itself says (`gold.churn_label.applies_to`: its last
activity), so scoring reads gold only. The model never saw anyone else in training, and a customer
inactive that long has already churned by the label's own definition. The look-back is the one the
champion was trained with (its run's `churn_active_days`), not today's config: a model trained on every
customer with a purchase ever (bring your own data) scores the whole base even where the config still
says 30 days.

The champion is loaded as a Spark ML pipeline (`mlflow.spark.load_model`), so scoring is one
distributed `transform`, no pandas UDF. The columns it is fed are the ones its MLflow signature names,
cast the way training cast them; a feature table that lost one of them fails with the column's name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.runtime import delta_io

CHURN_SCORES_SCHEMA = T.StructType(
    [
        T.StructField("customer_key", T.StringType(), False),
        T.StructField("as_of_date", T.DateType(), False),
        T.StructField("churn_probability", T.DoubleType(), False),
        T.StructField("risk_band", T.StringType(), False),
        T.StructField("model_name", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("scored_at", T.TimestampType(), False),
    ]
)
BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class ScoreResult:
    rows: int
    inactive: int  # customers in the snapshot not scored: inactive for the whole look-back
    active_days: int  # the champion's look-back (0: ever)
    horizon_days: int  # the champion's horizon: a score is P(churn within it)
    as_of_date: dt.date
    model_name: str
    model_version: int
    bands: dict[str, int]


def risk_band(probability: Column, medium: float, high: float) -> Column:
    """low below `medium`, high from `high` on, medium in between."""
    return (
        F.when(probability >= F.lit(high), F.lit("high"))
        .when(probability >= F.lit(medium), F.lit("medium"))
        .otherwise(F.lit("low"))
    )


def score_churn(spark: SparkSession, config: Config) -> ScoreResult:
    from lakepulse.gold import churn_label
    from lakepulse.ml import churn, tracking

    champion = load_champion(config)
    version, uri, inputs, model = champion.version, champion.uri, champion.inputs, champion.model
    features, _ = tracking.read_pinned(spark, config, "gold", "customer_features")
    missing = [c for c in inputs if c not in features.columns]
    if missing:
        raise LakepulseError(f"gold/customer_features lacks column(s) {', '.join(missing)} that {uri} needs")
    # Bounded: one aggregate row.
    latest = features.agg(F.max("as_of_date")).first()[0]
    if latest is None:
        raise LakepulseError("gold/customer_features is empty: run the features job first")
    kinds = dict(features.dtypes)
    everyone = features.filter(F.col("as_of_date") == F.lit(latest))
    snapshot = everyone.transform(churn_label.applies_to(champion.active_days)).select(
        *churn.KEYS,
        *[(F.col(c) if kinds[c] == "string" else F.col(c).cast("double")).alias(c) for c in inputs],
    )
    scored = churn.with_score(model.transform(snapshot))
    out = scored.select(
        "customer_key",
        "as_of_date",
        F.col(churn.SCORE).alias("churn_probability"),
        risk_band(F.col(churn.SCORE), config.models.risk_band_medium, config.models.risk_band_high).alias(
            "risk_band"
        ),
        F.lit(churn.MODEL_NAME).alias("model_name"),
        F.lit(version).alias("model_version"),
        F.lit(dt.datetime.now(dt.UTC).replace(tzinfo=None)).cast("timestamp").alias("scored_at"),
    ).select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in CHURN_SCORES_SCHEMA.fields])
    bands = write_scores(spark, config, out, latest)
    scored_rows = sum(bands.values())
    inactive = everyone.count() - scored_rows
    return ScoreResult(
        scored_rows,
        inactive,
        champion.active_days,
        champion.horizon_days,
        latest,
        churn.MODEL_NAME,
        version,
        bands,
    )


@dataclass(frozen=True)
class Champion:
    version: int
    uri: str
    inputs: list[str]
    model: object  # a Spark ML PipelineModel
    active_days: int
    horizon_days: int


def load_champion(config: Config) -> Champion:
    """The churn champion, its input columns and the label settings it was trained with. The inputs come
    from the model's signature because the champion may predate today's feature table: it is fed exactly
    the columns it was trained on, and a table that lost one fails with that column's name. The label
    settings come from its run's params (a run that predates them: today's config)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import get_model_info

    from lakepulse.ml import churn, registry, tracking

    tracking.setup_mlflow(config)
    champion = registry.champion_version(MlflowClient(), churn.MODEL_NAME)
    if champion is None:
        raise LakepulseError(
            f"no {churn.MODEL_NAME}@{registry.CHAMPION} in {config.mlflow.registry_uri}: run train_churn first"
        )
    uri = f"models:/{churn.MODEL_NAME}@{registry.CHAMPION}"
    signature = get_model_info(uri).signature
    inputs = signature.inputs.input_names() if signature is not None else None
    if not inputs:
        raise LakepulseError(f"{uri} has no input signature: retrain it with train_churn")
    model = mlflow.spark.load_model(uri, dfs_tmpdir=tracking.dfs_tmpdir(config))
    params = MlflowClient().get_run(champion.run_id).data.params if champion.run_id else {}
    active = int(params.get("churn_active_days", config.gold.churn_active_days))
    horizon = int(params.get("churn_horizon_days", config.gold.churn_horizon_days))
    return Champion(int(champion.version), uri, inputs, model, active, horizon)


def write_scores(spark: SparkSession, config: Config, out: DataFrame, as_of: dt.date) -> dict[str, int]:
    """Writes one snapshot's scores, replacing only that as-of date so that a rerun never duplicates and
    earlier dates stay; returns the rows per risk band as the table holds them after the write."""
    path = config.table_path("gold", "churn_scores")
    if delta_io.is_delta(spark, path):
        delta_io.overwrite(out, path, replace_where=f"as_of_date = DATE'{as_of.isoformat()}'")
    else:
        delta_io.overwrite(out, path)
    written = delta_io.read_delta(spark, path).filter(F.col("as_of_date") == F.lit(as_of))
    # Bounded collect: one row per risk band.
    counts = {
        r["risk_band"]: int(r["n"])
        for r in written.groupBy("risk_band").agg(F.count("*").alias("n")).collect()
    }
    return {b: counts.get(b, 0) for b in BANDS}
