"""Small synthetic lakes with planted truth for the model tests, independent of the generator.

`churn_world` simulates customers with a known daily churn hazard; `pricing_world` simulates purchases
whose quantities follow a known elasticity per category. Both are plain numpy/pandas, so a test can
compare what the models recover against what was planted, and recompute labels and metrics without
the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lakepulse.privacy import pseudonymise_value
from tests.conftest import TEST_PSEUDONYM_KEY

KEY = TEST_PSEUDONYM_KEY.encode("utf-8")
START = dt.date(2026, 1, 1)

# Test-sized churn label: 7 days of look-back, 7 days of horizon (gold.churn_* overrides).
CHURN_OVERRIDES = ["gold.churn_horizon_days=7", "gold.churn_active_days=7"]


def job_args(home: Path, *overrides: str) -> list[str]:
    """argv for a job's main(): the test-sized Spark settings, the home, then `overrides`."""
    from tests.conftest import job_argv

    return job_argv(home, *overrides)


def customer_key(customer_id: str) -> str:
    return pseudonymise_value(customer_id, KEY)


# --------------------------------------------------------------------------------------------------
# Churn


@dataclass
class ChurnWorld:
    customers: pd.DataFrame  # customer_id, customer_key, country, city, city_type, plan, age_band, ...
    events: pd.DataFrame  # silver/events columns (subset, the rest null)
    truth: pd.DataFrame  # customer_id, churn_probability, churn_date
    days: int
    start: dt.date


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def churn_world(customers: int = 400, days: int = 56, seed: int = 7, start: dt.date = START) -> ChurnWorld:
    rng = np.random.default_rng(seed)
    ids = [f"C{i:08d}" for i in range(1, customers + 1)]
    plan = rng.choice(["basic", "standard", "premium"], customers, p=[0.5, 0.35, 0.15])
    age = rng.choice(["18-24", "25-34", "35-44", "55-64"], customers, p=[0.25, 0.35, 0.25, 0.15])
    country = rng.choice(["FR", "DE", "US"], customers, p=[0.4, 0.35, 0.25])
    city_type = rng.choice(["urban", "rural"], customers, p=[0.7, 0.3])
    engagement = rng.uniform(0.45, 0.95, customers)  # daily probability of any activity
    # Daily churn hazard: plan, age and engagement planted; about 1.2% a day on average.
    logit = (
        -4.6
        + 0.9 * (plan == "basic")
        - 0.9 * (plan == "premium")
        + 0.6 * (age == "18-24")
        + 3.0 * (0.7 - engagement)
    )
    hazard = _sigmoid(logit)
    churn_day = rng.geometric(hazard) - 1  # day index of churning (may lie beyond the period)

    rows = []
    for i, cid in enumerate(ids):
        key = customer_key(cid)
        for d in range(days):
            if d > churn_day[i]:
                break
            day = start + dt.timedelta(days=d)
            if d == churn_day[i]:
                if rng.random() < 0.6:
                    ts = dt.datetime.combine(day, dt.time(12, 0))
                    rows.append(
                        (
                            f"e-{i}-{d}-c",
                            ts,
                            day,
                            key,
                            f"s-{i}-{d}",
                            "subscription_cancel",
                            None,
                            None,
                            None,
                            None,
                        )
                    )
                break
            # Activity fades in the 10 days before churning.
            p = engagement[i] * (0.5 if churn_day[i] - d <= 10 else 1.0)
            if rng.random() >= p:
                continue
            for k in range(1 + rng.poisson(1.5)):
                ts = dt.datetime.combine(day, dt.time(8 + k % 14, (7 * k) % 60))
                u = rng.random()
                if u < 0.25:
                    price = round(float(rng.uniform(5, 80)), 2)
                    rows.append(
                        (f"e-{i}-{d}-{k}", ts, day, key, f"s-{i}-{d}", "purchase", "P1", "books", price, 1)
                    )
                elif u < 0.25 + 0.2 * hazard[i] / hazard.mean() * 0.1:
                    rows.append(
                        (
                            f"e-{i}-{d}-{k}",
                            ts,
                            day,
                            key,
                            f"s-{i}-{d}",
                            "support_ticket",
                            None,
                            None,
                            None,
                            None,
                        )
                    )
                else:
                    rows.append(
                        (f"e-{i}-{d}-{k}", ts, day, key, f"s-{i}-{d}", "page_view", None, None, None, None)
                    )
    events = pd.DataFrame(
        rows,
        columns=[
            "event_id",
            "event_ts",
            "event_date",
            "customer_key",
            "session_id",
            "event_type",
            "product_id",
            "category",
            "unit_price",
            "quantity",
        ],
    )
    customers_df = pd.DataFrame(
        {
            "customer_id": ids,
            "customer_key": [customer_key(c) for c in ids],
            "signup_date": [start - dt.timedelta(days=int(x)) for x in rng.integers(30, 400, customers)],
            "country": country,
            "city": [f"{c}-city-{t}" for c, t in zip(country, city_type, strict=True)],
            "city_type": city_type,
            "plan": plan,
            "acquisition_channel": rng.choice(["organic", "paid_search", "social"], customers),
            "age_band": age,
        }
    )
    # Truth, as the generator writes it: for customers still there at the end, the chance of churning
    # in the 30 days after the last day (empty for those who churned inside the period), and the churn
    # date the draws produced, when it falls inside the period or that horizon.
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "churn_probability": [
                f"{1 - (1 - h) ** 30:.6f}" if c >= days else ""
                for h, c in zip(hazard, churn_day, strict=True)
            ],
            "churn_date": [
                (start + dt.timedelta(days=int(c))).isoformat() if c < days + 30 else "" for c in churn_day
            ],
        }
    )
    return ChurnWorld(customers_df, events, truth, days, start)


