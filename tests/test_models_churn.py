"""Churn model: the time split, metrics against scikit-learn, a full training run against planted truth
(nested hyperopt runs, logged lineage and artifacts, registration), and scoring with the champion."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from sklearn.metrics import auc, log_loss, precision_recall_curve, roc_auc_score

from lakepulse.errors import LakepulseError
from lakepulse.ml import churn, fairness
from lakepulse.runtime import delta_io
from tests import model_fixtures as mf
from tests.conftest import load_job, make_config

TRAIN = [
    *mf.CHURN_OVERRIDES,
    "models.as_of_every_days=3",
    "models.max_evals=2",
    "models.gbt_max_iter=10",
    "models.fairness_min_segment_size=20",
]


# --------------------------------------------------------------------------------------------------
# Split


def days(first: dt.date, count: int, step: int = 1) -> list[dt.date]:
    return [first + dt.timedelta(days=i * step) for i in range(count)]


def test_time_split_orders_the_parts_and_keeps_the_gap():
    dates = days(dt.date(2026, 2, 1), 40, step=3)  # 117 days of weekly-ish as-of dates
    split = churn.time_split(dates, 0.25, 0.25, gap_days=30)
    assert split.train and split.validation and split.test
    assert max(split.train) + dt.timedelta(days=30) <= min(split.validation)
    assert max(split.validation) < min(split.test)
    assert max(split.test) == max(dates)
    used = [*split.train, *split.validation, *split.test]
    assert len(used) == len(set(used)) and set(used) <= set(dates)
    # Only the gap is left out: every date before the train end or from the validation start is used.
    skipped = set(dates) - set(used)
    assert all(max(split.train) < d < min(split.validation) for d in skipped)


def test_time_split_too_short_for_the_gap_names_the_setting():
    with pytest.raises(LakepulseError, match="split_gap_days"):
        churn.time_split(days(dt.date(2026, 1, 1), 20), 0.25, 0.25, gap_days=30)
    with pytest.raises(LakepulseError, match="at least 3"):
        churn.time_split(days(dt.date(2026, 1, 1), 2), 0.25, 0.25, gap_days=0)


def test_sample_dates_counts_back_from_the_latest():
    dates = days(dt.date(2026, 1, 1), 10)
    assert churn.sample_dates(dates, 4) == [dt.date(2026, 1, 2), dt.date(2026, 1, 6), dt.date(2026, 1, 10)]


def test_labels_of_other_settings_than_the_training_s_are_refused(spark, tmp_path):
    from lakepulse.ml.churn.data import check_label_settings

    config = make_config(tmp_path / "home", *mf.CHURN_OVERRIDES)  # horizon and look-back 7
    rows = [("k1", dt.date(2026, 1, 8), True, False, 7, 7), ("k2", dt.date(2026, 1, 9), False, False, 14, 7)]
    labels = spark.createDataFrame(
        rows,
        "customer_key string, label_date date, churned boolean, "
        "cancelled boolean, horizon_days int, active_days int",
    )
    with pytest.raises(LakepulseError, match="2026-01-09 was computed with horizon 14"):
        check_label_settings(labels, config)
    assert check_label_settings(labels.filter("horizon_days = 7"), config).count() == 1


# --------------------------------------------------------------------------------------------------
# Metrics and fairness, against independent computations


@pytest.fixture(scope="module")
def scored_sample(spark):
    rng = np.random.default_rng(3)
    n = 600
    score = rng.uniform(0.001, 0.999, n)
    label = (rng.uniform(0, 1, n) < 0.15 + 0.6 * score**2).astype(float)
    segment = rng.choice(["a", "b", "c"], n)
    # Ties on purpose in the fairness check: scores rounded to 2 decimals.
    frame = pd.DataFrame({"score": score, "label": label, "segment": segment, "tied": np.round(score, 2)})
    return frame, spark.createDataFrame(frame)


def test_binary_metrics_match_scikit_learn(scored_sample):
    frame, df = scored_sample
    got = churn.binary_metrics(df)
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-3)
    precision, recall, _ = precision_recall_curve(y, s)
    assert got["pr_auc"] == pytest.approx(auc(recall, precision), abs=0.01)
    assert got["log_loss"] == pytest.approx(log_loss(y, s), abs=1e-9)
    bins = np.minimum(np.floor(s * 10), 9)
    ece = sum((bins == b).mean() * abs(y[bins == b].mean() - s[bins == b].mean()) for b in np.unique(bins))
    assert got["calibration_error"] == pytest.approx(ece, abs=1e-9)
    order = np.argsort(-s)
    lifts = [y[order[:k]].mean() / y.mean() for k in (len(s) // 10, len(s) // 10 + 1)]
    assert min(lifts) - 1e-9 <= got["top_decile_lift"] <= max(lifts) + 1e-9
    assert got["rows"] == len(frame) and got["churn_rate"] == pytest.approx(y.mean())


def test_curves_end_at_the_corners(scored_sample):
    _, df = scored_sample
    points = churn.curves(churn.score_histogram(df))
    assert points["fpr"][0] == 0 and points["tpr"][0] == 0
    assert points["fpr"][-1] == pytest.approx(1) and points["tpr"][-1] == pytest.approx(1)
    assert all(a <= b for a, b in zip(points["tpr"], points["tpr"][1:], strict=False))


def test_segment_auc_matches_scikit_learn_with_ties(scored_sample):
    frame, df = scored_sample
    report = fairness.audit(df, ["segment", "missing_column"], 50, 0.01, "tied", "label")
    assert report.skipped == ("missing_column",)
    for row in report.rows:
        part = frame[frame["segment"] == row.value]
        assert row.rows == len(part)
        assert row.roc_auc == pytest.approx(roc_auc_score(part["label"], part["tied"]), abs=1e-12)
        assert row.roc_auc_se == pytest.approx(delong_se(part["tied"], part["label"]), rel=1e-9)
    aucs = [r.roc_auc for r in report.rows]
    assert report.gaps["segment"] == pytest.approx(max(aucs) - min(aucs))
    assert report.flagged == (("segment",) if report.gaps["segment"] > 0.01 else ())
    lo, hi = min(report.rows, key=lambda r: r.roc_auc), max(report.rows, key=lambda r: r.roc_auc)
    half = 1.96 * np.hypot(lo.roc_auc_se, hi.roc_auc_se)
    assert report.gap_ci["segment"] == pytest.approx(
        (report.gaps["segment"] - half, report.gaps["segment"] + half), abs=1e-4
    )
    lenient = fairness.audit(df, ["segment"], 50, 1.0, "tied", "label")
    assert lenient.flagged == ()


def test_segment_values_of_one_class_get_no_auc_and_do_not_fail(spark, scored_sample):
    """A country whose customers all stayed (or all churned) has no AUC; the audit goes on without it."""
    frame, _ = scored_sample
    rng = np.random.default_rng(5)
    one_class = pd.DataFrame(
        {
            "segment": ["only-stayed"] * 30 + ["only-churned"] * 30,
            "label": [0.0] * 30 + [1.0] * 30,
            "score": rng.uniform(0.001, 0.999, 60),
        }
    )
    frame = pd.concat([frame[["segment", "label", "score"]], one_class], ignore_index=True)
    report = fairness.audit(spark.createDataFrame(frame), ["segment"], 20, 0.1, "score", "label")
    by_value = {r.value: r for r in report.rows}
    assert set(by_value) == set(frame["segment"])
    for value in ("only-stayed", "only-churned"):
        assert math.isnan(by_value[value].roc_auc) and not by_value[value].audited, value
    two_class = [v for v in by_value if not v.startswith("only-")]
    for value in two_class:  # the others are audited as before
        part = frame[frame["segment"] == value]
        assert by_value[value].roc_auc == pytest.approx(
            roc_auc_score(part["label"], part["score"]), abs=1e-12
        )
    aucs = [by_value[v].roc_auc for v in two_class]
    assert report.gaps["segment"] == pytest.approx(max(aucs) - min(aucs))


def delong_se(score: pd.Series, label: pd.Series) -> float:
    """DeLong's standard error of the AUC from the full positive x negative comparison matrix."""
    pos, neg = score[label == 1].to_numpy(), score[label == 0].to_numpy()
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))


