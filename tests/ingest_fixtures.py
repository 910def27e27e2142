"""Small hand-written landing files (docs/landing.md) with planted bad records, and their truth.

The truth is written down as the files are built, record by record, never computed by the code under
test: how many records each source has, how many are bad and why, how many are duplicates.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FOCUS_SAMPLE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "focus-1.0" / "focus_sample.csv"
)
DAYS = ("2026-01-01", "2026-01-02")


@dataclass
class Truth:
    records: Counter = field(default_factory=Counter)  # records per source (lines that are not headers)
    bad: dict[str, Counter] = field(default_factory=dict)  # source -> reason -> count
    duplicates: Counter = field(default_factory=Counter)
    corrupt_files: dict[str, list[str]] = field(default_factory=dict)
    files: Counter = field(default_factory=Counter)

    def add(self, source: str, reason: str | None = None, duplicate: bool = False) -> None:
        self.records[source] += 1
        if reason:
            self.bad.setdefault(source, Counter())[reason] += 1
        if duplicate:
            self.duplicates[source] += 1

    def loaded(self, source: str) -> int:
        return self.records[source] - sum(self.bad.get(source, Counter()).values()) - self.duplicates[source]


def _write(
    path: Path, text: str, gz: bool = False, truncate: bool = False, bom: bool = False, tail: bytes = b""
) -> None:
    """Writes `text` as UTF-8 (after a byte-order mark if `bom`), then the raw bytes `tail`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8") + tail
    if gz:
        data = gzip.compress(data, mtime=0)  # byte-identical landing files in every test home
        if truncate:
            data = data[: len(data) // 2]
    path.write_bytes(data)


def landing_text(path: Path) -> str:
    """A plain landing file's text as a reader sees it: UTF-8 (bad bytes as U+FFFD), no byte-order mark."""
    return path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")


def _event(i: int, day: str, event_type: str = "page_view", **extra) -> dict:
    e = {
        "event_id": f"e-{i:012d}-fx",
        "event_ts": f"{day}T{10 + i % 10:02d}:{i % 60:02d}:05.250Z",
        "session_id": f"s-{i // 3:06d}",
        "event_type": event_type,
        "device": ("mobile", "desktop", "tablet")[i % 3],
        "lat": 48.8566 + i / 1000,
        "lon": 2.3522,
    }
    if event_type in (
        "add_to_cart",
        "purchase",
        "checkout",
        "subscription_start",
        "subscription_cancel",
        "support_ticket",
    ):
        e["customer_id"] = f"C{i % 7:08d}"
    if event_type in ("add_to_cart", "purchase"):
        e.update(
            product_id=f"P{i % 5:04d}",
            category="electronics",
            unit_price=19.99 + i,
            quantity=1 + i % 3,
            currency="EUR",
        )
    if event_type == "search":
        # Users type anything into a search box, personal data included (silver must scrub it).
        e.update(
            search_query="mail me at bob.smith@example.org" if i == 8 else f"query {i}", category="books"
        )
    if event_type == "page_view":
        e["page"] = "/home"
    e.update(extra)
    return e


def write_events(landing: Path, truth: Truth) -> None:
    types = ("page_view", "search", "add_to_cart", "purchase", "checkout", "promo_view", "support_ticket")
    day1 = [_event(i, DAYS[0], types[i % len(types)]) for i in range(40)]
    lines1 = [json.dumps(e) for e in day1]
    for _ in lines1:
        truth.add("events")
    # Bad records, one of each kind.
    bad1 = [
        ('{"event_id": "e-bad-1", "event_ts": ', "malformed_json"),
        (
            json.dumps({k: v for k, v in _event(100, DAYS[0], "purchase").items() if k != "customer_id"}),
            "missing_field:customer_id",
        ),
        (json.dumps(_event(101, DAYS[0], "purchase", unit_price="abc")), "bad_type:unit_price"),
        (json.dumps(_event(102, DAYS[0], "purchase", quantity="2")), "bad_type:quantity"),
        (json.dumps(_event(103, DAYS[0], "purchase", unit_price=-5.0)), "negative_price"),
        (json.dumps(_event(104, DAYS[0], event_ts="2027-06-01T00:00:00.000Z")), "future_timestamp"),
        (json.dumps(_event(105, DAYS[0], "teleport")), "unknown_event_type"),
        (json.dumps(_event(106, DAYS[0], session_id={"nested": 1})), "bad_type:session_id"),
        (
            json.dumps({k: v for k, v in _event(107, DAYS[0]).items() if k != "event_id"}),
            "missing_field:event_id",
        ),
    ]
    for _line, reason in bad1:
        truth.add("events", reason)
    # An exact duplicate inside the same file.
    dup_in_file = lines1[3]
    truth.add("events", duplicate=True)
    # The file starts with a byte-order mark (as Windows tools write it): its first record loads like any
    # other. Its last line is Latin-1, not UTF-8 ("café" as one byte 0xE9): never loaded with U+FFFD.
    latin1 = json.dumps(_event(108, DAYS[0], session_id="s-caf\xe9"), ensure_ascii=False).encode("latin-1")
    truth.add("events", "bad_encoding")
    _write(
        landing / "events" / f"date={DAYS[0]}" / "part-00000.json",
        "\n".join([*lines1, *(b for b, _ in bad1), dup_in_file]) + "\n",
        bom=True,
        tail=latin1 + b"\n",
    )
    truth.files["events"] += 1

    # Day 2, gzipped: schema drift (app_version, an unknown field), late events, a duplicate of day 1.
    day2 = [_event(i, DAYS[1], types[i % len(types)], app_version="2.4.1") for i in range(200, 230)]
    day2[0]["experiment"] = "checkout-v2"  # unknown optional field: must not fail ingestion
    late = [_event(i, DAYS[0], "page_view") for i in range(300, 303)]  # arrived a day late, within the window
    too_late = [_event(400, "2025-12-20", "page_view")]
    lines2 = [json.dumps(e) for e in day2 + late]
    for _ in lines2:
        truth.add("events")
    truth.add("events", "late_beyond_window")
    truth.add("events", duplicate=True)  # day 1's first event, again
    text2 = "\n".join([*lines2, json.dumps(too_late[0]), lines1[0]]) + "\n"
    _write(landing / "events" / f"date={DAYS[1]}" / "part-00000.json.gz", text2, gz=True)
    truth.files["events"] += 1
    # A truncated gzip file: quarantined as a file, the run goes on.
    truncated = landing / "events" / f"date={DAYS[1]}" / "part-00001.json.gz"
    _write(
        truncated,
        "\n".join(json.dumps(_event(i, DAYS[1])) for i in range(500, 800)) + "\n",
        gz=True,
        truncate=True,
    )
    truth.corrupt_files["events"] = [truncated.name]
    truth.files["events"] += 1


CUSTOMER_HEADER = "customer_id,signup_date,country,city,city_type,plan,acquisition_channel,age_band,email,ip_address,updated_at"


def _customer(i: int, plan: str, updated: str, signup: str = "2025-11-02") -> str:
    return f"C{i:08d},{signup},FR,Paris,urban,{plan},organic,25-34,user{i}@example.com,203.0.113.{i % 250},{updated}"


def write_customers(landing: Path, truth: Truth) -> None:
    rows1 = [_customer(i, ("basic", "standard", "premium")[i % 3], f"{DAYS[0]}T08:00:00Z") for i in range(7)]
    for _ in rows1:
        truth.add("customers")
    bad1 = [
        ("C00000099,2025-11-02,FR,Paris", "malformed_csv"),
        (_customer(98, "basic", "yesterday"), "bad_type:updated_at"),
        (_customer(97, "platinum", f"{DAYS[0]}T08:00:00Z"), "unknown_plan"),
    ]
    for _, reason in bad1:
        truth.add("customers", reason)
    _write(
        landing / "customers" / f"date={DAYS[0]}" / "part-00000.csv",
        "\n".join([CUSTOMER_HEADER, *rows1, *(b for b, _ in bad1)]) + "\n",
    )
    # Day 2: plan changes of two customers, and a repeat of an already-ingested state (duplicate).
    rows2 = [_customer(1, "premium", f"{DAYS[1]}T09:30:00Z"), _customer(2, "basic", f"{DAYS[1]}T11:00:00Z")]
    for _ in rows2:
        truth.add("customers")
    truth.add("customers", duplicate=True)
    _write(
        landing / "customers" / f"date={DAYS[1]}" / "part-00000.csv",
        "\n".join([CUSTOMER_HEADER, *rows2, rows1[0]]) + "\n",
    )
    truth.files["customers"] += 2


def write_prices(landing: Path, truth: Truth) -> None:
    header = "product_id,category,price,currency,effective_from"
    rows1 = [f"P{i:04d},electronics,{10 + i}.50,EUR,{DAYS[0]}T00:00:00Z" for i in range(5)]
    for _ in rows1:
        truth.add("prices")
    bad = [
        (f"P0009,electronics,-3.00,EUR,{DAYS[0]}T00:00:00Z", "negative_price"),
        (f"P0008,electronics,12.345,EUR,{DAYS[0]}T00:00:00Z", "bad_type:price"),
    ]
    for _, reason in bad:
        truth.add("prices", reason)
    _write(
        landing / "prices" / f"date={DAYS[0]}" / "part-00000.csv",
        "\n".join([header, *rows1, *(b for b, _ in bad)]) + "\n",
    )
    rows2 = [
        f"P0001,electronics,9.99,EUR,{DAYS[1]}T12:00:00Z",
        f"P0003,electronics,15.00,EUR,{DAYS[1]}T06:00:00Z",
    ]
    for _ in rows2:
        truth.add("prices")
    _write(landing / "prices" / f"date={DAYS[1]}" / "part-00000.csv", "\n".join([header, *rows2]) + "\n")
    truth.files["prices"] += 2


def _access(i: int, day: str, path: str = "/api/products/P0042?ref=home", service: str = "catalog") -> str:
    d = day.split("-")
    month = {"01": "Jan", "12": "Dec"}[d[1]]
    ua = 'Mozilla/5.0 (X11; Linux x86_64) \\"quoted\\"'
    return (
        f'198.51.100.{i % 200} - - [{d[2]}/{month}/{d[0]}:12:{i % 60:02d}:07 +0000] "GET {path} HTTP/1.1" '
        f'{200 if i % 5 else 404} {"-" if i % 7 == 0 else 1000 + i} "https://shop.example/" "{ua}" {20 + i} {service}'
    )


def write_access_logs(landing: Path, truth: Truth) -> None:
    lines = [
        _access(i, DAYS[0], path=("/api/products/P0042?ref=home", "/api/users/12345/orders/987", "/")[i % 3])
        for i in range(20)
    ]
    for _ in lines:
        truth.add("access_logs")
    bad = [
        ("this is not an access log line", "unparseable_log_line"),
        (_access(50, DAYS[0]).replace("[01/Jan/2026", "[2026-01-01"), "unparseable_log_line"),
        (_access(51, DAYS[0], service="billing"), "unknown_service"),
    ]
    for _, reason in bad:
        truth.add("access_logs", reason)
    _write(
        landing / "access_logs" / f"date={DAYS[0]}" / "part-00000.log",
        "\n".join([*lines, *(b for b, _ in bad)]) + "\n",
    )
    truth.files["access_logs"] += 1


def write_app_logs(landing: Path, truth: Truth) -> None:
    lines = [
        json.dumps(
            {
                "ts": f"{DAYS[0]}T13:{i:02d}:00.000Z",
                "service": "checkout",
                "level": ("INFO", "WARN", "ERROR", "DEBUG")[i % 4],
                "message": (
                    "login failed for anna.b@example.com from 203.0.113.7"
                    if i == 5
                    else "callback to +44 20 7946 0958 from 2001:db8:85a3::8a2e:370:7334"
                    if i == 9
                    else f"payment declined for order {i}"
                    if i % 4 == 2
                    else f"request {i} served"
                ),
                "latency_ms": 10.5 + i,
                "trace_id": f"{i:032x}",
                "host": "checkout-3",
            }
        )
        for i in range(15)
    ]
    for _ in lines:
        truth.add("app_logs")
    bad = [
        ("{not json at all", "malformed_json"),
        (
            json.dumps(
                {"ts": f"{DAYS[0]}T13:00:00.000Z", "service": "auth", "level": "FATAL", "message": "x"}
            ),
            "unknown_level",
        ),
        (
            json.dumps(
                {"ts": f"{DAYS[0]}T13:00:00.000Z", "service": "auth", "level": "INFO", "latency_ms": "fast"}
            ),
            "bad_type:latency_ms",
        ),
    ]
    for _, reason in bad:
        truth.add("app_logs", reason)
    _write(
        landing / "app_logs" / f"date={DAYS[0]}" / "part-00000.json",
        "\n".join([*lines, *(b for b, _ in bad)]) + "\n",
    )
    truth.files["app_logs"] += 1


def focus_header() -> list[str]:
    with FOCUS_SAMPLE.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def _focus_row(header: list[str], day: str, service: str, cost: str, **overrides) -> list[str]:
    values = {name: "NULL" for name in header}
    next_day = f"{day[:8]}{int(day[8:]) + 1:02d}"
    values.update(
        BilledCost=cost,
        EffectiveCost=cost,
        ListCost=cost,
        ContractedCost=cost,
        BillingAccountId="1234567890123",
        BillingCurrency="USD",
        BillingPeriodStart="2026-01-01 00:00:00",
        BillingPeriodEnd="2026-02-01 00:00:00",
        ChargeCategory="Usage",
        ChargeFrequency="Usage-Based",
        ChargePeriodStart=f"{day} 00:00:00",
        ChargePeriodEnd=f"{next_day} 00:00:00",
        ConsumedQuantity="24.000000000000000",
        ProviderName="AWS",
        ServiceName=service,
        Id=f"{service}-{day}",
        Tags=json.dumps({"service": service, "environment": "prod"}),
    )
    values.update(overrides)
    return [values[name] for name in header]


def write_billing(landing: Path, truth: Truth) -> None:
    header = focus_header()
    rows = [
        _focus_row(header, DAYS[0], s, f"{i + 1}.12345678901")
        for i, s in enumerate(("frontend", "catalog", "search"))
    ]
    for _ in rows:
        truth.add("billing")
    bad = [
        (_focus_row(header, DAYS[0], "auth", "1.5", EffectiveCost="NULL"), "missing_field:EffectiveCost"),
        (_focus_row(header, DAYS[0], "checkout", "1.123456789012"), "bad_type:BilledCost"),
    ]
    for _, reason in bad:
        truth.add("billing", reason)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(header)
    for row in rows + [b for b, _ in bad]:
        writer.writerow(row)
    text = out.getvalue().replace('"NULL"', "NULL")
    _write(landing / "billing" / f"date={DAYS[0]}" / "part-00000.csv", text)
    truth.files["billing"] += 1


def write_weather(landing: Path, truth: Truth) -> None:
    header = "date,country,city,temp_c,precipitation_mm,condition"
    rows = [
        f"{DAYS[0]},FR,Paris,4.5,0.0,cloudy",
        f"{DAYS[0]},DE,Berlin,-1.0,2.5,snow",
        f"{DAYS[0]},ES,Madrid,11.0,0.0,sunny",
    ]
    for _ in rows:
        truth.add("weather")
    bad = [
        (f"{DAYS[0]},IT,Rome,warm,0.0,sunny", "bad_type:temp_c"),
        (f"{DAYS[0]},PT,Lisbon,14.0,1.0,hail", "unknown_condition"),
    ]
    for _, reason in bad:
        truth.add("weather", reason)
    _write(
        landing / "weather" / f"date={DAYS[0]}" / "part-00000.csv",
        "\n".join([header, *rows, *(b for b, _ in bad)]) + "\n",
    )
    truth.files["weather"] += 1


def write_landing(landing: Path) -> Truth:
    truth = Truth()
    for writer in (
        write_events,
        write_customers,
        write_prices,
        write_access_logs,
        write_app_logs,
        write_billing,
        write_weather,
    ):
        writer(landing, truth)
    return truth


# --- running the jobs in-process, and reading what they wrote -------------------------------------------

JOBS = Path(__file__).resolve().parents[1] / "jobs"
_LAKES: dict[str, tuple[Path, Truth]] = {}


def job(name: str):
    from tests.conftest import load_job

    return load_job(name)


def job_args(home: Path, *extra: str) -> list[str]:
    from tests.conftest import TEST_SPARK_OVERRIDES

    return [a for o in TEST_SPARK_OVERRIDES for a in ("--set", o)] + ["--set", f"paths.home={home}", *extra]


def run(name: str, home: Path, *extra: str) -> int:
    return job(name).main(job_args(home, *extra))


def fixture_lake(tmp_path_factory, refined: bool = False) -> tuple[Path, Truth]:
    """The hand-written landing ingested once (and refined once) per test session, shared read-only."""
    if "ingested" not in _LAKES:
        home = tmp_path_factory.mktemp("fixture-lake")
        truth = write_landing(home / "landing")
        assert run("ingest", home) == 0
        _LAKES["ingested"] = (home, truth)
    home, truth = _LAKES["ingested"]
    if refined and "refined" not in _LAKES:
        assert run("refine", home) == 0
        _LAKES["refined"] = (home, truth)
    return home, truth


def forget_fixture_lakes() -> None:
    """For a test that changes the shared lake: later users get a fresh one."""
    _LAKES.clear()


def table(spark, home: Path, layer: str, name: str):
    return spark.read.format("delta").load(str(home / "lake" / layer / name))


def versions(home: Path) -> dict[str, int]:
    """Latest commit version of every Delta table under the lake, read from the logs (no Spark)."""
    out = {}
    for log in sorted((home / "lake").glob("*/*/_delta_log")):
        commits = [int(p.stem) for p in log.glob("*.json") if p.stem.isdigit()]
        out[f"{log.parent.parent.name}/{log.parent.name}"] = max(commits)
    return out


def rows(df, exclude: tuple[str, ...] = ()) -> list[tuple]:
    """A table's rows as sorted tuples of text (NULL-safe), without the excluded columns."""
    keep = [c for c in df.columns if c not in exclude]
    return sorted(tuple("\0" if v is None else str(v) for v in r) for r in df.select(*keep).collect())
