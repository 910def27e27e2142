"""The generate job: landing files in the contract's formats, planted truth that the data really carries.

Everything is checked from the files alone, with plain Python (json, csv, re, gzip) and numpy/pandas,
never with the generator's own code: parse the landing area as a stranger would, then compare with
the truth the generator wrote.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import json
import re
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lakepulse_sample import GenerateParams, generate_all

from lakepulse.config import PROJECT_ROOT
from tests.conftest import load_job, make_config

CUSTOMERS, DAYS, START = 400, 14, dt.date(2026, 1, 1)
SOURCES = ("customers", "events", "prices", "access_logs", "app_logs", "billing", "weather")
EVENT_TYPES = {
    "page_view", "search", "add_to_cart", "checkout", "purchase", "subscription_start", "subscription_cancel",
    "support_ticket", "promo_view",
}  # fmt: skip
NEEDS_CUSTOMER = EVENT_TYPES - {"page_view", "search", "promo_view"}
REQUIRED = ("event_id", "event_ts", "session_id", "event_type", "device")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ACCESS_LINE = re.compile(
    r"^(\d{1,3}(?:\.\d{1,3}){3}) - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}) \+0000\] "
    r'"(GET|POST|PUT|DELETE|PATCH) (\S+) HTTP/1\.1" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)" (\d+) '
    r"(frontend|catalog|search|checkout|auth)$"
)
FOCUS_SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "focus-1.0" / "focus_sample.csv"


main = load_job("generate").main


def _args(home: Path, *extra: str) -> list[str]:
    return ["--set", f"paths.home={home}", "--customers", str(CUSTOMERS), "--days", str(DAYS), *extra]


@pytest.fixture(scope="module")
def landing(spark, tmp_path_factory) -> Path:
    """One generated landing area shared by the module's read-only checks (through the job's main)."""
    home = tmp_path_factory.mktemp("generate-a")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LAKEPULSE_HOME", raising=False)
        assert main(_args(home)) == 0
    return home / "landing"


def _truth(landing: Path, name: str):
    path = landing / "_truth" / name
    return (
        json.loads(path.read_text())
        if name.endswith(".json")
        else pd.read_csv(path, dtype=str, keep_default_na=False)
    )


def _files(landing: Path, source: str) -> list[Path]:
    return sorted((landing / source).glob("date=*/part-*"))


def _folder_date(file: Path) -> dt.date:
    return dt.date.fromisoformat(file.parent.name.removeprefix("date="))


def _truncated(landing: Path) -> Path | None:
    entry = _truth(landing, "bad_records.json")["truncated_file"]
    return None if entry is None else landing / entry["path"]


def _lines(file: Path) -> list[str]:
    data = gzip.decompress(file.read_bytes()) if file.name.endswith(".gz") else file.read_bytes()
    return data.decode("utf-8").splitlines()


def _readable(landing: Path, source: str):
    """(folder date, line) of every line of every file except the deliberately truncated one."""
    skip = _truncated(landing)
    for file in _files(landing, source):
        if file != skip:
            for line in _lines(file):
                yield _folder_date(file), line


def _csv_rows(landing: Path, source: str) -> list[dict]:
    rows = []
    for file in _files(landing, source):
        with file.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                row["_folder"] = _folder_date(file)
                rows.append(row)
    return rows


def _classify_event(line: str, folder: dt.date) -> tuple[str | None, dict | None]:  # noqa: PLR0911
    """The quarantine reason of one events line (None when valid), decided from the line alone."""
    try:
        record = json.loads(line)
    except ValueError:
        return "malformed_json", None
    if not isinstance(record, dict):
        return "malformed_json", None
    for field in REQUIRED:
        if record.get(field) in (None, ""):
            return f"missing_field:{field}", record
    if record["event_type"] not in EVENT_TYPES:
        return "unknown_event_type", record
    if record["event_type"] in NEEDS_CUSTOMER and not record.get("customer_id"):
        return "missing_field:customer_id", record
    for field, kind in (("unit_price", (int, float)), ("quantity", int)):
        if field in record and (isinstance(record[field], bool) or not isinstance(record[field], kind)):
            return f"bad_type:{field}", record
    if "unit_price" in record and record["unit_price"] <= 0:
        return "negative_price", record
    if not TS.match(record["event_ts"]):
        return "bad_type:event_ts", record
    if (dt.date.fromisoformat(record["event_ts"][:10]) - folder).days >= 2:
        return "future_timestamp", record
    return None, record


def _events(landing: Path) -> tuple[Counter, list[tuple[dt.date, dict]]]:
    reasons, valid = Counter(), []
    for folder, line in _readable(landing, "events"):
        reason, record = _classify_event(line, folder)
        if reason:
            reasons[reason] += 1
        else:
            valid.append((folder, record))
    return reasons, valid


def _unique_events(valid: list[tuple[dt.date, dict]]) -> pd.DataFrame:
    seen, rows = set(), []
    for folder, record in valid:
        if record["event_id"] not in seen:
            seen.add(record["event_id"])
            rows.append({**record, "folder": folder})
    return pd.DataFrame(rows)


def test_every_source_and_truth_file_is_there_with_day_folders(landing):
    days = {START + dt.timedelta(days=i) for i in range(DAYS)}
    for source in SOURCES:
        folders = {_folder_date(f) for f in _files(landing, source)}
        assert folders <= days, source
        assert START in folders, source
        if source in ("events", "access_logs", "app_logs", "billing", "weather"):
            assert folders == days, source  # every day has traffic, bills and weather
    extensions = {"events": ".json.gz", "access_logs": ".log", "app_logs": ".json", "billing": ".csv"}
    for source, ext in extensions.items():
        assert all(f.name.endswith(ext) for f in _files(landing, source)), source
    assert not list(landing.rglob("*.crc"))
    for name in ("churn.csv", "elasticities.csv", "cost_anomalies.csv", "trends.csv", "promo_segment.json",
                 "bad_records.json", "manifest.json"):  # fmt: skip
        assert (landing / "_truth" / name).is_file(), name


def test_events_follow_the_contract(landing):
    _reasons, valid = _events(landing)
    assert len(valid) > 5000
    for folder, r in valid:
        assert r["device"] in ("mobile", "desktop", "tablet")
        assert dt.date.fromisoformat(r["event_ts"][:10]) <= folder  # arrival never precedes the event
        if r["event_type"] in ("add_to_cart", "purchase"):
            assert re.fullmatch(r"P\d{4}", r["product_id"]) and r["currency"] == "EUR" and r["category"]
            assert r["quantity"] >= 1
        else:
            assert "product_id" not in r and "unit_price" not in r and "quantity" not in r
        if r["event_type"] == "search":
            assert r["search_query"] and r["category"]
        if r["event_type"] == "page_view":
            assert r["page"].startswith("/")
        if r["event_type"] in ("subscription_start", "subscription_cancel"):
            assert r["plan"] in ("basic", "standard", "premium")
        if r["event_type"] == "support_ticket":
            assert r["ticket_topic"]
        if "customer_id" in r:
            assert re.fullmatch(r"C\d{8}", r["customer_id"])
        assert -90 <= r["lat"] <= 90 and -180 <= r["lon"] <= 180
    types = Counter(r["event_type"] for _, r in valid)
    assert set(types) == EVENT_TYPES
    anonymous = [r for _, r in valid if "customer_id" not in r]
    assert anonymous and {r["event_type"] for r in anonymous} <= {"page_view", "search", "promo_view"}
    # schema evolution: app_version appears from some day on, never before it
    first_day = min(dt.date.fromisoformat(r["event_ts"][:10]) for _, r in valid if "app_version" in r)
    assert first_day > START
    assert all(
        "app_version" not in r for _, r in valid if dt.date.fromisoformat(r["event_ts"][:10]) < first_day
    )


def test_logs_parse_as_combined_log_format_and_json(landing):
    services, statuses = Counter(), Counter()
    for _, line in _readable(landing, "access_logs"):
        m = ACCESS_LINE.match(line)
        if m:
            services[m.group(10)] += 1
            statuses[int(m.group(5)) // 100] += 1
            dt.datetime.strptime(m.group(2), "%d/%b/%Y:%H:%M:%S")
    assert set(services) == {"frontend", "catalog", "search", "checkout", "auth"}
    assert statuses[2] > 0.9 * sum(statuses.values()) and statuses[4] > 0 and statuses[5] > 0
    levels = Counter()
    for _, line in _readable(landing, "app_logs"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        assert set(record) == {"ts", "service", "level", "message", "latency_ms", "trace_id", "host"}
        assert TS.match(record["ts"]) and re.fullmatch(r"[0-9a-f]{32}", record["trace_id"])
        assert isinstance(record["latency_ms"], float) and record["host"].startswith(record["service"] + "-")
        levels[record["level"]] += 1
    assert set(levels) == {"DEBUG", "INFO", "WARN", "ERROR"}
    events = sum(1 for _ in _readable(landing, "events"))
    access = sum(1 for _ in _readable(landing, "access_logs"))
    app = sum(1 for _ in _readable(landing, "app_logs"))
    assert access + app <= 2.2 * events  # logs are sampled down


def test_csv_sources_follow_the_contract(landing):
    with (_files(landing, "customers")[0]).open(encoding="utf-8") as f:
        assert f.readline().strip() == (
            "customer_id,signup_date,country,city,city_type,plan,acquisition_channel,age_band,email,ip_address,updated_at"
        )
    customers = _csv_rows(landing, "customers")
    ids = {r["customer_id"] for r in customers}
    assert len(ids) == CUSTOMERS
    for r in customers:
        assert r["city_type"] in ("urban", "rural") and r["plan"] in ("basic", "standard", "premium")
        assert re.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z.]+", r["email"])
        assert all(0 <= int(o) <= 255 for o in r["ip_address"].split("."))
        updated = dt.datetime.strptime(r["updated_at"], "%Y-%m-%dT%H:%M:%SZ").date()
        assert updated <= r["_folder"] if r["_folder"] == START else updated == r["_folder"]
    changed = Counter(r["customer_id"] for r in customers)
    assert any(n > 1 for n in changed.values())  # plan changes arrive as later rows

    prices = _csv_rows(landing, "prices")
    first = [r for r in prices if r["_folder"] == START]
    assert len({r["product_id"] for r in first}) == len(
        {r["product_id"] for r in prices}
    )  # all initial prices
    assert all(re.fullmatch(r"\d+\.\d{2}", r["price"]) and r["currency"] == "EUR" for r in prices)
    assert len(prices) > len(first)  # and changes later

    weather = _csv_rows(landing, "weather")
    assert list(weather[0])[:6] == ["date", "country", "city", "temp_c", "precipitation_mm", "condition"]
    assert all(r["date"] == r["_folder"].isoformat() for r in weather)
    assert {r["condition"] for r in weather} <= {"sunny", "cloudy", "rain", "snow"}


def test_billing_is_focus_1_0_with_the_exports_quirks(landing):
    files = _files(landing, "billing")
    header = files[0].read_text(encoding="utf-8").splitlines()[0]
    names = next(csv.reader([header]))
    assert len(names) == 44
    if FOCUS_SAMPLE.is_file():
        assert header == FOCUS_SAMPLE.read_text(encoding="utf-8").splitlines()[0].strip()
    rows = _csv_rows(landing, "billing")
    raw = files[0].read_text(encoding="utf-8").splitlines()[1]
    assert ",NULL," in raw and '"LakeCloud"' in raw and '{""service"": ' in raw
    for r in rows:
        assert len(r) == 45  # 44 columns + our folder
        assert r["ProviderName"] == "LakeCloud" and r["BillingCurrency"] == "USD"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} 00:00:00", r["ChargePeriodStart"])
        assert r["ChargePeriodStart"][:10] == r["_folder"].isoformat()
        assert re.fullmatch(r"\d+\.\d{11}", r["EffectiveCost"])
        assert float(r["ListCost"]) >= float(r["EffectiveCost"]) > 0
        tags = json.loads(r["Tags"])
        assert tags["service"] == r["ServiceName"] and tags["environment"] == "prod"
    per_service = defaultdict(set)
    for r in rows:
        per_service[r["ServiceName"]].add(r["ResourceName"])
    assert set(per_service) == {"frontend", "catalog", "search", "checkout", "auth"}
    assert all(2 <= len(v) <= 4 for v in per_service.values())
    assert any(r["CommitmentDiscountType"] == "Savings Plan" for r in rows)
    assert any(r["CommitmentDiscountType"] == "NULL" for r in rows)


def test_bad_record_truth_matches_an_independent_count(landing):
    truth = _truth(landing, "bad_records.json")
    reasons, valid = _events(landing)
    assert dict(reasons) == truth["events"]
    assert set(truth["events"]) == {
        "malformed_json", "bad_type:unit_price", "bad_type:quantity", "missing_field:customer_id",
        "missing_field:event_id", "negative_price", "future_timestamp", "unknown_event_type",
    }  # fmt: skip
    assert all(n >= 3 for n in truth["events"].values())

    seen, duplicates, late = set(), 0, set()
    for folder, r in valid:
        if r["event_id"] in seen:
            duplicates += 1
        seen.add(r["event_id"])
        lag = (folder - dt.date.fromisoformat(r["event_ts"][:10])).days
        if lag > 0:
            assert 1 <= lag <= 3
            late.add(r["event_id"])
    assert duplicates == truth["duplicates"] and duplicates > 0
    assert len(late) == truth["late_events"] and late

    unparseable = sum(1 for _, line in _readable(landing, "access_logs") if not ACCESS_LINE.match(line))
    assert truth["access_logs"] == {"unparseable_log_line": unparseable} and unparseable > 0

    def malformed(line: str) -> bool:
        try:
            json.loads(line)
        except ValueError:
            return True
        return False

    app_bad = sum(1 for _, line in _readable(landing, "app_logs") if malformed(line))
    assert truth["app_logs"] == {"malformed_json": app_bad} and app_bad > 0

    def bad_date(value: str) -> bool:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return True
        return False

    customers_bad = sum(1 for r in _csv_rows(landing, "customers") if bad_date(r["signup_date"]))
    assert truth["customers"] == {"bad_type:signup_date": customers_bad} and customers_bad > 0

    def bad_number(value: str) -> bool:
        try:
            float(value)
        except ValueError:
            return True
        return False

    weather_bad = sum(1 for r in _csv_rows(landing, "weather") if bad_number(r["temp_c"]))
    assert truth["weather"] == {"bad_type:temp_c": weather_bad} and weather_bad > 0

    # exactly one truncated gzip file, unreadable to the end, holding the records the truth says
    unreadable = []
    for file in _files(landing, "events"):
        try:
            gzip.decompress(file.read_bytes())
        except (EOFError, OSError, zlib.error):
            unreadable.append(file)
    assert unreadable == [_truncated(landing)]
    partial = zlib.decompressobj(wbits=31).decompress(unreadable[0].read_bytes()).count(b"\n")
    assert 0 < partial < truth["truncated_file"]["records"]

    manifest = _truth(landing, "manifest.json")
    for source in SOURCES:
        lines = sum(1 for _ in _readable(landing, source))
        headers = (
            len(_files(landing, source)) if source in ("customers", "prices", "billing", "weather") else 0
        )
        assert manifest["records"][source] == lines - headers, source
    assert manifest["parameters"]["customers"] == CUSTOMERS and manifest["parameters"]["days"] == DAYS


def test_purchase_quantities_follow_the_planted_elasticities(landing):
    _reasons, valid = _events(landing)
    purchases = _unique_events(valid).query("event_type == 'purchase'")
    truth = _truth(landing, "elasticities.csv")
    assert len(truth) >= 6
    for row in truth.itertuples():
        bought = purchases[purchases["category"] == row.category]
        # mean units per (product, price) cell, weighted log-log fit: the slope is the elasticity
        cells = bought.groupby(["product_id", "unit_price"])["quantity"].agg(["mean", "count"]).reset_index()
        assert len(cells) >= 10, row.category
        slope = np.polyfit(
            np.log(cells["unit_price"].astype(float)),
            np.log(cells["mean"].astype(float)),
            1,
            w=np.sqrt(cells["count"]),
        )[0]
        assert slope == pytest.approx(float(row.elasticity), rel=0.25), row.category


def _requests_per_service_day(landing: Path) -> Counter:
    counts = Counter()
    for _, line in _readable(landing, "access_logs"):
        m = ACCESS_LINE.match(line)
        if m:
            day = dt.datetime.strptime(m.group(2), "%d/%b/%Y:%H:%M:%S").date()
            counts[(m.group(10), day)] += 1
    return counts


def test_billing_follows_requests_and_planted_anomalies_spike(landing):
    requests = _requests_per_service_day(landing)
    bill = pd.DataFrame(_csv_rows(landing, "billing"))
    bill["usage"] = bill["ConsumedQuantity"].astype(float)
    bill["cost"] = bill["EffectiveCost"].astype(float)
    bill["day"] = bill["_folder"]
    bill["requests"] = [requests[(s, d)] for s, d in zip(bill["ServiceName"], bill["day"], strict=True)]
    anomalies = _truth(landing, "cost_anomalies.csv")
    assert 3 <= len(anomalies) <= 5
    marked = {(a.service, dt.date.fromisoformat(a.date)) for a in anomalies.itertuples()}
    bill["anomaly"] = [(s, d) in marked for s, d in zip(bill["ServiceName"], bill["day"], strict=True)]

    normal = bill[~bill["anomaly"]]
    idle_only = 0
    for name, rows in normal.groupby("ResourceName"):
        slope, intercept = np.polyfit(rows["requests"], rows["usage"], 1)
        fitted = intercept + slope * rows["requests"]
        # usage = idle baseline + k * requests, up to a few percent of noise
        assert (np.abs(rows["usage"] - fitted) / fitted).max() < 0.05, name
        assert intercept > 0, name  # an idle baseline
        if abs(slope) * rows["requests"].mean() < 0.01 * intercept:
            idle_only += 1  # billed every day, whatever the traffic
        else:
            assert slope > 0, name
    assert idle_only == 1

    per_day = bill.groupby(["ServiceName", "day", "anomaly"], as_index=False).agg(
        cost=("cost", "sum"), requests=("requests", "first")
    )
    for a in anomalies.itertuples():
        days = per_day[per_day["ServiceName"] == a.service]
        spike = days[days["anomaly"]]
        usual = days[~days["anomaly"]]
        day = spike[spike["day"] == dt.date.fromisoformat(a.date)].iloc[0]
        assert day["cost"] > 2.5 * usual["cost"].median(), a
        assert day["requests"] < 1.3 * usual["requests"].median(), a  # no matching traffic increase
        assert float(a.factor) == pytest.approx(day["cost"] / usual["cost"].median(), rel=0.3)


def test_churn_truth_is_what_the_events_show(landing):
    churn = _truth(landing, "churn.csv")
    assert len(churn) == CUSTOMERS
    last_day = START + dt.timedelta(days=DAYS - 1)
    _reasons, valid = _events(landing)
    events = _unique_events(valid)
    events["day"] = events["event_ts"].str[:10].map(dt.date.fromisoformat)
    by_customer = events.dropna(subset=["customer_id"]).groupby("customer_id")
    last_seen = by_customer["day"].max()
    churned = churn[churn["churn_date"] != ""]
    in_period = churned[churned["churn_date"].map(dt.date.fromisoformat) <= last_day]
    assert len(in_period) >= 10
    for r in churned.itertuples():
        if r.customer_id in last_seen:
            assert last_seen[r.customer_id] <= dt.date.fromisoformat(r.churn_date)  # nothing after churn
    cancels = events[events["event_type"] == "subscription_cancel"]
    cancel_days = dict(zip(cancels["customer_id"], cancels["day"], strict=True))
    on_churn_day = sum(
        cancel_days.get(r.customer_id) == dt.date.fromisoformat(r.churn_date) for r in in_period.itertuples()
    )
    assert on_churn_day >= 0.6 * len(in_period)
    # probabilities only for customers still active at the end, and churners in the next 30 days score higher
    active = churn[churn["churn_probability"] != ""]
    assert set(active["customer_id"]) == set(churn["customer_id"]) - set(in_period["customer_id"])
    p = active["churn_probability"].astype(float)
    assert ((p > 0) & (p < 1)).all()
    later = active["churn_date"] != ""
    assert p[later].mean() > p[~later].mean()

    # support tickets rise in the 14 days before churn
    tickets = Counter(
        zip(
            *events.loc[events["event_type"] == "support_ticket", ["customer_id", "day"]].T.values,
            strict=True,
        )
    )
    churn_day = {r.customer_id: dt.date.fromisoformat(r.churn_date) for r in churned.itertuples()}
    first_seen = by_customer["day"].min()
    pre, rest = Counter(), Counter()  # tickets and customer-days, in the 14 days before churn and elsewhere
    for customer, last in last_seen.items():
        for i in range((last - first_seen[customer]).days + 1):
            day = first_seen[customer] + dt.timedelta(days=i)
            window = customer in churn_day and 1 <= (churn_day[customer] - day).days <= 14
            bucket = pre if window else rest
            bucket["tickets"] += tickets[(customer, day)]
            bucket["days"] += 1
    assert pre["tickets"] / pre["days"] > 2 * rest["tickets"] / rest["days"]


def test_planted_search_trend_grows(landing):
    trend = _truth(landing, "trends.csv").iloc[0]
    customers = {r["customer_id"]: r["country"] for r in _csv_rows(landing, "customers")}
    _reasons, valid = _events(landing)
    events = _unique_events(valid)
    searches = events[(events["event_type"] == "search") & events["customer_id"].notna()]
    hit = searches[
        (searches["category"] == trend["category"])
        & (searches["customer_id"].map(customers) == trend["country"])
    ]
    start = trend["start_date"]
    before = (hit["event_ts"].str[:10] < start).sum() / max(1, (searches["event_ts"].str[:10] < start).sum())
    late_days = (START + dt.timedelta(days=DAYS - 4)).isoformat()
    after = (hit["event_ts"].str[:10] >= late_days).sum() / max(
        1, (searches["event_ts"].str[:10] >= late_days).sum()
    )
    assert after > 1.5 * before


def _content(landing: Path) -> dict[str, bytes]:
    """Every file's content keyed by its path without Spark's random file-name suffix."""
    out = {}
    for file in sorted(landing.rglob("*")):
        if file.is_file() and not file.name.startswith("_SUCCESS"):
            key = re.sub(r"part-(\d+)-[0-9a-f-]{36}", r"part-\1", str(file.relative_to(landing)))
            data = file.read_bytes()
            if file.name.endswith(".gz") and file != _truncated(landing):
                data = gzip.decompress(data)
            out[key] = re.sub(rb"part-(\d+)-[0-9a-f-]{36}", rb"part-\1", data)
    return out


def test_same_seed_gives_the_same_files(spark, landing, tmp_path):
    home = tmp_path / "again"
    params = GenerateParams.from_config(make_config(home).generate, customers=CUSTOMERS, days=DAYS)
    generate_all(spark, make_config(home), params)
    again = _content(home / "landing")
    assert again.keys() == _content(landing).keys()
    assert again == _content(landing)


def test_another_seed_draws_other_customers_and_a_different_world(spark, tmp_path):
    """Full runs are compared above; here only the seeded draws, to keep the module fast."""
    from lakepulse_sample.customers import customer_base
    from lakepulse_sample.scenario import plan_scenario

    base = GenerateParams.from_config(make_config(tmp_path).generate, customers=CUSTOMERS, days=DAYS)
    other = GenerateParams.from_config(
        make_config(tmp_path).generate, customers=CUSTOMERS, days=DAYS, seed=base.seed + 1
    )
    columns = ("customer", "signup_day", "city_idx", "plan", "email", "ip_address", "engagement")
    a, b = ({tuple(r) for r in customer_base(spark, p).select(*columns).collect()} for p in (base, other))
    assert len(a) == len(b) == CUSTOMERS and len(a & b) < 0.01 * CUSTOMERS
    assert plan_scenario(base) != plan_scenario(other)


def test_the_planted_scenario_is_a_parameter_with_the_sample_as_default(tmp_path):
    """The promo segment, the trend and the number of anomalies follow the parameters; unset, they are
    the sample's (urban / Friday / 18-22 UTC, a 3x surge drawn from the seed, 3 to 5 anomalies)."""
    from lakepulse_sample.params import parse_promo_segment
    from lakepulse_sample.scenario import plan_scenario

    section = make_config(tmp_path).generate
    default = plan_scenario(GenerateParams.from_config(section, customers=CUSTOMERS, days=DAYS))
    assert (default.promo.city_type, default.promo.weekday, default.promo.hours) == ("urban", 4, (18, 22))
    assert default.trend.factor == 3.0 and 3 <= len(default.anomalies) <= 5
    assert parse_promo_segment("rural/tue/9-12") == {
        "promo_city_type": "rural",
        "promo_weekday": 1,
        "promo_hours": (9, 12),
    }
    params = GenerateParams.from_config(
        section,
        customers=CUSTOMERS,
        days=DAYS,
        trend_category="books",
        trend_country="IT",
        trend_factor=4.0,
        anomalies=2,
        **parse_promo_segment("rural/Tuesday/9-12"),
    )
    planted = plan_scenario(params)
    assert (planted.promo.city_type, planted.promo.weekday, planted.promo.hours) == ("rural", 1, (9, 12))
    assert (planted.trend.category, planted.trend.country, planted.trend.factor) == ("books", "IT", 4.0)
    assert len(planted.anomalies) == 2
    # the manifest's parameters give the same params back (test_the_plan_estimates_what_a_generation_wrote)
    again = GenerateParams.from_config(section, **json.loads(json.dumps(params.as_json())))
    assert again == params