def test_a_gap_between_equal_groups_is_marked_as_possible_noise(spark):
    """Planted truth: two groups scored by the same rule (no real gap) and a third with a real one."""
    rng = np.random.default_rng(11)
    parts = []
    for group, n, signal in (("same-a", 80, 1.0), ("same-b", 80, 1.0), ("weak", 4000, 0.0)):
        label = (rng.uniform(0, 1, n) < 0.3).astype(float)
        parts.append(
            pd.DataFrame({"g": group, "label": label, "score": signal * label + rng.normal(0, 1, n)})
        )
    frame = pd.concat(parts, ignore_index=True)
    df = spark.createDataFrame(frame)
    small = fairness.audit(df.where("g != 'weak'"), ["g"], 20, 0.0, "score", "label")
    assert small.flagged == ("g",) and small.uncertain == ("g",)  # any gap > 0, but within noise
    real = fairness.audit(df.where("g != 'same-b'"), ["g"], 20, 0.05, "score", "label")
    low, _ = real.gap_ci["g"]
    assert real.flagged == ("g",) and low > 0.05 and real.uncertain == ()
    assert any("may be noise" in line for line in small.lines())


# --------------------------------------------------------------------------------------------------
# A full training run on a small world with planted churn


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("churn") / "home"
    config = make_config(home, *TRAIN)
    world = mf.churn_world()
    mf.write_churn_lake(spark, config, world)
    code = load_job("train_churn").main(mf.job_args(home, *TRAIN))
    assert code == 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri)
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("lakepulse.job") == "train_churn")
    return {"home": home, "config": config, "world": world, "client": client, "runs": runs, "parent": parent}