def churn_features(world: ChurnWorld, first_as_of: int = 7) -> pd.DataFrame:
    """A gold/customer_features subset (docs/gold.md names) computed in numpy, as of every day."""
    keys = world.customers["customer_key"].tolist()
    index = {k: i for i, k in enumerate(keys)}
    n, days = len(keys), world.days
    events = np.zeros((n, days + 1))
    purchases = np.zeros((n, days + 1))
    spend = np.zeros((n, days + 1))
    tickets = np.zeros((n, days + 1))
    for r in world.events.itertuples(index=False):
        i, d = index[r.customer_key], (r.event_date - world.start).days
        events[i, d] += 1
        if r.event_type == "purchase":
            purchases[i, d] += 1
            spend[i, d] += r.unit_price * r.quantity
        if r.event_type == "support_ticket":
            tickets[i, d] += 1
    active = (events > 0).astype(float)
    rows = []
    for a in range(first_as_of, days + 1):  # as of day a: the days before a
        as_of = world.start + dt.timedelta(days=a)

        def window(m, w, a=a):
            return m[:, max(0, a - w) : a].sum(axis=1)

        last_active = np.array(
            [np.max(np.nonzero(active[i, :a])[0]) if active[i, :a].any() else -1 for i in range(n)]
        )
        for i, c in enumerate(world.customers.itertuples(index=False)):
            rows.append(
                {
                    "as_of_date": as_of,
                    "customer_key": c.customer_key,
                    "signup_date": c.signup_date,
                    "country": c.country,
                    "city": c.city,
                    "city_type": c.city_type,
                    "plan": c.plan,
                    "acquisition_channel": c.acquisition_channel,
                    "age_band": c.age_band,
                    "days_since_signup": (as_of - c.signup_date).days,
                    "days_since_last_activity": None if last_active[i] < 0 else a - int(last_active[i]),
                    "events_7d": int(window(events, 7)[i]),
                    "events_30d": int(window(events, 30)[i]),
                    "active_days_7d": int(window(active, 7)[i]),
                    "active_days_30d": int(window(active, 30)[i]),
                    "purchases_30d": int(window(purchases, 30)[i]),
                    "spend_30d": round(float(window(spend, 30)[i]), 2),
                    "support_tickets_30d": int(window(tickets, 30)[i]),
                }
            )
    return pd.DataFrame(rows)


FEATURES_DDL = (
    "as_of_date date, customer_key string, signup_date date, country string, city string, city_type string, "
    "plan string, acquisition_channel string, age_band string, days_since_signup int, "
    "days_since_last_activity int, events_7d bigint, events_30d bigint, active_days_7d bigint, "
    "active_days_30d bigint, purchases_30d bigint, spend_30d decimal(18,2), support_tickets_30d bigint"
)


def churn_labels(world: ChurnWorld, horizon: int = 7, active_days: int = 7) -> pd.DataFrame:
    """The documented label recomputed in pandas: (customer_key, as_of_date, churned)."""
    ev = world.events
    out = []
    by_customer = {k: g for k, g in ev.groupby("customer_key")}
    for key, g in by_customer.items():
        days = set(g["event_date"])
        cancels = set(g.loc[g["event_type"] == "subscription_cancel", "event_date"])
        for a in range(active_days, world.days - horizon + 1):
            d = world.start + dt.timedelta(days=a)
            past = any(d - dt.timedelta(days=k) in days for k in range(1, active_days + 1))
            if not past:
                continue
            future = [d + dt.timedelta(days=k) for k in range(horizon)]
            churned = any(f in cancels for f in future) or not any(f in days for f in future)
            out.append((key, d, churned))
    return pd.DataFrame(out, columns=["customer_key", "as_of_date", "churned"])


