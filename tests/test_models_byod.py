"""Bring your own data: a transactions CSV with its own column names and date format, mapped in config,
gives churn features, a trained and registered churn model, and scores, with no generated data."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

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
    """The BYOD lake gets gold/churn_labels like any other (train_churn reads only gold). A transactions
    file's label (byod.churn_active_days 0): every customer with a transaction at any time before D,
    churned = none in the 7 days from D (a CSV holds no cancel; 7 = gold's horizon, which 42 days hold
    six times)."""
    config, data = byod_run["config"], byod_run["data"]
    days_of: dict[str, set] = {}
    for c, d in zip(
        data["Kundennummer"], pd.to_datetime(data["Buchungstag"], format="%d/%m/%Y").dt.date, strict=True
    ):
        days_of.setdefault(key(c), set()).add(d)
    first, last = min(map(min, days_of.values())), max(map(max, days_of.values()))
    expected = set()
    for customer, days in days_of.items():
        d = first + dt.timedelta(days=1)
        while d <= last - dt.timedelta(days=6):
            if min(days) < d:
                expected.add((customer, d, not any(d + dt.timedelta(days=k) in days for k in range(7))))
            d += dt.timedelta(days=1)
    got = delta_io.read_delta(spark, config.table_path("gold", "churn_labels")).toPandas()
    assert set(zip(got["customer_key"], got["label_date"], got["churned"], strict=True)) == expected
    assert not got["cancelled"].any() and got["churned"].any() and not got["churned"].all()


def test_a_churn_model_is_trained_registered_and_scores_every_customer(spark, byod_run):
    """`score` runs with the config's 7-day look-back (gold.churn_active_days=7) but scores with the
    champion's own (every customer with a transaction before the date): the whole base gets a score."""
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
    assert run.data.params["churn_active_days"] == "0"
    assert set(scores["as_of_date"]) == {latest}
    assert set(scores["customer_key"]) == {key(c) for c in data["Kundennummer"]}
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
    assert len(err) == 1 and "byod.date_format 'yyyy-MM-dd'" in err[0]
    assert re.search(r"e\.g\. '\d\d/\d\d/\d{4}'", err[0])
    assert "K-0000" not in err[0]  # the example is the value that did not parse, never a customer


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


def test_a_retailer_export_loads_what_it_can_and_reports_the_rest(spark, tmp_path):
    """A windows-1252 export with quantity and unit price but no total, decimal commas, guest checkouts
    without a customer id, returns (negative quantities) and one date that does not parse: the
    transactions load (ids decoded, spend = price x quantity), the rest is skipped per reason, and the
    counts reconcile with the file as pandas reads it: read = loaded + skipped."""
    from lakepulse.silver import byod

    rng = np.random.default_rng(11)
    rows = []
    for i in range(300):
        who = "" if i % 10 == 0 else f"Müller-{i % 37}"
        quantity = -1 if i % 25 == 0 else int(rng.integers(1, 5))
        price = f"{rng.uniform(1, 90):.2f}".replace(".", ",")
        day = (
            "31.02.2025"
            if i == 7
            else (dt.date(2025, 1, 1) + dt.timedelta(days=int(i % 60))).strftime("%d.%m.%Y")
        )
        rows.append((who, day, quantity, price, f"A{i % 9}"))
    frame = pd.DataFrame(rows, columns=["Kunde", "Datum", "Menge", "Preis", "Artikel"])
    csv = tmp_path / "export.csv"
    frame.to_csv(csv, sep=";", index=False, encoding="cp1252")
    mapping = [
        f"byod.path={csv}",
        "byod.customer_id_column=Kunde",
        "byod.date_column=Datum",
        "byod.date_format=dd.MM.yyyy",
        "byod.delimiter=;",
        "byod.encoding=windows-1252",
        "byod.amount_column=",
        "byod.price_column=Preis",
        "byod.quantity_column=Menge",
        "byod.product_column=Artikel",
    ]
    config = make_config(tmp_path / "home", *mapping)
    loaded = byod.prepare(spark, config)

    guest = frame["Kunde"] == ""
    bad_date = ~guest & (frame["Datum"] == "31.02.2025")
    returned = ~guest & ~bad_date & (frame["Menge"] <= 0)
    good = frame[~guest & ~bad_date & ~returned]
    events = delta_io.read_delta(spark, config.table_path("silver", "events")).toPandas()
    assert len(events) == len(good)
    assert set(events["customer_key"]) == {key(c) for c in good["Kunde"]}
    spend = (good["Preis"].str.replace(",", ".").astype(float) * good["Menge"]).sum()
    got = (events["unit_price"].astype(float) * events["quantity"]).sum()
    assert got == pytest.approx(spend, abs=0.01)
    assert set(events["product_id"]) == set(good["Artikel"])
    marker = delta_io.read_delta(spark, f"{config.paths.lake}/{byod.MARKER}").first()
    skipped = {"no_customer_id": int(guest.sum()), "bad_date": 1, "not_a_purchase": int(returned.sum())}
    assert marker["rows_read"] == len(frame) == marker["rows_loaded"] + sum(marker["rows_skipped"].values())
    assert dict(marker["rows_skipped"]) == skipped
    report = "\n".join(loaded.lines)
    assert "31.02.2025" in report and "Müller" not in report
    for reason, n in skipped.items():
        assert f"{n} rows skipped, {reason}" in report


