"""Champion vs challenger on the same data: the churn champion is re-scored on the challenger's test rows
and the alias moves only for a win by more than the margin (issue 17, item 2).

Real Spark ML pipelines, logged and registered by the product's own `churn.promotion.register` into a
SQLite MLflow store under tmp_path. Every expected figure is computed here, by scikit-learn on the
fitted models' predictions, never read back from the code under test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lakepulse.ml import tracking
from lakepulse.ml.churn import FeatureSpec, Split, Trial, build_pipeline, promotion
from tests.conftest import make_config

TRAIN_DAY, VALIDATION_DAY, TEST_DAY = dt.date(2026, 3, 1), dt.date(2026, 3, 8), dt.date(2026, 3, 15)
TEST_ROWS = 800  # under the evaluator's 1000 bins, so Spark's ROC AUC is exact, as scikit-learn's
VERSIONS = {"gold/customer_features": 3, "gold/churn_labels": 2}
STRONG = FeatureSpec(("x1", "x2"), ())
WEAK = FeatureSpec(("x1",), ())
WIDE = FeatureSpec(("x1", "x2", "x3"), ())  # needs a column the challenger's test rows lack
LR = {"regParam": 0.01, "elasticNetParam": 0.0}


def rows(n: int, day: dt.date, seed: int) -> pd.DataFrame:
    """Churn depends on x1 and x2 equally; x3 is noise."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.3 * x1 + 1.3 * x2 - 0.4)))).astype(float)
    keys = [f"c{seed}-{i}" for i in range(n)]
    return pd.DataFrame(
        {"customer_key": keys, "as_of_date": day, "x1": x1, "x2": x2, "x3": x3, "label": label}
    )


def churn_auc(model, test) -> float:
    """scikit-learn's ROC AUC of a fitted pipeline's churn probability on the test rows."""
    predicted = model.transform(test).select("label", "probability").toPandas()
    return float(roc_auc_score(predicted["label"], [p[1] for p in predicted["probability"]]))


@pytest.fixture(scope="module")
def models(spark):
    train = spark.createDataFrame(rows(1500, TRAIN_DAY, seed=1))
    test_frame = rows(TEST_ROWS, TEST_DAY, seed=2)
    test = spark.createDataFrame(test_frame.drop(columns=["x3"])).cache()
    shuffled = train.toPandas()
    shuffled["label"] = np.random.default_rng(5).permutation(shuffled["label"].to_numpy())
    fitted = {
        "strong": build_pipeline(STRONG, "logistic_regression", LR, 1).fit(train),
        "weak": build_pipeline(WEAK, "logistic_regression", LR, 1).fit(train),
        "shuffled": build_pipeline(STRONG, "logistic_regression", LR, 1).fit(spark.createDataFrame(shuffled)),
        "wide": build_pipeline(WIDE, "logistic_regression", LR, 1).fit(train),
    }
    aucs = {name: churn_auc(m, test) for name, m in fitted.items() if name != "wide"}
    # The premises: a clearly better and a clearly worse model than the strong one.
    assert aucs["strong"] > aucs["weak"] + 0.03 and aucs["strong"] > aucs["shuffled"] + 0.1, aucs
    yield {"fitted": fitted, "aucs": aucs, "test": test}
    test.unpersist()


@pytest.fixture
def store(tmp_path):
    """A fresh registry per test, with the margin the test sets."""

    def open_store(margin: float):
        from mlflow import MlflowClient

        config = make_config(tmp_path / "home", f"models.churn_promotion_margin={margin}")
        tracking.setup_mlflow(config)
        return config, MlflowClient(config.mlflow.tracking_uri, config.mlflow.registry_uri)

    return open_store


def train(config, model, spec: FeatureSpec, test, metric: float):
    """One training's registration, as train_churn does it: log, register, gate. Returns (promotion,
    the run as logged)."""
    import mlflow

    split = Split((TRAIN_DAY,), (VALIDATION_DAY,), (TEST_DAY,), gap_days=7)
    with mlflow.start_run() as run:
        best = Trial("logistic_regression", LR, run.info.run_id, {}, model)
        window = promotion.window_of(split, VERSIONS, TEST_ROWS)
        logged = promotion.log_model(config, best, test, spec, run.info.run_id)
        result = promotion.register(config, logged, test, run.info.run_id, {"test_roc_auc": metric}, window)
    return result, mlflow.MlflowClient().get_run(run.info.run_id)


