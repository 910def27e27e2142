"""Small hand-made silver tables (docs/silver.md contract) for the gold tests, with planted structure.

Four weeks, 200 customers in six cities of three countries, plan changes (two on one day for some),
churners who cancel and go quiet, anonymous and half-anonymous sessions, sessions across midnight,
promo views, price changes, three services' requests with one request-less day, FOCUS billing with an
idle resource, an untagged line and one planted cost spike, and daily weather per city.
Everything is plain Python from one seeded random generator: the same rows on every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakepulse.contracts import schemas
from lakepulse.silver.common import CHANGE_FEED, CHANGE_FEED_TABLES

UTC = dt.UTC
START = dt.date(2026, 1, 1)
DAYS = 28
END = START + dt.timedelta(days=DAYS - 1)
CUSTOMERS = 200

CITIES = (
    ("FR", "Paris", "urban", 48.9, 2.4),
    ("FR", "Annecy", "rural", 45.9, 6.1),
    ("DE", "Berlin", "urban", 52.5, 13.4),
    ("DE", "Garmisch", "rural", 47.5, 11.1),
    ("US", "New York", "urban", 40.7, -74.0),
    ("US", "Boise", "rural", 43.6, -116.2),
)
PLANS = ("basic", "standard", "premium")
CHANNELS = ("organic", "paid_search", "social", "referral")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
CATEGORIES = ("electronics", "books", "garden", "toys")
SERVICES = ("frontend", "search", "checkout")
# One planted cost spike: (service, day index) with no matching traffic increase.
COST_SPIKE = ("search", 20)
# The day checkout serves no request at all (its billed cost that day is idle cost).
NO_TRAFFIC = ("checkout", 9)

EVENTS_SCHEMA = schemas.nullable(schemas.SILVER_EVENTS)
CUSTOMER_SCHEMA = schemas.nullable(schemas.SILVER_CUSTOMERS)
PRICES_SCHEMA = schemas.nullable(schemas.SILVER_PRICES)
REQUESTS_SCHEMA = schemas.nullable(schemas.SILVER_REQUESTS)
COST = T.DecimalType(38, 11)
BILLING_SCHEMA = T.StructType(
    [
        T.StructField("Id", T.StringType()),
        T.StructField("ChargePeriodStart", T.TimestampType()),
        T.StructField("ChargePeriodEnd", T.TimestampType()),
        T.StructField("ServiceName", T.StringType()),
        T.StructField("ResourceId", T.StringType()),
        T.StructField("ConsumedQuantity", COST),
        T.StructField("BilledCost", COST),
        T.StructField("EffectiveCost", COST),
        T.StructField("ListCost", COST),
        T.StructField("BillingCurrency", T.StringType()),
        T.StructField("Tags", T.MapType(T.StringType(), T.StringType())),
        T.StructField("charge_date", T.DateType()),
    ]
)
WEATHER_SCHEMA = schemas.nullable(schemas.SILVER_WEATHER)
SCHEMAS = {
    "events": (EVENTS_SCHEMA, ("event_date",)),
    "customers": (CUSTOMER_SCHEMA, ()),
    "customer_history": (CUSTOMER_SCHEMA, ()),
    "prices": (PRICES_SCHEMA, ()),
    "requests": (REQUESTS_SCHEMA, ("request_date",)),
    "billing": (BILLING_SCHEMA, ("charge_date",)),
    "weather": (WEATHER_SCHEMA, ()),
}


def key_of(customer_id: str) -> str:
    """Stands in for the keyed hash: 64 hex characters, stable per customer."""
    return hashlib.sha256(customer_id.encode()).hexdigest()


def at(day: dt.date, seconds: float) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=seconds)


@dataclass
class Silver:
    """Rows of every silver table, as dicts keyed by column name."""

    tables: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        schema = SCHEMAS[table][0]
        self.tables.setdefault(table, []).append({f.name: row.get(f.name) for f in schema})


def _products(rng: random.Random) -> list[tuple[str, str, Decimal]]:
    out = []
    for i in range(12):
        out.append((f"P{i:04d}", CATEGORIES[i % len(CATEGORIES)], Decimal(rng.randint(500, 20000)) / 100))
    return out


def build(seed: int = 7, start: dt.date = START, days: int = DAYS, customers: int = CUSTOMERS) -> Silver:
    """The fixture's rows; `start`, `days` and `customers` scale it (the tests' default: four weeks)."""
    end = start + dt.timedelta(days=days - 1)
    rng = random.Random(seed)
    silver = Silver()

    # Prices: an initial price long ago, then one or two changes during the period.
    price_points: dict[str, list[tuple[dt.datetime, Decimal]]] = {}
    for product, category, base in _products(rng):
        points = [(dt.datetime(2025, 1, 1, tzinfo=UTC), base)]
        for _ in range(rng.randint(1, 2)):
            when = at(start + dt.timedelta(days=rng.randint(2, days - 3)), rng.randint(0, 86399))
            factor = Decimal(rng.choice([85, 90, 110, 120])) / 100
            points.append((when, (points[-1][1] * factor).quantize(Decimal("0.01"))))
        points.sort()
        price_points[product] = points
        for i, (when, price) in enumerate(points):
            until = points[i + 1][0] if i + 1 < len(points) else None
            silver.add(
                "prices",
                {
                    "product_id": product,
                    "category": category,
                    "price": price,
                    "currency": "EUR",
                    "valid_from": when,
                    "valid_to": until,
                },
            )
    product_category = {p: c for p, c, _ in _products(random.Random(seed))}

    def price_at(product: str, ts: dt.datetime) -> Decimal:
        return [p for when, p in price_points[product] if when <= ts][-1]

    # Customers: most signed up before the period, some during it; a few plan changes.
    people = []
    for n in range(1, customers + 1):
        cid = f"C{n:08d}"
        country, city, city_type, lat, lon = CITIES[rng.randrange(len(CITIES))]
        if n <= customers * 4 // 5:
            signup = start - dt.timedelta(days=rng.randint(1, 200))
            first_at = at(start, rng.randint(0, 3600))
        else:
            signup = start + dt.timedelta(days=rng.randint(0, days - 3))
            first_at = at(signup, rng.randint(0, 80000))
        state = {
            "customer_key": key_of(cid),
            "signup_date": signup,
            "country": country,
            "city": city,
            "city_type": city_type,
            "plan": rng.choice(PLANS),
            "acquisition_channel": rng.choice(CHANNELS),
            "age_band": rng.choice(AGE_BANDS),
            "email_hash": hashlib.sha256(f"{cid}@example.com".encode()).hexdigest(),
            "ip_prefix": "198.51.100.0",
            "updated_at": first_at,
        }
        states = [state]
        if n % 7 == 0:  # a plan change during the period
            day = start + dt.timedelta(days=rng.randint(3, days - 2))
            if day > signup:
                states.append(
                    {
                        **state,
                        "plan": _other(state["plan"], rng),
                        "updated_at": at(day, rng.randint(0, 86399)),
                    }
                )
        if n % 23 == 0:  # two changes on one day: only the later one is ever in force at a day's end
            day = start + dt.timedelta(days=12)
            if day > signup:
                mid = {**states[-1], "plan": _other(states[-1]["plan"], rng), "updated_at": at(day, 3600)}
                states += [mid, {**mid, "plan": _other(mid["plan"], rng), "updated_at": at(day, 7200)}]
        states.sort(key=lambda s: s["updated_at"])
        for s in states:
            silver.add("customer_history", s)
        silver.add("customers", states[-1])
        people.append((cid, state, lat, lon, signup))

    # Events.
    event_no = 0

    def event(cust_key, session, ts, event_type, lat, lon, **extra):
        nonlocal event_no
        event_no += 1
        silver.add(
            "events",
            {
                "event_id": f"e-{event_no:09d}",
                "event_ts": ts,
                "event_date": ts.date(),
                "customer_key": cust_key,
                "session_id": session,
                "event_type": event_type,
                "device": "mobile",
                "lat": lat,
                "lon": lon,
                "currency": "EUR",
                "ingested_at": ts + dt.timedelta(minutes=5),
                **extra,
            },
        )

    session_no = 0
    for _cid, state, lat, lon, signup in people:
        ckey = state["customer_key"]
        engagement = rng.uniform(0.1, 0.7)
        churn_day = start + dt.timedelta(days=rng.randint(5, days - 2)) if rng.random() < 0.12 else None
        for i in range(days):
            day = start + dt.timedelta(days=i)
            if day < signup or (churn_day and day > churn_day):
                continue
            if churn_day == day:
                session_no += 1
                event(
                    ckey,
                    f"s-{session_no}",
                    at(day, rng.randint(3600, 80000)),
                    "subscription_cancel",
                    lat,
                    lon,
                    plan=state["plan"],
                )
                continue
            if rng.random() > engagement:
                continue
            session_no += 1
            session = f"s-{session_no}"
            hour = rng.choice([8, 10, 12, 13, 15, 17, 18, 19, 20, 21, 22, 23])
            hour = min(hour, 22) if day == end else hour  # nothing spills past the last day
            ts = at(day, hour * 3600 + rng.randint(0, 3000))
            if rng.random() < 0.03 and day < end:  # a session that runs past midnight
                ts = at(day, 86400 - 300)
            anonymous_start = rng.random() < 0.15
            promo = rng.random() < 0.25
            for step in range(rng.randint(1, 6)):
                ts = ts + dt.timedelta(seconds=rng.randint(20, 240))
                who = None if (anonymous_start and step == 0) else ckey
                kind = rng.choices(
                    [
                        "page_view",
                        "search",
                        "add_to_cart",
                        "checkout",
                        "purchase",
                        "support_ticket",
                        "promo_view",
                    ],
                    weights=[30, 20, 12, 6, 10, 3, 8 if promo else 1],
                )[0]
                product = f"P{rng.randrange(12):04d}"
                if kind == "page_view":
                    event(who, session, ts, kind, lat, lon, page="/home")
                elif kind == "search":
                    event(who, session, ts, kind, lat, lon, search_query="q", category=rng.choice(CATEGORIES))
                elif kind == "promo_view":
                    event(who, session, ts, kind, lat, lon, promo_code="FLASH10")
                elif kind in ("add_to_cart", "purchase"):
                    event(
                        ckey,
                        session,
                        ts,
                        kind,
                        lat,
                        lon,
                        product_id=product,
                        category=product_category[product],
                        unit_price=price_at(product, ts),
                        quantity=rng.randint(1, 3),
                        promo_code="FLASH10"
                        if (kind == "purchase" and promo and rng.random() < 0.5)
                        else None,
                    )
                elif kind == "support_ticket":
                    event(ckey, session, ts, kind, lat, lon, ticket_topic="billing")
                else:
                    event(ckey, session, ts, kind, lat, lon)

    # Anonymous traffic: searches and promo views located at a city's coordinates, or nowhere.
    for i in range(days):
        day = start + dt.timedelta(days=i)
        for _ in range(15):
            session_no += 1
            country, city, city_type, lat, lon = CITIES[rng.randrange(len(CITIES))]
            where = (lat, lon) if rng.random() < 0.8 else (None, None)
            ts = at(day, rng.randint(0, 86000))
            kind = rng.choice(["search", "promo_view", "page_view"])
            extra = {"category": rng.choice(CATEGORIES), "search_query": "q"} if kind == "search" else {}
            event(None, f"s-{session_no}", ts, kind, *where, **extra)

    # Requests and billing.
    for i in range(days):
        day = start + dt.timedelta(days=i)
        for service in SERVICES:
            n = 0 if (service, i) == (NO_TRAFFIC[0], NO_TRAFFIC[1]) else rng.randint(60, 160)
            for _ in range(n):
                silver.add(
                    "requests",
                    {
                        "request_ts": at(day, rng.randint(0, 86399)),
                        "request_date": day,
                        "service": service,
                        "method": "GET",
                        "path_template": f"/api/{service}/{{id}}",
                        "status": rng.choices([200, 404, 500, 503], weights=[90, 5, 3, 2])[0],
                        "bytes": rng.randint(100, 9000),
                        "latency_ms": int(rng.lognormvariate(3.5, 0.6)),
                        "client_ip_prefix": "203.0.113.0",
                        "user_agent": "test",
                    },
                )
            for r in range(2):
                usage = Decimal(10 + n * (r + 1)) / 7
                list_cost = (usage * Decimal("0.01234567891")).quantize(Decimal("0.00000000001"))
                if (service, i) == (COST_SPIKE[0], COST_SPIKE[1]):
                    list_cost *= 5
                effective = (
                    (list_cost * Decimal("0.8")).quantize(Decimal("0.00000000001")) if r else list_cost
                )
                tagged = not (service == "checkout" and r == 1)  # one untagged line: ServiceName decides
                silver.add(
                    "billing",
                    {
                        "Id": f"b-{service}-{r}-{i}",
                        "ChargePeriodStart": at(day, 0),
                        "ChargePeriodEnd": at(day, 86400),
                        "ServiceName": "LakeCloud Compute" if tagged else service,
                        "ResourceId": f"res-{service}-{r}",
                        "ConsumedQuantity": usage.quantize(Decimal("0.00000000001")),
                        "BilledCost": effective,
                        "EffectiveCost": effective,
                        "ListCost": list_cost,
                        "BillingCurrency": "USD",
                        "Tags": {"service": service, "environment": "prod"}
                        if tagged
                        else {"environment": "prod"},
                        "charge_date": day,
                    },
                )
        # An idle resource: billed every day, never used.
        silver.add(
            "billing",
            {
                "Id": f"b-frontend-idle-{i}",
                "ChargePeriodStart": at(day, 0),
                "ChargePeriodEnd": at(day, 86400),
                "ServiceName": "LakeCloud Storage",
                "ResourceId": "res-frontend-idle",
                "ConsumedQuantity": Decimal(0),
                "BilledCost": Decimal("0.42000000001"),
                "EffectiveCost": Decimal("0.42000000001"),
                "ListCost": Decimal("0.50000000000"),
                "BillingCurrency": "USD",
                "Tags": {"service": "frontend"},
                "charge_date": day,
            },
        )
        for country, city, _, _, _ in CITIES:
            condition = rng.choice(["sunny", "cloudy", "rain", "snow"])
            silver.add(
                "weather",
                {
                    "date": day,
                    "country": country,
                    "city": city,
                    "temp_c": round(rng.uniform(-5, 15), 1),
                    "precipitation_mm": 3.0 if condition in ("rain", "snow") else 0.0,
                    "condition": condition,
                },
            )
    return silver


def _other(plan: str, rng: random.Random) -> str:
    return rng.choice([p for p in PLANS if p != plan])


def _arrow(rows: list[dict], schema: T.StructType):
    """The rows as an Arrow table: Spark takes it without starting Python workers or checking row by row."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    maps = [f.name for f in schema if isinstance(f.dataType, T.MapType)]
    data = [{**r, **{m: None if r[m] is None else list(r[m].items()) for m in maps}} for r in rows]
    return pa.Table.from_pylist(data, schema=to_arrow_schema(schema, timezone="UTC"))


