"""Bring your own data: a transactions CSV with its own column names and date format, mapped in config,
gives churn features, a trained and registered churn model, and scores, with no generated data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lakepulse.runtime import delta_io
from tests import model_fixtures as mf
from tests.conftest import load_job, make_config

MAPPING = [
    "byod.customer_id_column=Kundennummer",
    "byod.date_column=Buchungstag",
    "byod.amount_column=Betrag",
    "byod.date_format=dd/MM/yyyy",
    "byod.delimiter=;",
]
TRAIN = [
    *mf.CHURN_OVERRIDES,
    "models.as_of_every_days=3",
    "models.max_evals=1",
    "models.gbt_max_iter=10",
    "models.fairness_min_segment_size=20",
]


def transactions(customers: int = 150, days: int = 42, seed: int = 5) -> pd.DataFrame:
    """Daily purchases until a customer's churn day; heavier buyers churn less (a learnable signal)."""
    rng = np.random.default_rng(seed)
    start = dt.date(2025, 3, 1)
    rows = []
    for i in range(customers):
        rate = rng.uniform(0.35, 0.9)
        hazard = 0.03 * (1.4 - rate)
        churn_day = rng.geometric(hazard)
        for d in range(min(days, churn_day)):
            if rng.random() < rate:
                amount = f"{rng.uniform(3, 250):.2f}".replace(".", ",")
                rows.append(
                    (f"K-{i:05d}", (start + dt.timedelta(days=d)).strftime("%d/%m/%Y"), amount, "Nord")
                )
    return pd.DataFrame(rows, columns=["Kundennummer", "Buchungstag", "Betrag", "Filiale"])


@pytest.fixture(scope="module")
def byod_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("byod")
    csv = root / "umsaetze.csv"
    data = transactions()
    data.to_csv(csv, sep=";", index=False)
    home = root / "home"
    code = load_job("train_churn").main([*mf.job_args(home, *TRAIN, *MAPPING), "--byod", str(csv)])
    assert code == 0
    assert load_job("score").main(mf.job_args(home, *TRAIN, *MAPPING)) == 0
    return {"home": home, "config": make_config(home, *TRAIN, *MAPPING), "data": data, "csv": csv}


def key(customer_id: str) -> str:
    return mf.customer_key(customer_id)


def test_transactions_become_silver_events_and_gold_features(spark, byod_run):
    config, data = byod_run["config"], byod_run["data"]
    events = delta_io.read_delta(spark, config.table_path("silver", "events")).toPandas()
    assert len(events) == len(data)
    assert set(events["customer_key"]) == {key(c) for c in data["Kundennummer"]}
    assert set(events["event_type"]) == {"purchase"}
    expected_spend = data["Betrag"].str.replace(",", ".").astype(float).sum()
    assert float(events["unit_price"].astype(float).sum()) == pytest.approx(expected_spend, abs=0.01)
    first = min(pd.to_datetime(data["Buchungstag"], format="%d/%m/%Y")).date()
    assert min(events["event_date"]) == first
    features = delta_io.read_delta(spark, config.table_path("gold", "customer_features"))
    assert features.select("customer_key").distinct().count() == data["Kundennummer"].nunique()


def test_churn_labels_are_gold_and_match_the_label_recomputed_from_the_csv(spark, byod_run):
    """The BYOD lake gets gold/churn_labels like any other (train_churn reads only gold): active = a
    transaction in the 7 days before D, churned = none in the 7 days from D (a CSV holds no cancel)."""
    config, data = byod_run["config"], byod_run["data"]
    days_of: dict[str, set] = {}
    for c, d in zip(
        data["Kundennummer"], pd.to_datetime(data["Buchungstag"], format="%d/%m/%Y").dt.date, strict=True
    ):
        days_of.setdefault(key(c), set()).add(d)
    first, last = min(map(min, days_of.values())), max(map(max, days_of.values()))
    expected = set()
    for customer, days in days_of.items():
        d = first + dt.timedelta(days=7)
        while d <= last - dt.timedelta(days=6):
            if any(d - dt.timedelta(days=k) in days for k in range(1, 8)):
                expected.add((customer, d, not any(d + dt.timedelta(days=k) in days for k in range(7))))
            d += dt.timedelta(days=1)
    got = delta_io.read_delta(spark, config.table_path("gold", "churn_labels")).toPandas()
    assert set(zip(got["customer_key"], got["label_date"], got["churned"], strict=True)) == expected
    assert not got["cancelled"].any() and got["churned"].any() and not got["churned"].all()


def test_a_churn_model_is_trained_registered_and_scores_the_active_customers(spark, byod_run):
    from mlflow import MlflowClient

    config, data = byod_run["config"], byod_run["data"]
    client = MlflowClient(tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri)
    champion = client.get_model_version_by_alias("lakepulse-churn", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.metrics["test_roc_auc"] > 0.7  # purchase recency and frequency predict the label
    assert "oracle_roc_auc" not in run.data.metrics  # no planted truth in a user's own data
    scores = delta_io.read_delta(spark, config.table_path("gold", "churn_scores")).toPandas()
    dates = pd.to_datetime(data["Buchungstag"], format="%d/%m/%Y").dt.date
    latest = max(dates) + dt.timedelta(days=1)
    active = {
        key(c) for c, d in zip(data["Kundennummer"], dates, strict=True) if d >= latest - dt.timedelta(days=7)
    }
    assert set(scores["as_of_date"]) == {latest}
    assert set(scores["customer_key"]) == active
    assert scores["churn_probability"].between(0, 1).all()


def test_a_mapping_naming_a_missing_column_fails_with_the_key(spark, tmp_path, capsys):
    csv = tmp_path / "t.csv"
    transactions(customers=3, days=5).to_csv(csv, sep=";", index=False)
    mapping = [m for m in MAPPING if not m.startswith("byod.date_column")] + ["byod.date_column=Datum"]
    code = load_job("train_churn").main([*mf.job_args(tmp_path / "home", *mapping), "--byod", str(csv)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "byod.date_column 'Datum'" in err[0] and "Buchungstag" in err[0]


def test_a_date_that_does_not_match_the_format_names_the_record(spark, tmp_path, capsys):
    csv = tmp_path / "t.csv"
    transactions(customers=3, days=5).to_csv(csv, sep=";", index=False)
    mapping = [m for m in MAPPING if not m.startswith("byod.date_format")] + ["byod.date_format=yyyy-MM-dd"]
    code = load_job("train_churn").main([*mf.job_args(tmp_path / "home", *mapping), "--byod", str(csv)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "K-0000" in err[0] and "byod.date_format" in err[0]


def test_a_lake_of_the_regular_pipeline_is_never_overwritten(spark, tmp_path, capsys):
    home = tmp_path / "home"
    config = make_config(home)
    silver = spark.createDataFrame([("e1", dt.date(2026, 1, 1))], "event_id string, event_date date")
    delta_io.overwrite(silver, config.table_path("silver", "events"))
    csv = tmp_path / "t.csv"
    transactions(customers=3, days=5).to_csv(csv, sep=";", index=False)
    code = load_job("train_churn").main([*mf.job_args(home, *MAPPING), "--byod", str(csv)])
    assert code == 1
    assert "home of its own" in capsys.readouterr().err
    assert delta_io.read_delta(spark, config.table_path("silver", "events")).count() == 1