def test_a_headerless_whitespace_file_maps_columns_by_position(spark, tmp_path):
    """Fixed-width exports (ids, a second id, yyyyMMdd, units, total, blanks between) map by position;
    the unit price is the total / units rounded to the cent (silver's decimal(12,2))."""
    from lakepulse.silver import byod

    lines = []
    expected = 0.0
    for i in range(60):
        amount = round(5 + i * 1.37, 2)
        units = 1 + i % 3
        expected += float(Decimal(str(amount / units)).quantize(Decimal("0.01"), ROUND_HALF_UP)) * units
        day = (dt.date(1997, 1, 1) + dt.timedelta(days=i * 3)).strftime("%Y%m%d")
        lines.append(f"{i % 11:>6} {1000 + i % 11:>6} {day} {units:>3} {amount:>8.2f}")
    path = tmp_path / "sample.txt"
    path.write_text("\n".join(lines) + "\n")
    config = make_config(
        tmp_path / "home",
        f"byod.path={path}",
        "byod.delimiter=whitespace",
        "byod.header=false",
        "byod.customer_id_column=1",
        "byod.date_column=3",
        "byod.date_format=yyyyMMdd",
        "byod.quantity_column=4",
        "byod.amount_column=5",
    )
    loaded = byod.prepare(spark, config)
    events = delta_io.read_delta(spark, config.table_path("silver", "events")).toPandas()
    assert len(events) == 60 and loaded.customers == 11
    assert (events["unit_price"].astype(float) * events["quantity"]).sum() == pytest.approx(
        expected, abs=1e-6
    )
    assert loaded.first_day == dt.date(1997, 1, 1) and loaded.last_day == dt.date(1997, 1, 1) + dt.timedelta(
        days=177
    )


def test_a_short_history_gets_a_fitted_horizon_said_in_one_line(tmp_path):
    """60 days cannot hold six 30-day horizons: the label gets 10 days and says why; 200 days keep 30."""
    from lakepulse.silver import byod

    config = make_config(tmp_path / "home")
    short = byod.Loaded((), dt.date(2025, 1, 1), dt.date(2025, 3, 1), 10)
    fitted, line = byod.label_settings(config, short)
    assert (fitted.gold.churn_horizon_days, fitted.gold.churn_active_days) == (10, 0)
    assert "fitted" in line and "byod.churn_horizon_days" in line
    long = byod.Loaded((), dt.date(2025, 1, 1), dt.date(2025, 7, 19), 10)
    kept, line = byod.label_settings(config, long)
    assert kept.gold.churn_horizon_days == config.gold.churn_horizon_days == 30
    assert "fitted" not in line


def test_an_authorised_export_maps_the_scores_back_to_the_file_s_ids(spark, byod_run, tmp_path, capsys):
    """`score --export` writes every scored customer with their own id (the file's), the probability
    gold/churn_scores holds for their key, highest first; the audit row names the file but no id."""
    home = byod_run["home"]
    out = tmp_path / "call-list.csv"
    # No mapping given: the file and its mapping are the ones the lake was loaded from (its marker).
    args = [*mf.job_args(home, *TRAIN), "--export", str(out)]
    assert load_job("score").main(args) == 0
    exported = pd.read_csv(out, dtype={"customer_id": str})
    scores = delta_io.read_delta(spark, byod_run["config"].table_path("gold", "churn_scores")).toPandas()
    latest = scores[scores["as_of_date"] == scores["as_of_date"].max()]
    by_key = dict(zip(latest["customer_key"], latest["churn_probability"], strict=True))
    assert set(exported["customer_id"]) == set(byod_run["data"]["Kundennummer"])
    for customer, probability in zip(exported["customer_id"], exported["churn_probability"], strict=True):
        assert probability == pytest.approx(by_key[key(customer)], abs=1e-12)
    assert exported["churn_probability"].is_monotonic_decreasing
    audit = delta_io.read_delta(spark, f"{byod_run['config'].paths.lake}/_ops/score_exports").toPandas()
    assert audit["rows"].iloc[-1] == len(exported) and audit["path"].iloc[-1] == str(out)
    assert not any("K-" in str(v) for v in audit.iloc[-1].to_dict().values())


def test_an_export_with_another_key_or_into_the_lake_is_refused(
    spark, byod_run, tmp_path, capsys, monkeypatch
):
    home, csv = byod_run["home"], byod_run["csv"]
    base = mf.job_args(home, *TRAIN, *MAPPING, f"byod.path={csv}")
    inside = f"{byod_run['config'].paths.lake}/gold/ids.csv"
    assert load_job("score").main([*base, "--export", inside]) == 1
    assert "never go into the lake" in capsys.readouterr().err
    monkeypatch.setenv("LAKEPULSE_PSEUDONYM_KEY", "not-the-key-that-scored-them")
    out = tmp_path / "x.csv"
    assert load_job("score").main([*base, "--export", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()  # scoring's MLflow INFO lines come first
    assert "have no id in" in err[-1] and not any("have no id in" in line for line in err[:-1])
    assert not out.exists()