def champion(client) -> str:
    return str(client.get_model_version_by_alias(promotion.MODEL_NAME, "champion").version)


def test_a_worse_challenger_is_judged_against_the_champion_rescored_on_its_test_rows(store, models):
    config, client = store(0.005)
    fitted, aucs, test = models["fitted"], models["aucs"], models["test"]
    # Recorded on its own older window, 0.04 lower: the gate must use the re-scored figure instead.
    first, first_run = train(config, fitted["strong"], STRONG, test, aucs["strong"] - 0.04)
    assert first.promoted and first.previous_version is None
    worse, run = train(config, fitted["shuffled"], STRONG, test, aucs["shuffled"])
    assert not worse.promoted and champion(client) == "1"
    m, p = run.data.metrics, run.data.params
    # The champion's score on the challenger's own test rows, against scikit-learn on its predictions.
    assert m["champion_test_roc_auc"] == pytest.approx(aucs["strong"], abs=1e-6)
    assert m["challenger_test_roc_auc"] == pytest.approx(aucs["shuffled"], abs=1e-12)
    assert m["promoted"] == 0.0 and m["test_window_rows"] == TEST_ROWS
    assert p["champion_version"] == "1" and p["champion_rescored"] == "true"
    assert float(p["promotion_margin"]) == 0.005
    assert (p["test_window_start"], p["test_window_end"]) == ("2026-03-15", "2026-03-15")
    assert "gold/customer_features v3" in p["test_window"] and "gold/churn_labels v2" in p["test_window"]
    # The first run logs the same keys (no champion to compare with), so the comparison view lines up.
    assert first_run.data.params["champion_version"] == "none" and first_run.data.metrics["promoted"] == 1.0
    assert set(first_run.data.params) == set(p)
    assert set(first_run.data.metrics) == set(m) - {"champion_test_roc_auc"}


@pytest.mark.parametrize(
    ("share_of_the_gain", "promoted"),
    [(0.5, True), (1.5, False)],
    ids=["wins-by-more-than-the-margin", "wins-by-less-than-the-margin"],
)
def test_a_better_challenger_takes_the_alias_only_beyond_the_margin(
    store, models, share_of_the_gain, promoted
):
    fitted, aucs, test = models["fitted"], models["aucs"], models["test"]
    gain = aucs["strong"] - aucs["weak"]  # scikit-learn's, on the same test rows
    margin = round(share_of_the_gain * gain, 6)
    config, client = store(margin)
    # Recorded on its own older window as better than the challenger: only a re-scored champion loses.
    train(config, fitted["weak"], WEAK, test, aucs["strong"] + 0.05)
    result, run = train(config, fitted["strong"], STRONG, test, aucs["strong"])
    assert result.promoted is promoted
    assert champion(client) == ("2" if promoted else "1")
    if promoted:
        assert (
            str(client.get_model_version_by_alias(promotion.MODEL_NAME, "previous_champion").version) == "1"
        )
    m = run.data.metrics
    assert m["promoted"] == float(promoted)
    assert m["champion_test_roc_auc"] == pytest.approx(aucs["weak"], abs=1e-6)
    assert float(run.data.params["promotion_margin"]) == pytest.approx(margin)


def test_a_champion_that_cannot_score_the_test_rows_falls_back_to_its_recorded_metric(store, models):
    """The champion needs x3, which the challenger's test rows lack: one warning, the recorded figure."""
    config, client = store(0.005)
    fitted, aucs, test = models["fitted"], models["aucs"], models["test"]
    recorded = 0.99  # as if the champion had tested that well on its own, older window
    train(config, fitted["wide"], WIDE, models["test"].withColumn("x3", test["x1"]), recorded)
    result, run = train(config, fitted["strong"], STRONG, test, aucs["strong"])
    assert not result.promoted and not result.rescored and champion(client) == "1"
    assert run.data.params["champion_rescored"] == "false"
    assert run.data.metrics["champion_test_roc_auc"] == recorded