def write(
    spark: SparkSession, lake: Path | str, silver: Silver, tables: tuple[str, ...] | None = None
) -> None:
    """Writes (replacing) the silver tables under <lake>/silver with their contract partitioning."""
    for name in tables or tuple(silver.tables):
        schema, partitions = SCHEMAS[name]
        df = spark.createDataFrame(_arrow(silver.tables[name], schema), schema)
        df = df.repartition(*partitions) if partitions else df.repartition(1)  # one file per partition
        writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
        if name in CHANGE_FEED_TABLES:  # as refine makes them: gold reads which days changed
            writer = writer.options(**CHANGE_FEED)
        if partitions:
            writer = writer.partitionBy(*partitions)
        writer.save(f"{lake}/silver/{name}")


# Window sizes scaled to the four-week fixture (the defaults need months of data).
GOLD_OVERRIDES = (
    "gold.churn_horizon_days=7",
    "gold.churn_active_days=7",
    "gold.trend_recent_days=3",
    "gold.trend_baseline_days=7",
    "gold.promo_window_days=7",
    "gold.promo_min_sessions=3",
    "gold.anomaly_history_days=7",
    "gold.anomaly_min_history_days=5",
)

_LAKES: dict[tuple, Path] = {}


def silver_lake(spark: SparkSession, tmp_path_factory, seed: int = 7, **scale) -> Path:
    """The fixture's silver tables (`build(seed, **scale)`), written once per test session; tests copy
    them with `copy_silver`."""
    key = (seed, *sorted(scale.items()))
    if key not in _LAKES:
        lake = tmp_path_factory.mktemp(f"gold-silver-{seed}") / "lake"
        write(spark, lake, build(seed, **scale))
        _LAKES[key] = lake
    return _LAKES[key]


