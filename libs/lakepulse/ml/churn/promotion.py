"""Logs the chosen churn model to MLflow and registers it, champion only when it beats the current one.

The model is logged as a Spark ML pipeline (`mlflow.spark`), a LoggedModel of the run, with a signature
of the raw feature columns in and P(churn) out and a five-row synthetic input example, so scoring knows which
columns to feed it without lakepulse's code.
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


def model_signature(example):
    """The raw feature columns in (from the input example), P(churn) out: a double named
    `churn_probability`, what the pipeline's last stage returns to a pyfunc (pipelines.PROBABILITY_OUTPUT)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.utils import _infer_schema

    return ModelSignature(
        inputs=_infer_schema(example), outputs=Schema([ColSpec(DataType.double, "churn_probability")])
    )


EXAMPLE_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


def input_example(rows: DataFrame, spec: FeatureSpec):
    """Five synthetic rows for the model's input example, none of them a customer's: row i holds each
    numeric feature's EXAMPLE_QUANTILES[i] over `rows` and each categorical feature's most frequent
    value. The example is stored with the model, out of reach of erasure and of the lake's access
    rules, so real customers' feature rows must not be in it (they were until 2026-12).
    """
    import pandas as pd

    quantiles = F.array(*[F.lit(q) for q in EXAMPLE_QUANTILES])
    aggregates = [F.percentile_approx(c, quantiles).alias(c) for c in spec.numeric]
    aggregates += [F.mode(c).alias(c) for c in spec.categorical]
    summary = rows.agg(*aggregates).first().asDict()  # one row of a few numbers per feature
    count = len(EXAMPLE_QUANTILES)
    columns = {c: pd.Series(summary[c] or [None] * count, dtype="float64") for c in spec.numeric}
    # A categorical feature with no value at all gets "" (the signature needs a string column).
    columns.update({c: [summary[c] if summary[c] is not None else ""] * count for c in spec.categorical})
    return pd.DataFrame(columns, columns=list(spec.inputs))


def log_model(config: Config, best: Trial, test_rows: DataFrame, spec: FeatureSpec, run_id: str):
    """Logs `best` as a LoggedModel named "model" of the run and returns it (its `model_id`, and
    `model_uri` = models:/<model_id>).

    MLflow 3.17.2's `mlflow.spark.log_model` still logs through the run-artifact path of MLflow 2
    (`Model._log_v2`: no `name` keyword, no LoggedModel), so the model is saved with
    `mlflow.spark.save_model` (signature, input example, requirements) and uploaded into a LoggedModel
    created for it, which the run then lists as its output.
    """
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelOutput

    from lakepulse.ml import tracking

    example = input_example(test_rows, spec)
    model = mlflow.initialize_logged_model(name="model", source_run_id=run_id, model_type="spark")
    client = MlflowClient()
    try:
        with tempfile.TemporaryDirectory(prefix="lakepulse-churn-") as tmp:
            path = Path(tmp) / "model"
            mlflow.spark.save_model(
                best.model,
                str(path),
                signature=model_signature(example),
                input_example=example,
                dfs_tmpdir=tracking.dfs_tmpdir(config),
                pip_requirements=list(tracking.MODEL_REQUIREMENTS),
            )
            client.log_model_artifacts(model.model_id, str(path))
        client.log_outputs(run_id, [LoggedModelOutput(model_id=model.model_id, step=0)])
    except BaseException:
        mlflow.finalize_logged_model(model.model_id, "FAILED")
        raise
    return mlflow.finalize_logged_model(model.model_id, "READY")


def register(
    config: Config,
    model,
    test_rows: DataFrame,
    run_id: str,
    metrics: dict[str, float],
    window: TestWindow,
):
    """Registers the logged `model` (a LoggedModel, `log_model`) as a new version of MODEL_NAME and
    returns the registry's Promotion; the run's tags name the version, so a run leads to its model and
    back."""
    import mlflow
    from mlflow import MlflowClient

    from lakepulse.ml import registry

    challenge = Challenge(window, champion_scorer(config, test_rows), config.models.churn_promotion_margin)
    promotion = registry.register_and_promote(
        MlflowClient(),
        MODEL_NAME,
        f"models:/{model.model_id}",
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