def test_refuses_a_landing_area_that_holds_data(landing, capsys):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LAKEPULSE_HOME", raising=False)
        assert main(_args(landing.parent)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err and str(landing) in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--days", "1"], "generate.days"),
        (["--start", "yesterday"], "generate.start"),
        (["--customers", "x"], "--customers"),
        (["--promo-segment", "urban/Funday/18-22"], "unknown weekday"),
        (["--promo-segment", "suburban/Friday/18-22"], "promo city type"),
        (["--promo-segment", "urban/Friday/22-18"], "promo hours"),
        (["--trend-country", "XX"], "trend country"),
    ],
)
def test_bad_parameters_fail_with_one_line(tmp_path, capsys, flags, message):
    assert main(["--set", f"paths.home={tmp_path}", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "landing").exists()


def _written(landing: Path) -> dict[str, int]:
    """What the generation wrote: the manifest's lines, the truncated events file counted whole (its lines
    were written), and the bytes of every file in the landing area."""
    manifest = _truth(landing, "manifest.json")
    records = dict(manifest["records"])
    records["events"] += manifest["truncated_file_records"]
    records["bytes"] = sum(f.stat().st_size for f in landing.rglob("*") if f.is_file())
    return records


def test_the_plan_estimates_what_a_generation_wrote(landing):
    """The estimate, derived from the generator's parameters, against the module's generation (400
    customers x 14 days): events and logs within 10% (measured: events -1.6%, access logs -0.7%, app
    logs -2.3%), bytes within 10% (-1%); billing is exact (one line per resource and day)."""
    from lakepulse_sample.plan import estimate

    manifest = _truth(landing, "manifest.json")
    params = GenerateParams.from_config(make_config(landing.parent).generate, **manifest["parameters"])
    plan, written = estimate(params), _written(landing)
    assert (plan.customers, plan.days) == (CUSTOMERS, DAYS)
    for estimated, source in (
        (plan.events, "events"),
        (plan.access_log_lines, "access_logs"),
        (plan.app_log_lines, "app_logs"),
        (plan.bytes, "bytes"),
    ):
        assert estimated == pytest.approx(written[source], rel=0.10), source
    assert plan.billing_lines == written["billing"]


def test_events_target_picks_the_customers_that_wrote_about_that_many(landing):
    """Asked for as many events as the module's generation wrote, --events' sizing lands within 10% of
    its 400 customers; and it is the fewest customers whose estimate reaches the target."""
    from lakepulse_sample.plan import customers_for_events, estimate

    params = GenerateParams.from_config(make_config(landing.parent).generate, customers=1, days=DAYS)
    target = _written(landing)["events"]
    customers = customers_for_events(target, params)
    assert customers == pytest.approx(CUSTOMERS, rel=0.10)
    assert estimate(dataclasses.replace(params, customers=customers)).events >= target
    assert estimate(dataclasses.replace(params, customers=customers - 1)).events < target


def test_events_flag_announces_the_plan_before_generating(spark, tmp_path, capsys, monkeypatch):
    """The job sizes the run from --events and prints its one-line plan before anything is written."""
    import lakepulse_sample

    seen = {}

    def generate_all(spark, config, params, overwrite=False):  # stands in for the (slow) generation
        seen["params"], seen["stderr"] = params, capsys.readouterr().err
        assert not (tmp_path / "landing").exists()
        return {"records": {}}

    monkeypatch.setattr(lakepulse_sample, "generate_all", generate_all)
    monkeypatch.delenv("LAKEPULSE_HOME", raising=False)
    assert main(["--set", f"paths.home={tmp_path}", "--events", "50000", "--days", str(DAYS)]) == 0
    plan = [line for line in seen["stderr"].splitlines() if line.startswith("generate: about ")]
    assert len(plan) == 1
    customers = seen["params"].customers
    assert f"for {customers:,} customers x {DAYS} days" in plan[0] and "landing/" in plan[0]
    events = int(re.match(r"generate: about ([\d,]+) events", plan[0]).group(1).replace(",", ""))
    assert 50_000 <= events < 50_000 * 1.01
    assert 1100 < customers < 1400  # 400 customers wrote about 15,700 events in 14 days (test above)


def test_events_with_customers_fails_with_one_line(tmp_path, capsys):
    assert main(["--set", f"paths.home={tmp_path}", "--events", "1000", "--customers", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--events" in err and "--customers" in err
    assert not (tmp_path / "landing").exists()
