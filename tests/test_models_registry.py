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
    client,
    name: str,
    value: float,
    metric: float,
    higher_is_better: bool = True,
    challenge: registry.Challenge | None = None,
) -> registry.Promotion:
    import mlflow

    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Constant.build(value), pip_requirements=["mlflow"]
        )
        return registry.register_and_promote(
            client, name, info.model_uri, run.info.run_id, "m", metric, higher_is_better, challenge=challenge
        )


def challenge(rescore, margin: float) -> registry.Challenge:
    return registry.Challenge(
        registry.TestWindow("days 1..10", "2026-01-01", "2026-01-10", 40), rescore, margin
    )


def logged(client, promotion: registry.Promotion):
    """The run that registered `promotion`'s version, as MLflow holds it."""
    version = client.get_model_version(promotion.name, str(promotion.version))
    return client.get_run(version.tags["source_run_id"]).data


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


def test_the_margin_applies_in_the_metric_s_direction_against_the_rescored_champion(store):
    """Lower is better: the champion re-scores 0.30 on each challenger's window (recorded: 0.50)."""
    _, client = store
    asked = []

    def rescore(uri: str) -> float:
        asked.append(uri)
        return 0.30

    assert train(client, "t-margin", 1.0, metric=0.50, higher_is_better=False).promoted
    close = train(client, "t-margin", 2.0, 0.295, False, challenge(rescore, 0.01))  # better by 0.005
    assert not close.promoted and close.rescored and close.previous_metric == 0.30
    worse = train(client, "t-margin", 3.0, 0.32, False, challenge(rescore, 0.01))
    assert not worse.promoted
    clear = train(client, "t-margin", 4.0, 0.285, False, challenge(rescore, 0.01))  # better by 0.015
    assert clear.promoted and loaded("t-margin", "@champion") == 4.0
    assert loaded("t-margin", "@previous_champion") == 1.0
    assert asked == ["models:/t-margin@champion"] * 3
    data = logged(client, close)
    assert data.metrics["champion_m"] == 0.30 and data.metrics["challenger_m"] == 0.295
    assert data.metrics["promoted"] == 0.0 and data.metrics["test_window_rows"] == 40
    assert data.params["promotion_margin"] == "0.01" and data.params["champion_version"] == "1"
    assert (data.params["test_window_start"], data.params["test_window_end"]) == ("2026-01-01", "2026-01-10")
    assert logged(client, clear).metrics["promoted"] == 1.0


def test_a_champion_that_cannot_be_rescored_is_judged_on_its_recorded_metric(store, caplog):
    _, client = store

    def broken(uri: str) -> float:
        raise KeyError(f"{uri} needs column 'price', which the test rows lack")

    train(client, "t-fallback", 1.0, metric=0.70)
    with caplog.at_level("WARNING", logger="lakepulse.ml"):
        result = train(client, "t-fallback", 2.0, 0.72, challenge=challenge(broken, 0.005))
    assert result.promoted and not result.rescored and result.previous_metric == 0.70
    (line,) = [r.getMessage() for r in caplog.records if "not re-scored" in r.getMessage()]
    assert "price" in line and "champion_rescored=false" in line and "\n" not in line
    data = logged(client, result)
    assert data.params["champion_rescored"] == "false" and data.metrics["champion_m"] == 0.70
    assert loaded("t-fallback", "@champion") == 2.0