def to_spark(spark, frame: pd.DataFrame, config, name: str, schema):
    """A pandas frame as a Spark DataFrame conformed to `schema` (missing columns null), via Parquet:
    much faster than createDataFrame on tens of thousands of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    path = Path(config.paths.home) / "_fixture_parquet" / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False),
        path,
        coerce_timestamps="us",
        allow_truncated_timestamps=True,
    )
    df = spark.read.parquet(str(path))
    return df.select(
        *[
            (F.col(f.name) if f.name in df.columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in schema
        ]
    )


def write_churn_lake(spark, config, world: ChurnWorld) -> None:
    from pyspark.sql import types as T

    from lakepulse.gold import runner, tables
    from lakepulse.gold.planner import DayRequest
    from lakepulse.runtime import delta_io
    from lakepulse.silver.byod import CUSTOMERS_SCHEMA, EVENTS_SCHEMA

    ev = world.events.copy()
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    ev["quantity"] = ev["quantity"].astype("Int64")
    ev["unit_price"] = ev["unit_price"].astype(float)
    delta_io.overwrite(
        to_spark(spark, ev, config, "events", EVENTS_SCHEMA),
        config.table_path("silver", "events"),
        ["event_date"],
    )
    cust = world.customers.drop(columns=["customer_id"]).copy()
    cust["signup_date"] = pd.to_datetime(cust["signup_date"])
    cust["updated_at"] = cust["signup_date"]
    delta_io.overwrite(
        to_spark(spark, cust, config, "customers", CUSTOMERS_SCHEMA), config.table_path("silver", "customers")
    )
    features = churn_features(world)
    for c in ("as_of_date", "signup_date"):
        features[c] = pd.to_datetime(features[c])
    features["days_since_last_activity"] = features["days_since_last_activity"].astype("Int64")
    schema = T._parse_datatype_string(FEATURES_DDL)
    delta_io.overwrite(
        to_spark(spark, features, config, "features", schema), config.table_path("gold", "customer_features")
    )
    # The label is the product's gold table, written by the gold runner as the features job would; the
    # tests check it against `churn_labels` below, recomputed in pandas.
    (labels,) = [t for t in tables.FEATURE_TABLES if t.name == "churn_labels"]
    runner.run_table(spark, config, labels, DayRequest())
    truth_dir = Path(config.paths.landing) / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    world.truth.to_csv(truth_dir / "churn.csv", index=False)
    end = world.start + dt.timedelta(days=world.days - 1)
    manifest = {"period": {"start": world.start.isoformat(), "end": end.isoformat(), "days": world.days}}
    (truth_dir / "manifest.json").write_text(json.dumps({**manifest, "churn_horizon_days": 30}))


# --------------------------------------------------------------------------------------------------
# Pricing

PLANTED_ELASTICITIES = {"books": -1.5, "electronics": -2.5, "toys": -0.8}
BASE_PRICES = {"books": 20.0, "electronics": 200.0, "toys": 35.0}


@dataclass
class PricingWorld:
    events: pd.DataFrame
    prices: pd.DataFrame
    weather: pd.DataFrame
    truth: pd.DataFrame
    days: int


def pricing_world(
    days: int = 60,
    lines_per_day: float = 6.0,
    quantity_scale: float = 1.0,
    extra_noise: float = 0.0,
    seed: int = 11,
    products_per_category: int = 5,
    start: dt.date = START,
) -> PricingWorld:
    """Purchase lines per product-day ~ Poisson(traffic), independent of price; units per line follow
    the planted curve: base_q x (price / category base price)^e x day-of-week x promo x +-5% noise,
    randomly rounded so the mean is exact (the generator's documented mechanism).

    `extra_noise` multiplies each line's mean by a log-normal factor of that sigma (a noisier world);
    `quantity_scale` scales base quantities (bigger baskets: less rounding noise, a better fit).
    """
    rng = np.random.default_rng(seed)
    dow_traffic = {1: 1.2, 2: 0.9, 3: 0.9, 4: 1.0, 5: 1.0, 6: 1.1, 7: 1.3}  # Spark numbering, 1 = Sunday
    dow_units = {1: 1.08, 2: 0.96, 3: 0.97, 4: 1.0, 5: 1.0, 6: 1.02, 7: 1.06}
    cities = [("FR", "Paris", 0.0), ("DE", "Berlin", -2.0), ("US", "Austin", 8.0)]
    base_temp = 10 + 6 * np.sin(np.arange(days) / 9.0) + rng.normal(0, 1.5, days)
    weather = [
        (
            start + dt.timedelta(days=d),
            country,
            city,
            round(float(base_temp[d] + off), 1),
            round(float(rng.gamma(0.6, 3.0)), 1),
            "cloudy",
        )
        for d in range(days)
        for country, city, off in cities
    ]
    weather_df = pd.DataFrame(
        weather, columns=["date", "country", "city", "temp_c", "precipitation_mm", "condition"]
    )

    prices, events = [], []
    max_ratio = 1.25 * math.exp(0.22)
    for category, elasticity in PLANTED_ELASTICITIES.items():
        # Expected units stay above 3 even for the dearest product, so rounding never floors at one unit.
        base_q = quantity_scale * 3.3 * max_ratio ** abs(elasticity) / 0.9
        for j in range(products_per_category):
            product = f"{category[:3].upper()}{j}"
            base = BASE_PRICES[category] * (0.8 + 0.45 * j / max(products_per_category - 1, 1))
            level = np.zeros(days)
            d, current = 0, 0.0
            while d < days:
                length = int(rng.integers(6, 14))
                if d:
                    step = rng.uniform(0.05, 0.18) * rng.choice([-1, 1])
                    current = current + step if abs(current + step) <= 0.22 else current - step
                level[d : d + length] = current
                d += length
            price = np.round(base * np.exp(level), 2)
            change_days = [0] + [d for d in range(1, days) if price[d] != price[d - 1]]
            for k, d0 in enumerate(change_days):
                valid_from = dt.datetime.combine(start + dt.timedelta(days=d0), dt.time())
                nxt = change_days[k + 1] if k + 1 < len(change_days) else None
                valid_to = dt.datetime.combine(start + dt.timedelta(days=nxt), dt.time()) if nxt else None
                prices.append((product, category, float(price[d0]), "EUR", valid_from, valid_to))
            for d in range(days):
                day = start + dt.timedelta(days=d)
                dow = (day.isoweekday() % 7) + 1
                for k in range(int(rng.poisson(lines_per_day * dow_traffic[dow]))):
                    promo = rng.random() < 0.2
                    mean = (
                        base_q
                        * (price[d] / BASE_PRICES[category]) ** elasticity
                        * dow_units[dow]
                        * (1.25 if promo else 1.0)
                        * (1 + 0.05 * (2 * rng.random() - 1))
                    )
                    if extra_noise:
                        mean *= math.exp(rng.normal(0, extra_noise))
                    units = max(1, int(math.floor(mean + rng.random())))
                    ts = dt.datetime.combine(day, dt.time(9 + k % 12, (13 * k) % 60, k % 60))
                    events.append(
                        (f"p-{product}-{d}-{k}", ts, day, f"k{k % 97}", f"s-{product}-{d}-{k}", "purchase",
                         "FLASH10" if promo else None, category, product, float(price[d]), units)
                    )  # fmt: skip
    events_df = pd.DataFrame(
        events,
        columns=["event_id", "event_ts", "event_date", "customer_key", "session_id", "event_type", "promo_code", "category", "product_id", "unit_price", "quantity"],
    )  # fmt: skip
    prices_df = pd.DataFrame(
        prices, columns=["product_id", "category", "price", "currency", "valid_from", "valid_to"]
    )
    truth = pd.DataFrame(
        [(c, e, BASE_PRICES[c], 0.0) for c, e in PLANTED_ELASTICITIES.items()],
        columns=["category", "elasticity", "base_price", "base_quantity"],
    )
    return PricingWorld(events_df, prices_df, weather_df, truth, days)


def write_pricing_lake(spark, config, world: PricingWorld, truth: bool = True) -> None:
    from lakepulse.runtime import delta_io
    from lakepulse.silver.byod import EVENTS_SCHEMA, PRICES_SCHEMA, WEATHER_SCHEMA

    ev = world.events.copy()
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    events = to_spark(spark, ev, config, "pricing_events", EVENTS_SCHEMA)
    delta_io.overwrite(events, config.table_path("silver", "events"), partition_by=["event_date"])
    delta_io.overwrite(
        to_spark(spark, world.prices, config, "prices", PRICES_SCHEMA), config.table_path("silver", "prices")
    )
    we = world.weather.copy()
    we["date"] = pd.to_datetime(we["date"])
    delta_io.overwrite(
        to_spark(spark, we, config, "weather", WEATHER_SCHEMA), config.table_path("silver", "weather")
    )
    if truth:
        truth_dir = Path(config.paths.landing) / "_truth"
        truth_dir.mkdir(parents=True, exist_ok=True)
        world.truth.to_csv(truth_dir / "elasticities.csv", index=False)
    # The pricing model reads gold only: kpis builds gold/product_demand_daily from this silver, every
    # day of the world named so that a rewritten world replaces the days a previous one wrote.
    from tests.conftest import load_job

    last = min(world.events["event_date"]) + dt.timedelta(days=world.days - 1)
    argv = [*job_args(Path(config.paths.home)), "--tables", "product_demand_daily"]
    argv += ["--from", str(min(world.events["event_date"])), "--to", str(last)]
    assert load_job("kpis").main(argv) == 0