def copy_silver(source_lake: Path, home: Path) -> Path:
    """A test's own lake under `home`, holding a copy of the fixture's silver tables."""
    target = home / "lake" / "silver"
    shutil.copytree(source_lake / "silver", target)
    return home / "lake"


def job_args(home: Path, *extra: str) -> list[str]:
    args = ["--set", f"paths.home={home}"]
    for item in GOLD_OVERRIDES:
        args += ["--set", item]
    return [*args, *extra]


def oracle(lake: Path, tables: tuple[str, ...] = tuple(SCHEMAS)):
    """A DuckDB connection over the silver tables as read by delta-rs: an independent reader and engine."""
    import duckdb
    from deltalake import DeltaTable

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for name in tables:
        con.register(f"{name}_arrow", DeltaTable(str(lake / "silver" / name)).to_pyarrow_table())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    return con


def rows(con, sql: str) -> list[dict]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def assert_same_rows(got: list[dict], expected: list[dict], keys: tuple[str, ...], rel: float = 1e-9) -> None:
    """Same keys, and every column equal: exactly, except floats (relative `rel`)."""
    import math

    def index(items):
        out = {}
        for r in items:
            k = tuple(r[c] for c in keys)
            assert k not in out, f"duplicate key {k}"
            out[k] = r
        return out

    g, e = index(got), index(expected)
    assert set(g) == set(e), (
        f"keys differ: only in gold {sorted(set(g) - set(e))[:5]}, only in oracle {sorted(set(e) - set(g))[:5]}"
    )
    columns = [c for c in expected[0] if c not in keys] if expected else []
    for k in sorted(e):
        for c in columns:
            a, b = g[k][c], e[k][c]
            if isinstance(a, float) or isinstance(b, float):
                assert (a is None) == (b is None), f"{k} {c}: gold {a} oracle {b}"
                if a is not None:
                    assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-12), f"{k} {c}: gold {a} oracle {b}"
            else:
                assert a == b, f"{k} {c}: gold {a!r} oracle {b!r}"