def test_trials_are_nested_runs_of_both_families_under_one_parent(trained):
    parent = trained["parent"]
    children = [r for r in trained["runs"] if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    families = sorted(r.data.params["family"] for r in children)
    assert families == ["gradient_boosted_trees"] * 2 + ["logistic_regression"] * 2
    assert all("validation_roc_auc" in r.data.metrics for r in children)
    best = max(children, key=lambda r: r.data.metrics["validation_roc_auc"])
    assert parent.data.params["best_family"] == best.data.params["family"]
    assert parent.data.params["best_trial_run_id"] == best.info.run_id


def test_run_logs_lineage_artifacts_and_a_model_with_signature(spark, trained):
    config, client, parent = trained["config"], trained["client"], trained["parent"]
    for name, layer, table in (
        ("delta_version.gold.customer_features", "gold", "customer_features"),
        ("delta_version.gold.churn_labels", "gold", "churn_labels"),
    ):
        assert int(parent.data.params[name]) == delta_io.table_version(spark, config.table_path(layer, table))
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {
        "plots/roc_curve.png",
        "plots/pr_curve.png",
        "plots/calibration.png",
        "plots/feature_importance.png",
    } <= artifacts
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "fairness")} >= {
        "fairness/segments.csv"
    }
    from mlflow.models import get_model_info

    info = get_model_info("models:/lakepulse-churn/1")
    inputs = info.signature.inputs.input_names()
    assert {"days_since_last_activity", "events_7d", "plan", "spend_30d"} <= set(inputs)
    assert "customer_key" not in inputs and "label" not in inputs
    assert info.saved_input_example_info is not None
    for metric in (
        "test_roc_auc",
        "test_pr_auc",
        "test_log_loss",
        "test_top_decile_lift",
        "test_calibration_error",
        "baseline_recency_roc_auc",
    ):
        assert metric in parent.data.metrics, metric
    assert not [k for k in parent.data.metrics if "oracle" in k]  # the product knows no planted truth
    assert not [k for k in parent.data.params if k.startswith("delta_version.silver")]  # gold only


