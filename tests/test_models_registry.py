"""Champion/challenger on real MLflow model versions (tiny pyfunc models, no Spark)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lakepulse.ml import registry, tracking
from tests.conftest import make_config


class Constant:
    """A pyfunc model returning one number, so each version is recognisable when loaded."""

    @staticmethod
    def build(value: float):
        import mlflow.pyfunc

        class Model(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
                return pd.DataFrame({"y": [value] * len(model_input)})

        return Model()


@pytest.fixture
def store(tmp_path):
    config = make_config(tmp_path / "home")
    tracking.setup_mlflow(config)
    from mlflow import MlflowClient

    return config, MlflowClient(
        tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri
    )


def train(
    client, name: str, value: float, metric: float, higher_is_better: bool = True
) -> registry.Promotion:
    import mlflow

    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Constant.build(value), pip_requirements=["mlflow"]
        )
        return registry.register_and_promote(
            client, name, info.model_uri, run.info.run_id, "m", metric, higher_is_better
        )


def loaded(name: str, ref: str) -> float:
    import mlflow

    return float(mlflow.pyfunc.load_model(f"models:/{name}{ref}").predict(pd.DataFrame({"x": [0]}))["y"][0])


def test_champion_moves_only_on_a_strictly_better_metric(store):
    config, client = store
    first = train(client, "t-higher", value=1.0, metric=0.70)
    assert first.promoted and first.previous_version is None
    worse = train(client, "t-higher", value=2.0, metric=0.60)
    assert not worse.promoted and worse.champion_version == 1
    tie = train(client, "t-higher", value=3.0, metric=0.70)
    assert not tie.promoted
    better = train(client, "t-higher", value=4.0, metric=0.80)
    assert better.promoted and better.previous_version == 1 and better.previous_metric == pytest.approx(0.70)
    assert loaded("t-higher", "@champion") == 4.0
    assert loaded("t-higher", "@previous_champion") == 1.0
    # Every version stays loadable by number.
    assert [loaded("t-higher", f"/{v}") for v in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 4.0]
    tags = client.get_model_version("t-higher", "2").tags
    assert tags["promoted"] == "false" and float(tags["test_metric"]) == pytest.approx(0.60)


def test_lower_is_better_metrics_and_nan(store):
    _, client = store
    assert train(client, "t-lower", 1.0, metric=0.30, higher_is_better=False).promoted
    assert not train(client, "t-lower", 2.0, metric=0.35, higher_is_better=False).promoted
    assert not train(client, "t-lower", 3.0, metric=math.nan, higher_is_better=False).promoted
    assert train(client, "t-lower", 4.0, metric=0.25, higher_is_better=False).promoted
    assert loaded("t-lower", "@champion") == 4.0


def test_experiment_artifacts_live_under_the_configured_root(store):
    config, client = store
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    assert experiment.artifact_location.rstrip("/").endswith(config.mlflow.artifact_root.rstrip("/"))
