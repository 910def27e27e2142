"""`refine` on the hand-written landing: silver tables against values worked out from the fixture itself.

Expected values come from how tests/ingest_fixtures.py builds its records (plans per customer, price
changes, request paths), and keyed hashes from Python's hmac: never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse import privacy
from lakepulse.contracts import schemas
from lakepulse.ops import lake as lake_tables
from lakepulse.runtime import delta_io
from lakepulse.silver import runner
from tests.conftest import TEST_PSEUDONYM_KEY
from tests.ingest_fixtures import (
    DAYS,
    _customer,
    _event,
    _write,
    fixture_lake,
    forget_fixture_lakes,
    landing_text,
    run,
    table,
    versions,
)

KEY = TEST_PSEUDONYM_KEY.encode()
PLANS = ("basic", "standard", "premium")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return fixture_lake(tmp_path_factory, refined=True)


def key_of(customer_id: str) -> str:
    return privacy.pseudonymise_value(customer_id, KEY)


def test_events_are_unique_typed_and_pseudonymised(spark, lake):
    home, truth = lake
    events = table(spark, home, "silver", "events")
    rows = {r.event_id: r for r in events.collect()}
    assert len(rows) == events.count() == truth.loaded("events")
    purchase = rows["e-000000000003-fx"]  # _event(3, day 1, "purchase")
    assert purchase.customer_key == key_of("C00000003")
    assert purchase.unit_price == Decimal("22.99") and purchase.quantity == 1 + 3 % 3
    assert (purchase.lat, purchase.lon) == (48.9, 2.4)  # 48.8596, 2.3522 at city level
    assert rows["e-000000000000-fx"].customer_key is None  # anonymous page view
    # Late arrivals (day 1 events in day 2's folder) are merged into day 1.
    assert {str(rows[f"e-{i:012d}-fx"].event_date) for i in (300, 301, 302)} == {DAYS[0]}
    assert dict(events.dtypes)["unit_price"] == "decimal(12,2)"


def test_silver_day_tables_record_their_changes_for_gold(spark, lake):
    """Gold finds late records through the change feed of these tables (docs/gold.md)."""
    from deltalake import DeltaTable

    home, _ = lake
    for name in ("events", "requests", "app_logs", "billing"):
        configuration = DeltaTable(str(home / "lake" / "silver" / name)).metadata().configuration
        assert configuration.get("delta.enableChangeDataFeed") == "true", name


def test_customers_current_state_and_history(spark, lake):
    home, _ = lake
    expected = {f"C{i:08d}": PLANS[i % 3] for i in range(7)}
    expected.update({"C00000001": "premium", "C00000002": "basic"})  # day 2 plan changes
    current = {r.customer_key: r for r in table(spark, home, "silver", "customers").collect()}
    assert {k: r.plan for k, r in current.items()} == {key_of(c): p for c, p in expected.items()}
    c1 = current[key_of("C00000001")]
    assert c1.updated_at == dt.datetime(2026, 1, 2, 9, 30)
    assert c1.email_hash == key_of("user1@example.com") and c1.ip_prefix == "203.0.113.x"
    history = table(spark, home, "silver", "customer_history")
    assert history.count() == 9 and history.select("customer_key", "updated_at").distinct().count() == 9


def test_prices_are_validity_intervals(spark, lake):
    home, _ = lake
    day1, day2 = dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)
    expected = {(f"P{i:04d}", day1): (Decimal(f"{10 + i}.50"), None) for i in range(5)}
    expected[("P0001", day1)] = (Decimal("11.50"), day2.replace(hour=12))
    expected[("P0001", day2.replace(hour=12))] = (Decimal("9.99"), None)
    expected[("P0003", day1)] = (Decimal("13.50"), day2.replace(hour=6))
    expected[("P0003", day2.replace(hour=6))] = (Decimal("15.00"), None)
    got = {
        (r.product_id, r.valid_from): (r.price, r.valid_to)
        for r in table(spark, home, "silver", "prices").collect()
    }
    assert got == expected


def test_requests_are_parsed_with_path_templates(spark, lake):
    home, _ = lake
    templates = ("/api/products/{id}", "/api/users/{id}/orders/{id}", "/")
    got = sorted(
        (
            r.request_ts.minute,
            r.path_template,
            r.status,
            r.bytes,
            r.latency_ms,
            r.service,
            r.method,
            r.client_ip_prefix,
        )
        for r in table(spark, home, "silver", "requests").collect()
    )
    expected = sorted(
        (
            i,
            templates[i % 3],
            200 if i % 5 else 404,
            0 if i % 7 == 0 else 1000 + i,
            20 + i,
            "catalog",
            "GET",
            "198.51.100.x",
        )
        for i in range(20)
    )
    assert got == expected
    agents = {
        r.user_agent
        for r in table(spark, home, "silver", "requests").select("user_agent").distinct().collect()
    }
    assert agents == {'Mozilla/5.0 (X11; Linux x86_64) "quoted"'}


def test_billing_is_typed_focus(spark, lake):
    home, _ = lake
    billing = table(spark, home, "silver", "billing")
    types = dict((f.name, f.dataType) for f in billing.schema.fields)
    assert types["BilledCost"] == T.DecimalType(38, 11) and types["ConsumedQuantity"] == T.DecimalType(38, 15)
    assert (
        types["Tags"] == T.MapType(T.StringType(), T.StringType())
        and types["ChargePeriodStart"] == T.TimestampType()
    )
    got = {r.ServiceName: (r.BilledCost, r.Tags, str(r.charge_date)) for r in billing.collect()}
    assert got == {
        s: (Decimal(f"{i + 1}.12345678901"), {"service": s, "environment": "prod"}, DAYS[0])
        for i, s in enumerate(("frontend", "catalog", "search"))
    }


def test_silver_expectations_are_recorded(spark, lake):
    home, _ = lake
    results = table(spark, home, "_ops", "expectation_results").where(F.col("layer") == "silver").collect()
    datasets = {r.dataset for r in results}
    assert datasets == {"events", "customers", "prices", "requests", "app_logs", "billing", "weather"}
    assert all(r.failed_count == 0 for r in results if r.action == "fail")
    assert any(r.expectation == "focus:EffectiveCost_not_null" for r in results)


def test_no_email_ip_or_phone_in_any_silver_or_gold_table(spark, lake):
    home, _ = lake
    patterns = [re.compile(p) for p in (privacy.EMAIL_PATTERN, privacy.IPV4_PATTERN, privacy.IPV6_PATTERN)]
    patterns.append(re.compile(privacy.PHONE_PATTERN))
    scanned = 0
    for layer in ("silver", "gold"):
        for log in sorted((home / "lake" / layer).glob("*/_delta_log")):
            df = spark.read.format("delta").load(str(log.parent))
            texts = [
                F.col(f.name) if isinstance(f.dataType, T.StringType) else F.to_json(F.col(f.name))
                for f in df.schema.fields
                if isinstance(f.dataType, (T.StringType, T.MapType, T.ArrayType, T.StructType))
            ]
            for row in df.select(*texts).collect():
                for value in row:
                    assert not (value and any(p.search(value) for p in patterns)), (log.parent.name, value)
            scanned += 1
    assert scanned >= 8
    # The fixture did plant an address in a search query, and e-mails, IPs and a phone in log messages.
    messages = {r.message for r in table(spark, home, "silver", "app_logs").collect()}
    assert "login failed for <email> from <ipv4>" in messages
    assert "callback to <phone> from <ipv6>" in messages


def _commit_audit(spark, config, *batches: tuple[int, str]) -> None:
    """Ingest's commit marker for (batch number, source) pairs: one audit file per call, as ingest writes."""
    at = "2026-01-01 00:00:00.000000"
    rows = [("run", s, f"ingest-{n:08d}", "batch", 1, 0, 1, 1, 0, 0, at, at, 0, 0) for n, s in batches]
    delta_io.append(
        lake_tables.small_frame(spark, rows, schemas.INGEST_AUDIT), lake_tables.ops(config, "ingest_audit")
    )


