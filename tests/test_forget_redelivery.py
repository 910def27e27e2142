"""An erased customer's records sent again are refused at ingest: counted, quarantined without their
text, never loaded into bronze (issue 15: a re-delivery was reloaded)."""

from __future__ import annotations

import json

from deltalake import DeltaTable as RustDeltaTable

from tests.ingest_fixtures import CUSTOMER_HEADER, _customer, _event, _write, run

TARGET = "C00000003"
DAY = "2026-01-01"


def _land(landing, name: str, events: list[dict], customers: list[str]) -> None:
    _write(
        landing / "events" / f"date={DAY}" / f"{name}.json", "\n".join(json.dumps(e) for e in events) + "\n"
    )
    _write(
        landing / "customers" / f"date={DAY}" / f"{name}.csv", "\n".join([CUSTOMER_HEADER, *customers]) + "\n"
    )


def _ingest(home) -> None:
    for source in ("events", "customers"):
        assert run("ingest", home, "--source", source) == 0


def test_a_redelivery_of_an_erased_customer_is_refused_and_counted(tmp_path):
    landing = tmp_path / "landing"
    # purchase events: customer C0000000(i % 7); i = 3 and 10 are the target's.
    first = [_event(i, DAY, "purchase") for i in range(14)]
    _land(landing, "first", first, [_customer(i, "basic", f"{DAY}T08:00:00Z") for i in range(1, 6)])
    _ingest(tmp_path)
    assert run("forget", tmp_path, "--customer", TARGET) == 0

    # The same export sent again under new names, plus new records of other customers.
    again = [_event(i, DAY, "purchase") for i in range(14)] + [_event(i, DAY, "purchase") for i in (99, 100)]
    resent = [_customer(i, "premium", f"{DAY}T09:00:00Z") for i in (2, 3)]
    _land(landing, "again", again, resent)
    _ingest(tmp_path)

    lake = tmp_path / "lake"
    events = RustDeltaTable(str(lake / "bronze" / "events")).to_pandas()
    customers = RustDeltaTable(str(lake / "bronze" / "customers")).to_pandas()
    assert TARGET not in set(events["customer_id"]) | set(customers["customer_id"])
    assert not events["raw"].str.contains(TARGET).any() and not customers["raw"].str.contains(TARGET).any()
    # Everyone else's new records loaded: the two new events, customer 2's new state.
    assert {"e-000000000099-fx", "e-000000000100-fx"} <= set(events["event_id"])
    assert ((customers["customer_id"] == "C00000002") & (customers["plan"] == "premium")).sum() == 1

    quarantine = RustDeltaTable(str(lake / "bronze" / "quarantine")).to_pandas()
    refused = quarantine[quarantine["reason"] == "erased_customer"]
    target_events = sum(1 for e in again if e.get("customer_id") == TARGET)
    assert sorted(refused["source"]) == sorted(["events"] * target_events + ["customers"])
    assert refused["raw"].isna().all()  # what was erased is not kept in quarantine either
    audit = RustDeltaTable(str(lake / "_ops" / "ingest_audit")).to_pandas()
    second = audit[audit["batch_id"].isin(sorted(audit["batch_id"])[-2:])]  # the second ingests
    for row in second.itertuples():
        assert row.records_read == row.loaded + row.quarantined + row.duplicates_dropped, row.source
    by_source = second.set_index("source")
    # events: the re-sent others are duplicates of bronze, the target's are refused, two are new.
    assert by_source.loc["events", "quarantined"] == target_events
    assert by_source.loc["events", "loaded"] == 2
    assert by_source.loc["customers", "quarantined"] == 1