def test_the_input_example_is_no_customer_s_row(spark, trained):
    """The example stored with the model is synthetic: per-feature quantiles, no customer's row (erasure
    cannot reach a model's artifacts)."""
    import mlflow
    from mlflow.models import Model

    config = trained["config"]
    local = mlflow.artifacts.download_artifacts(
        "models:/lakepulse-churn/1", dst_path=str(trained["home"] / "ex")
    )
    example = Model.load(local).load_input_example(local)
    features = delta_io.read_delta(spark, config.table_path("gold", "customer_features")).toPandas()
    numeric = [c for c in example.columns if pd.api.types.is_numeric_dtype(example[c])]
    assert len(example) == 5 and len(numeric) >= 5
    rows = features[list(example.columns)].astype({c: "float64" for c in numeric})
    real = {tuple(r) for r in rows.fillna(-1e300).itertuples(index=False)}  # NaN != NaN: a sentinel
    assert not [tuple(r) for r in example.fillna(-1e300).itertuples(index=False) if tuple(r) in real]
    for c in numeric:
        values = example[c].to_numpy()
        assert (np.diff(values) >= 0).all(), c  # ascending quantiles
        assert rows[c].min() <= values[0] and values[-1] <= rows[c].max(), c
    assert example["plan"].nunique() == 1 and example["plan"].iloc[0] in set(features["plan"])


