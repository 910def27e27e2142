"""Right to erasure: gone from every layer and quarantine, recorded pseudonymised, unreadable after VACUUM."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable as RustDeltaTable

from lakepulse import privacy
from lakepulse.runtime import delta_io
from tests.conftest import load_job, make_config

KEY = "test-erasure-key"
TARGET, NEIGHBOUR, OTHER = "C00000042", "C0000004", "C00000007"


def key_of(customer_id: str) -> str:
    return hmac.new(KEY.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def plant_lake(spark, config):
    ids = [TARGET, NEIGHBOUR, OTHER]
    raw = [(json.dumps({"event_id": f"e{i}", "customer_id": c}), "2026-01-01") for i, c in enumerate(ids * 2)]
    delta_io.append(
        spark.createDataFrame(raw, "raw STRING, ingest_date STRING"),
        config.table_path("bronze", "events"),
        ["ingest_date"],
    )
    quarantine = [
        ("events", f'{{"customer_id": "{c}", "unit_price": "abc"', "bad_type:unit_price") for c in ids
    ]
    delta_io.append(
        spark.createDataFrame(quarantine, "source STRING, raw STRING, reason STRING"),
        config.table_path("bronze", "quarantine"),
    )
    silver = [(f"e{i}", key_of(c), 1.0) for i, c in enumerate(ids * 3)]
    delta_io.append(
        spark.createDataFrame(silver, "event_id STRING, customer_key STRING, amount DOUBLE"),
        config.table_path("silver", "events"),
    )
    gold = [(key_of(c), "2026-01-02", 3) for c in ids]
    delta_io.append(
        spark.createDataFrame(gold, "customer_key STRING, as_of_date STRING, purchases_30d INT"),
        config.table_path("gold", "customer_features"),
    )
    # A table without customer columns is left alone.
    delta_io.append(
        spark.createDataFrame([("frontend", 10)], "service STRING, requests INT"),
        config.table_path("gold", "cost_kpis_daily"),
    )


def customers_in(frame, column):
    return frame[column].astype(str).tolist()


@pytest.fixture(scope="module")
def erased_lake(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("forget") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEPULSE_PSEUDONYM_KEY", KEY)
        config = make_config(home)
        plant_lake(spark, config)
        code = load_job("forget").main(
            [f"--set=paths.home={home}", "--customer", TARGET, "--vacuum", "--retain-hours", "0"]
        )
    assert code == 0
    return config


def test_customer_gone_from_every_table_others_untouched(erased_lake):
    lake = Path(erased_lake.paths.lake)
    bronze = RustDeltaTable(str(lake / "bronze/events")).to_pandas()
    assert not bronze["raw"].str.contains(f'"{TARGET}"').any()
    assert bronze["raw"].str.contains(f'"{NEIGHBOUR}"').sum() == 2  # a prefix of the id is not the id
    quarantine = RustDeltaTable(str(lake / "bronze/quarantine")).to_pandas()
    assert len(quarantine) == 2 and not quarantine["raw"].str.contains(TARGET).any()
    silver = RustDeltaTable(str(lake / "silver/events")).to_pandas()
    assert key_of(TARGET) not in customers_in(silver, "customer_key") and len(silver) == 6
    gold = RustDeltaTable(str(lake / "gold/customer_features")).to_pandas()
    assert sorted(customers_in(gold, "customer_key")) == sorted([key_of(NEIGHBOUR), key_of(OTHER)])
    assert len(RustDeltaTable(str(lake / "gold/cost_kpis_daily")).to_pandas()) == 1


def test_the_erasure_leaves_no_id_or_key_in_the_tables_logs(erased_lake):
    """Every table was planted in its version 0: each later log entry is the erasure's (its MERGE, purge,
    vacuum). Delta never removes log entries' operation parameters, where a DELETE kept its predicate."""
    lake = Path(erased_lake.paths.lake)
    later = [f for f in lake.glob("*/*/_delta_log/*.json") if int(f.stem) >= 1]
    assert later  # the erasure committed somewhere
    for entry in later:
        text = entry.read_text()
        assert TARGET not in text and key_of(TARGET) not in text, entry


def test_request_recorded_pseudonymised(erased_lake):
    audit = RustDeltaTable(erased_lake.table_path("_ops", "erasure_requests")).to_pandas()
    assert len(audit) == 1
    row = audit.iloc[0]
    assert row["customer_key"] == key_of(TARGET)
    assert TARGET not in json.dumps(audit.astype(str).to_dict("records"))
    assert row["rows_erased"] == 2 + 1 + 3 + 1
    assert sorted(row["tables"]) == [
        "bronze/events",
        "bronze/quarantine",
        "gold/customer_features",
        "silver/events",
    ]


def test_earlier_versions_unreadable_after_vacuum(spark, erased_lake):
    lake = Path(erased_lake.paths.lake)
    for table in ("bronze/events", "bronze/quarantine", "silver/events", "gold/customer_features"):
        # Every Parquet file left on storage, referenced or not, read independently of Delta.
        for file in (lake / table).rglob("*.parquet"):
            text = json.dumps(pq.read_table(file).to_pylist())
            assert TARGET not in text.replace(NEIGHBOUR + '"', "") and key_of(TARGET) not in text
        # Time travel to the version before the erasure no longer yields the customer.
        try:
            old = delta_io.read_delta(spark, str(lake / table), version=0).collect()
        except Exception:  # files removed by VACUUM: the old version cannot be read at all
            continue
        assert all(TARGET not in str(r) and key_of(TARGET) not in str(r) for r in old)


def test_bad_customer_id_is_one_line_error(tmp_path, capsys):
    code = load_job("forget").main([f"--set=paths.home={tmp_path}", "--customer", "x' OR 1=1 --"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--customer" in err[0]


def test_pseudonymised_key_matches_spark_hash():
    assert privacy.pseudonymise_value(TARGET, KEY.encode()) == key_of(TARGET)
