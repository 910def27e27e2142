"""Logs the chosen churn model to MLflow and registers it, champion only when it beats the current one.

The model is logged as a Spark ML pipeline (`mlflow.spark`) with a signature of the raw feature columns
and a five-row input example, so scoring knows which columns to feed it without lakepulse's code.
The champion gate (lakepulse.ml.registry) compares like with like: the current champion is loaded by
its alias and scored here on exactly this run's test rows (same as-of dates, same gold versions), and
the alias moves only if the new model's test ROC AUC beats that by more than
`models.churn_promotion_margin`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.ml.churn.data import Split
from lakepulse.ml.churn.features import LABEL, FeatureSpec
from lakepulse.ml.churn.metrics import roc_auc
from lakepulse.ml.churn.pipelines import with_score
from lakepulse.ml.churn.search import Trial
from lakepulse.ml.registry import Challenge, TestWindow

log = logging.getLogger("lakepulse.ml")

MODEL_NAME = "lakepulse-churn"
TEST_METRIC = "test_roc_auc"  # higher is better


def window_of(split: Split, versions: Mapping[str, int], rows: int) -> TestWindow:
    """The run's test as-of dates, the gold versions they were read at, and their row count."""
    snapshot = ", ".join(f"{name} v{v}" for name, v in sorted(versions.items()))
    first, last = split.test[0].isoformat(), split.test[-1].isoformat()
    return TestWindow(
        f"as-of dates {first}..{last} ({len(split.test)} dates) of {snapshot}", first, last, rows
    )


def champion_scorer(config: Config, test_rows: DataFrame) -> Callable[[str], float]:
    """Scores a registered churn model (by URI) on `test_rows`: its ROC AUC there, computed as the
    run's own `test_roc_auc` is. It is fed the columns its signature names, cast as scoring casts
    them; a signature naming a column the rows lack, or typing one differently, is an error naming it."""

    def score(uri: str) -> float:
        import mlflow
        from mlflow.models import get_model_info

        from lakepulse.ml import tracking

        signature = get_model_info(uri).signature
        if signature is None or not signature.inputs.input_names():
            raise LakepulseError(f"{uri} has no input signature")
        kinds = dict(test_rows.dtypes)
        wanted = {c.name: getattr(c.type, "name", str(c.type)) for c in signature.inputs.inputs}
        missing = [c for c in wanted if c not in kinds]
        if missing:
            raise LakepulseError(f"the test rows lack column(s) {', '.join(missing)} that {uri} needs")
        retyped = [c for c, t in wanted.items() if (t == "string") != (kinds[c] == "string")]
        if retyped:
            raise LakepulseError(f"{uri}'s signature types column(s) {', '.join(retyped)} otherwise")
        rows = test_rows.select(
            *[(F.col(c) if t == "string" else F.col(c).cast("double")).alias(c) for c, t in wanted.items()],
            F.col(LABEL),
        )
        model = mlflow.spark.load_model(uri, dfs_tmpdir=tracking.dfs_tmpdir(config))
        return roc_auc(with_score(model.transform(rows)))

    return score


def register(
    config: Config,
    best: Trial,
    test_rows: DataFrame,
    spec: FeatureSpec,
    run_id: str,
    metrics: dict[str, float],
    window: TestWindow,
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
    challenge = Challenge(window, champion_scorer(config, test_rows), config.models.churn_promotion_margin)
    promotion = registry.register_and_promote(
        MlflowClient(),
        MODEL_NAME,
        info.model_uri,
        run_id,
        TEST_METRIC,
        metrics[TEST_METRIC],
        challenge=challenge,
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