def _refine(spark, config, source: str | None = None) -> dict[int, set]:
    """One refine run in this process; the (unit, ingest batch) pairs of each version it committed."""
    results = runner.refine(spark, config, runner.units_for(source), "test-run")
    state = spark.read.format("delta").load(config.table_path("_ops", "_refine_state"))
    out: dict[int, set] = {}
    for version in sorted({int(r.batch_id.removeprefix("refine-")) for r in results}):
        rows = state.where(F.col("refine_version") == version).collect()  # statistics skip older files
        assert {r.state for r in rows} == {"planned", "done"}
        out[version] = {(r.table, r.ingest_batch_id) for r in rows}
    return out


def _batches(*pairs: tuple[str, int]) -> set:
    return {(unit, f"ingest-{n:08d}") for unit, n in pairs}


def _delete_bookkeeping_files(config) -> int:
    """Deletes the audit and state data files written so far: Delta fails a read that touches one (a
    collect of every audit and state row did), a read bounded by the new batches does not."""
    tables = (lake_tables.ops(config, "ingest_audit"), config.table_path("_ops", "_refine_state"))
    old = [f for path in tables for f in Path(path).glob("*.parquet")]
    for f in old:
        f.unlink()
    return len(old)


def test_refine_bookkeeping_reads_only_what_came_after_the_last_step(spark, config):
    # Planted ingest commits only (no bronze table: a unit then writes nothing, its step is still recorded).
    _commit_audit(spark, config, (0, "events"), (0, "customers"))
    _commit_audit(spark, config, (2, "events"))  # batch 1 is still being ingested by a concurrent run
    assert _refine(spark, config) == {0: _batches(("events", 0), ("customers", 0), ("events", 2))}
    _commit_audit(spark, config, (1, "events"), (1, "prices"))  # committed late: must not be skipped
    _commit_audit(spark, config, (3, "customers"))
    assert _refine(spark, config, "events") == {1: _batches(("events", 1))}
    assert _refine(spark, config) == {2: _batches(("prices", 1), ("customers", 3))}
    # Everything so far is refined: the next run must not read any of its audit or state files.
    assert _delete_bookkeeping_files(config) == 4 + 6
    _commit_audit(spark, config, (4, "events"), (4, "weather"))
    assert _refine(spark, config) == {3: _batches(("events", 4), ("weather", 4))}


