"""Logs the chosen churn model to MLflow and registers it, champion only when it beats the current one.

The model is logged as a Spark ML pipeline (`mlflow.spark`) with a signature of the raw feature columns
and a five-row input example, so scoring knows which columns to feed it without lakepulse's code.
The champion gate itself (lakepulse.ml.registry) compares stored test metrics, never re-evaluates.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame

from lakepulse.config import Config
from lakepulse.ml.churn.features import FeatureSpec
from lakepulse.ml.churn.search import Trial

log = logging.getLogger("lakepulse.ml")

MODEL_NAME = "lakepulse-churn"
TEST_METRIC = "test_roc_auc"  # higher is better


def register(
    config: Config,
    best: Trial,
    test_rows: DataFrame,
    spec: FeatureSpec,
    run_id: str,
    metrics: dict[str, float],
):
    """Logs `best` under the current run, registers it as a new version of MODEL_NAME and returns the
    registry's Promotion; the run's tags name the version, so a run leads to its model and back."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from lakepulse.ml import registry, tracking

    example = test_rows.select(*spec.inputs).limit(5).toPandas()  # five rows: the input example
    output = best.model.transform(test_rows.limit(5)).select("prediction").toPandas()
    info = mlflow.spark.log_model(
        best.model,
        "model",
        signature=infer_signature(example, output),
        input_example=example,
        dfs_tmpdir=tracking.dfs_tmpdir(config),
        pip_requirements=list(tracking.MODEL_REQUIREMENTS),
    )
    promotion = registry.register_and_promote(
        MlflowClient(), MODEL_NAME, info.model_uri, run_id, TEST_METRIC, metrics[TEST_METRIC]
    )
    mlflow.set_tags(
        {
            "registered_model": MODEL_NAME,
            "registered_version": str(promotion.version),
            "promoted_to_champion": str(promotion.promoted).lower(),
        }
    )
    log.info(promotion.summary())
    return promotion