def test_churn_labels_table_matches_the_label_recomputed_in_pandas(spark, trained):
    config, world = trained["config"], trained["world"]
    got = delta_io.read_delta(spark, config.table_path("gold", "churn_labels")).toPandas()
    expected = mf.churn_labels(world, horizon=7, active_days=7)
    got = got.rename(columns={"label_date": "as_of_date"})
    merged = expected.merge(got, on=["customer_key", "as_of_date"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["churned_x"] == merged["churned_y"]).all()
    assert merged["churned_x"].any() and not merged["churned_x"].all()
    assert sorted(set(got["as_of_date"])) == sorted(set(expected["as_of_date"]))


def test_test_metric_matches_an_independent_label_and_auc(spark, trained):
    """The logged test AUC equals scikit-learn's on labels recomputed in pandas from the raw events."""
    import mlflow

    config, world, parent = trained["config"], trained["world"], trained["parent"]
    split = json.loads(
        Path(
            trained["client"].download_artifacts(parent.info.run_id, "split.json", str(trained["home"]))
        ).read_text()
    )
    test_dates = [dt.date.fromisoformat(d) for d in split["test"]]
    train_dates = [dt.date.fromisoformat(d) for d in split["train"]]
    validation_dates = [dt.date.fromisoformat(d) for d in split["validation"]]
    assert max(train_dates) + dt.timedelta(days=7) <= min(validation_dates)  # the horizon as the gap
    assert max(validation_dates) < min(test_dates)

    labels = mf.churn_labels(world, horizon=7, active_days=7)
    labels = labels[labels["as_of_date"].isin(test_dates)]
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    model = mlflow.spark.load_model("models:/lakepulse-churn/1", dfs_tmpdir=str(trained["home"] / "dfs"))
    features = delta_io.read_delta(spark, config.table_path("gold", "customer_features")).filter(
        F.col("as_of_date").isin(*test_dates)
    )
    features = features.withColumn("spend_30d", F.col("spend_30d").cast("double"))
    scored = (
        churn.with_score(model.transform(features)).select("customer_key", "as_of_date", "score").toPandas()
    )
    joined = labels.merge(scored, on=["customer_key", "as_of_date"], how="inner")
    assert len(joined) == len(labels)  # every labelled customer was scored
    expected = roc_auc_score(joined["churned"].astype(float), joined["score"])
    assert parent.data.metrics["test_roc_auc"] == pytest.approx(expected, abs=2e-3)
    assert parent.data.metrics["test_rows"] == len(labels)


def test_oracle_comparison_uses_the_planted_outcome_after_the_period(spark, trained):
    """The sample kit's oracle comparison (lakepulse_sample.churn_oracle, never the product) against the
    oracle AUC recomputed from churn.csv: customers active at the end, outcome = churn in the horizon."""
    from lakepulse_sample import churn_oracle

    world, parent = trained["world"], trained["parent"]
    m = churn_oracle.oracle_for_run(spark, trained["config"], parent.info.run_id)
    oracle_date = world.start + dt.timedelta(days=world.days)
    recent = world.events[world.events["event_date"] >= oracle_date - dt.timedelta(days=7)]
    active = set(recent["customer_key"])
    truth = world.truth.assign(customer_key=world.truth["customer_id"].map(mf.customer_key))
    truth = truth[truth["customer_key"].isin(active) & (truth["churn_probability"] != "")]

    def planted_outcome(text: str) -> float:
        if not text:
            return 0.0
        return float(oracle_date <= dt.date.fromisoformat(text) < oracle_date + dt.timedelta(days=30))

    outcome = [planted_outcome(t) for t in truth["churn_date"]]
    expected = roc_auc_score(outcome, truth["churn_probability"].astype(float))
    assert m["oracle_rows"] == len(truth)
    assert m["oracle_roc_auc"] == pytest.approx(expected, abs=2e-3)
    assert m["auc_ratio_to_oracle"] == pytest.approx(m["oracle_model_roc_auc"] / m["oracle_roc_auc"])
    # The planted hazard depends on plan, age and engagement: the model sees them, recency alone does not.
    logged = parent.data.metrics
    assert logged["test_roc_auc"] > logged["baseline_recency_roc_auc"]


def test_fairness_is_logged_and_flags_follow_the_threshold(trained):
    config, parent = trained["config"], trained["parent"]
    m = parent.data.metrics
    flagged = set(filter(None, parent.data.tags["fairness.flagged"].replace("none", "").split(",")))
    for segment in ("country", "age_band", "city_type", "plan"):
        values = [v for k, v in m.items() if k.startswith(f"fairness.{segment}.") and k.endswith(".roc_auc")]
        assert len(values) >= 2, segment
        assert m[f"fairness.{segment}.auc_gap"] == pytest.approx(max(values) - min(values))
        assert (segment in flagged) == (m[f"fairness.{segment}.auc_gap"] > config.models.fairness_max_auc_gap)


def test_first_training_is_registered_as_champion(trained):
    client = trained["client"]
    champion = client.get_model_version_by_alias("lakepulse-churn", "champion")
    assert str(champion.version) == "1"
    assert float(champion.tags["test_metric"]) == pytest.approx(
        trained["parent"].data.metrics["test_roc_auc"]
    )


def test_score_writes_the_active_customers_of_the_latest_snapshot_idempotently(spark, trained):
    import mlflow

    config, world, home = trained["config"], trained["world"], trained["home"]
    score = load_job("score")
    assert score.main(mf.job_args(home, *TRAIN)) == 0
    assert score.main(mf.job_args(home, *TRAIN)) == 0  # a rerun replaces the day, never duplicates
    rows = delta_io.read_delta(spark, config.table_path("gold", "churn_scores")).toPandas()
    latest = world.start + dt.timedelta(days=world.days)
    recent = world.events[world.events["event_date"] >= latest - dt.timedelta(days=7)]
    assert set(rows["as_of_date"]) == {latest}
    assert sorted(rows["customer_key"]) == sorted(set(recent["customer_key"]))
    assert set(rows["model_version"]) == {1} and set(rows["model_name"]) == {"lakepulse-churn"}
    expected_band = np.where(
        rows["churn_probability"] >= config.models.risk_band_high,
        "high",
        np.where(rows["churn_probability"] >= config.models.risk_band_medium, "medium", "low"),
    )
    assert (rows["risk_band"] == expected_band).all()
    # The probabilities are the champion's, loaded by its version number.
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    model = mlflow.spark.load_model("models:/lakepulse-churn/1", dfs_tmpdir=str(home / "dfs"))
    features = delta_io.read_delta(spark, config.table_path("gold", "customer_features")).filter(
        F.col("as_of_date") == F.lit(latest)
    )
    features = features.withColumn("spend_30d", F.col("spend_30d").cast("double"))
    direct = churn.with_score(model.transform(features)).select("customer_key", "score").toPandas()
    merged = rows.merge(direct, on="customer_key")
    assert np.allclose(merged["churn_probability"], merged["score"])