def test_refine_state_written_without_marks_is_read_whole_once(spark, config):
    # As an older lakepulse left it: version 0 done, version 1 planned only (its run was killed).
    at = "2026-01-01 00:00:00.000000"
    legacy = [
        ("events", "events", "ingest-00000000", 0, "planned", "old", at),
        ("events", "events", "ingest-00000000", 0, "done", "old", at),
        ("events", "events", "ingest-00000001", 1, "planned", "old", at),
    ]
    state = config.table_path("_ops", "_refine_state")
    delta_io.append(lake_tables.small_frame(spark, legacy, schemas.REFINE_STATE), state)
    _commit_audit(spark, config, (0, "events"), (1, "events"), (2, "events"))
    # The interrupted version 1 is completed with its own batches, then batch 2 is new.
    assert _refine(spark, config) == {1: _batches(("events", 1)), 2: _batches(("events", 2))}
    assert _delete_bookkeeping_files(config) == 1 + 4  # the next done commits carry the marks
    _commit_audit(spark, config, (3, "events"))
    assert _refine(spark, config, "events") == {3: _batches(("events", 3))}


def test_running_again_changes_no_table(spark, lake):
    home, _ = lake
    before = versions(home)
    assert run("refine", home) == 0
    assert versions(home) == before


def test_new_files_are_refined_incrementally(spark, lake):
    # Last test of the last module using the shared lake: it adds a day of files to it, and then drops
    # the lake from the session cache. (A copy would not do: bookkeeping names files by absolute path.)
    home, truth = lake
    copy = home
    forget_fixture_lakes()
    lines = [_event(i, "2026-01-03") for i in range(600, 605)]
    late = _event(605, DAYS[1], "page_view")
    resent = landing_text(copy / "landing/events/date=2026-01-01/part-00000.json").splitlines()[0]
    _write(
        copy / "landing/events/date=2026-01-03/part-00000.json",
        "\n".join([*map(json.dumps, [*lines, late]), resent]) + "\n",
    )
    header = "customer_id,signup_date,country,city,city_type,plan,acquisition_channel,age_band,email,ip_address,updated_at"
    _write(
        copy / "landing/customers/date=2026-01-03/part-00000.csv",
        f"{header}\n{_customer(3, 'premium', '2026-01-03T07:00:00Z')}\n",
    )
    _write(
        copy / "landing/prices/date=2026-01-03/part-00000.csv",
        "product_id,category,price,currency,effective_from\nP0000,electronics,12.00,EUR,2026-01-03T00:00:00Z\n",
    )
    tables = ("_ops/ingest_audit", "_ops/_refine_state")
    refined = [f for name in tables for f in (copy / "lake" / name).glob("*.parquet")]
    assert len(refined) == 1 + 2
    assert run("ingest", copy) == 0
    audit = {
        r.source: r
        for r in table(spark, copy, "_ops", "ingest_audit")
        .where(F.col("batch_id") == "ingest-00000001")
        .collect()
    }
    assert {s: (a.records_read, a.loaded, a.duplicates_dropped) for s, a in audit.items()} == {
        "events": (7, 6, 1),
        "customers": (1, 1, 0),
        "prices": (1, 1, 0),
    }
    # Refining batch 1 needs no bookkeeping of batch 0 and refine version 0: deleted here.
    for f in refined:
        f.unlink()
    assert run("refine", copy) == 0
    state = table(spark, copy, "_ops", "_refine_state").where(F.col("refine_version") == 1).collect()
    assert {(r.table, r.ingest_batch_id, r.state) for r in state} == {
        (t, "ingest-00000001", s) for t in ("events", "customers", "prices") for s in ("planned", "done")
    }
    events = table(spark, copy, "silver", "events")
    assert events.count() == truth.loaded("events") + 6
    assert str(events.where(F.col("event_id") == "e-000000000605-fx").first().event_date) == DAYS[1]
    current = (
        table(spark, copy, "silver", "customers").where(F.col("customer_key") == key_of("C00000003")).first()
    )
    assert current.plan == "premium"
    p0 = {
        r.valid_from.day: r.valid_to
        for r in table(spark, copy, "silver", "prices").where(F.col("product_id") == "P0000").collect()
    }
    assert p0 == {1: dt.datetime(2026, 1, 3), 3: None}
