"""gold/customer_features against an independent DuckDB computation, and proof that nothing leaks.

The oracle re-derives every feature with plain SQL over the silver tables as delta-rs reads them: the
state as of D is the latest record received before D, windows are `event_date >= D - w AND event_date
< D` over raw events, lifetime numbers are aggregates of every earlier event. Nothing is shared with
the Spark code but the definitions in docs/gold.md.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from tests import gold_fixtures as fx
from tests.conftest import make_config

WINDOWS = (7, 30, 90)
FIRST_AS_OF = fx.START + dt.timedelta(days=1)
LAST_AS_OF = fx.END + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def silver(spark, tmp_path_factory):
    return fx.silver_lake(spark, tmp_path_factory)


def _features_main():
    from tests.conftest import load_job

    return load_job("features").main


def _gold(spark, home, table="customer_features"):
    return spark.read.format("delta").load(make_config(home).table_path("gold", table))


def oracle_features(con, first: dt.date, last: dt.date) -> list[dict]:
    windowed = []
    for w in WINDOWS:
        inw = f"e.event_date >= b.as_of_date - {w}"
        windowed += [
            f"count(e.event_id) FILTER (WHERE {inw}) AS events_{w}d",
            f"count(DISTINCT e.event_date) FILTER (WHERE {inw}) AS active_days_{w}d",
            f"count(DISTINCT e.session_id || '/' || CAST(e.event_date AS VARCHAR)) FILTER (WHERE {inw}) AS sessions_{w}d",
            f"count(e.event_id) FILTER (WHERE {inw} AND e.event_type = 'purchase') AS purchases_{w}d",
            f"coalesce(sum(e.amount) FILTER (WHERE {inw} AND e.event_type = 'purchase'), 0) AS spend_{w}d",
            f"count(e.event_id) FILTER (WHERE {inw} AND e.event_type = 'search') AS searches_{w}d",
            f"count(e.event_id) FILTER (WHERE {inw} AND e.event_type = 'support_ticket') AS support_tickets_{w}d",
            f"count(e.event_id) FILTER (WHERE {inw} AND e.event_type = 'promo_view') AS promo_views_{w}d",
            f"count(e.event_id) FILTER (WHERE {inw} AND e.event_type = 'purchase' AND e.promo_code IS NOT NULL) "
            f"AS promo_purchases_{w}d",
        ]
    con.execute(f"""
        CREATE OR REPLACE TABLE asof_dates AS
        SELECT CAST(d AS DATE) AS as_of_date
        FROM range(DATE '{first}', DATE '{last}' + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d);
        CREATE OR REPLACE TABLE hist AS
        SELECT *, lead(updated_at) OVER (PARTITION BY customer_key ORDER BY updated_at) AS next_at,
                  lag(plan) OVER (PARTITION BY customer_key ORDER BY updated_at) AS prev_plan
        FROM customer_history;
        CREATE OR REPLACE TABLE base AS
        SELECT a.as_of_date, h.customer_key, h.signup_date, h.country, h.city, h.city_type, h.plan,
               h.acquisition_channel, h.age_band
        FROM asof_dates a JOIN hist h
          ON h.updated_at < a.as_of_date AND (h.next_at IS NULL OR h.next_at >= a.as_of_date)
        WHERE h.signup_date < a.as_of_date;
        CREATE OR REPLACE TABLE ev AS
        SELECT *, CAST(unit_price * quantity AS DECIMAL(18, 2)) AS amount FROM events WHERE customer_key IS NOT NULL;
        CREATE OR REPLACE TABLE agg AS
        SELECT b.as_of_date, b.customer_key,
               {", ".join(windowed)},
               count(e.event_id) FILTER (WHERE e.event_type = 'purchase') AS frequency,
               coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'purchase'), 0) AS monetary,
               max(e.event_date) AS last_activity_date,
               max(e.event_date) FILTER (WHERE e.event_type = 'purchase') AS last_purchase_date,
               count(e.event_id) FILTER (WHERE e.event_date >= b.as_of_date - 90
                                           AND dayofweek(e.event_date) IN (0, 6)) AS weekend_90,
               count(e.event_id) FILTER (WHERE e.event_date >= b.as_of_date - 90 AND hour(e.event_ts) >= 18)
                   AS evening_90
        FROM base b LEFT JOIN ev e ON e.customer_key = b.customer_key AND e.event_date < b.as_of_date
        GROUP BY b.as_of_date, b.customer_key;
        CREATE OR REPLACE TABLE plans AS
        SELECT b.as_of_date, b.customer_key,
               count(c.d) FILTER (WHERE c.d >= b.as_of_date - 90) AS plan_changes_90d,
               count(c.d) AS plan_changes_total,
               max(c.d) AS last_change
        FROM base b LEFT JOIN (
            SELECT customer_key, CAST(updated_at AS DATE) AS d, updated_at FROM hist
            WHERE prev_plan IS NOT NULL AND prev_plan <> plan
        ) c ON c.customer_key = b.customer_key AND c.updated_at < b.as_of_date
        GROUP BY b.as_of_date, b.customer_key;
        CREATE OR REPLACE TABLE seen AS
        SELECT e.customer_key, e.event_date, p.price, p.prev
        FROM ev e JOIN (
            SELECT *, lag(price) OVER (PARTITION BY product_id ORDER BY valid_from) AS prev FROM prices
        ) p ON p.product_id = e.product_id AND e.event_ts >= p.valid_from
               AND (p.valid_to IS NULL OR e.event_ts < p.valid_to)
        WHERE e.event_type IN ('add_to_cart', 'purchase') AND p.prev IS NOT NULL
              AND e.event_ts < p.valid_from + INTERVAL 30 DAY;
        CREATE OR REPLACE TABLE prices_seen AS
        SELECT b.as_of_date, b.customer_key,
               count(s.price) FILTER (WHERE s.price > s.prev) AS up, count(s.price) FILTER (WHERE s.price < s.prev) AS down
        FROM base b LEFT JOIN seen s ON s.customer_key = b.customer_key
             AND s.event_date < b.as_of_date AND s.event_date >= b.as_of_date - 90
        GROUP BY b.as_of_date, b.customer_key;
        CREATE OR REPLACE TABLE wx AS
        SELECT b.as_of_date, b.customer_key,
               count(w.date) FILTER (WHERE w.condition IN ('rain', 'snow')) AS rain_days_7d, avg(w.temp_c) AS avg_temp_c_7d
        FROM base b LEFT JOIN weather w ON w.country = b.country AND w.city = b.city
             AND w.date >= b.as_of_date - 7 AND w.date < b.as_of_date
        GROUP BY b.as_of_date, b.customer_key;
    """)
    out = fx.rows(
        con,
        """
        SELECT b.*, a.*, p.plan_changes_90d, p.plan_changes_total, p.last_change, s.up, s.down,
               x.rain_days_7d, x.avg_temp_c_7d
        FROM base b
        JOIN agg a USING (as_of_date, customer_key)
        JOIN plans p USING (as_of_date, customer_key)
        JOIN prices_seen s USING (as_of_date, customer_key)
        JOIN wx x USING (as_of_date, customer_key)
        """,
    )
    for r in out:
        d = r["as_of_date"]
        r["days_since_signup"] = (d - r["signup_date"]).days
        r["days_since_last_activity"] = (
            (d - r["last_activity_date"]).days if r["last_activity_date"] else None
        )
        r["recency_days"] = (d - r["last_purchase_date"]).days if r["last_purchase_date"] else None
        r["avg_order_value"] = float(r["monetary"]) / r["frequency"] if r["frequency"] else None
        for m in ("events", "sessions", "purchases", "spend"):
            rate = {w: float(r[f"{m}_{w}d"]) / w for w in WINDOWS}
            r[f"{m}_trend_7_30"] = rate[7] - rate[30]
            r[f"{m}_trend_30_90"] = rate[30] - rate[90]
        n90 = r["events_90d"]
        r["weekend_share_90d"] = r.pop("weekend_90") / n90 if n90 else None
        r["evening_share_90d"] = r.pop("evening_90") / n90 if n90 else None
        last_change = r.pop("last_change")
        r["days_since_plan_change"] = (d - last_change).days if last_change else None
        r["price_increases_seen_90d"] = r.pop("up")
        r["price_decreases_seen_90d"] = r.pop("down")
        for key, value in list(r.items()):
            if isinstance(value, Decimal):
                r[key] = value.quantize(Decimal("0.01"))
    return out


def test_features_match_independent_oracle(spark, silver, tmp_path):
    home = tmp_path / "home"
    fx.copy_silver(silver, home)
    assert _features_main()(fx.job_args(home)) == 0

    got = [r.asDict() for r in _gold(spark, home).collect()]
    assert {r["as_of_date"] for r in got} == {FIRST_AS_OF + dt.timedelta(days=i) for i in range(fx.DAYS)}
    expected = oracle_features(fx.oracle(silver), FIRST_AS_OF, LAST_AS_OF)
    assert len(expected) > 3000
    # Spot checks that the fixture exercises what the oracle compares.
    assert any(r["plan_changes_total"] for r in expected) and any(
        r["price_increases_seen_90d"] for r in expected
    )
    assert any(r["promo_purchases_30d"] for r in expected) and any(r["support_tickets_7d"] for r in expected)
    fx.assert_same_rows(got, expected, keys=("as_of_date", "customer_key"))

    # A training set over a range of as-of dates is one read that opens only those dates' partitions.
    first, last = fx.START + dt.timedelta(days=20), fx.START + dt.timedelta(days=22)
    training = _gold(spark, home).filter(F.col("as_of_date").between(F.lit(first), F.lit(last)))
    files = training.inputFiles()
    assert {f.split("as_of_date=")[1][:10] for f in files} == {
        str(first + dt.timedelta(days=i)) for i in range(3)
    }
    assert training.count() == sum(1 for r in expected if first <= r["as_of_date"] <= last)


def _plant_after(silver_rows: fx.Silver, day: dt.date) -> fx.Silver:
    """Copies of the fixture's rows plus data dated on or after `day` that as-of `day` must never see."""
    planted = fx.Silver({name: [dict(r) for r in table] for name, table in silver_rows.tables.items()})
    history = {r["customer_key"]: r for r in planted.tables["customers"]}
    # Customers whose every state was received before `day`, so the planted state is their newest.
    keys = sorted(k for k, r in history.items() if r["updated_at"] < fx.at(day, 0))[:25]
    rng = random.Random(1)
    n = 0
    for i, key in enumerate(keys):
        for offset in (0, 1, 3):
            n += 1
            ts = fx.at(day + dt.timedelta(days=offset), 60 * i)  # the first ones at exactly 00:00 on `day`
            for kind in ("purchase", "support_ticket", "promo_view", "subscription_cancel", "search"):
                planted.add(
                    "events",
                    {
                        "event_id": f"planted-{n}-{kind}",
                        "event_ts": ts,
                        "event_date": ts.date(),
                        "customer_key": key,
                        "session_id": f"planted-{n}",
                        "event_type": kind,
                        "product_id": "P0001",
                        "category": "books",
                        "unit_price": Decimal("999.99") if kind == "purchase" else None,
                        "quantity": 9 if kind == "purchase" else None,
                        "promo_code": "LEAK" if kind == "purchase" else None,
                    },
                )
        state = history[key]
        moved = {
            "plan": fx._other(state["plan"], rng),
            "city": "Boise",
            "country": "US",
            "updated_at": fx.at(day, 0),
        }
        planted.add("customer_history", {**state, **moved})
    for r in planted.tables["prices"]:
        if r["product_id"] == "P0001" and r["valid_to"] is None:
            r["valid_to"] = fx.at(day, 0)
    planted.add(
        "prices",
        {
            "product_id": "P0001",
            "category": "books",
            "price": Decimal("999.99"),
            "currency": "EUR",
            "valid_from": fx.at(day, 0),
            "valid_to": None,
        },
    )
    for r in planted.tables["weather"]:
        if r["date"] >= day:
            r["condition"], r["temp_c"] = "snow", -40.0
    return planted


def test_events_on_or_after_the_as_of_date_never_leak(spark, silver, tmp_path):
    day = fx.START + dt.timedelta(days=14)
    later = day + dt.timedelta(days=2)
    home = tmp_path / "home"
    lake = fx.copy_silver(silver, home)
    main = _features_main()
    assert main(fx.job_args(home, "--from", str(day), "--to", str(later))) == 0
    before = [r.asDict() for r in _gold(spark, home).collect()]

    fx.write(spark, lake, _plant_after(fx.build(), day), ("events", "customer_history", "prices", "weather"))
    assert main(fx.job_args(home, "--from", str(day), "--to", str(later))) == 0
    after = [r.asDict() for r in _gold(spark, home).collect()]

    def as_of(rows, d):
        return {r["customer_key"]: r for r in rows if r["as_of_date"] == d}

    # The as-of date itself: identical, column for column (and not duplicated by the rerun).
    assert len([r for r in after if r["as_of_date"] == day]) == len(as_of(after, day))
    fx.assert_same_rows(
        list(as_of(after, day).values()),
        list(as_of(before, day).values()),
        keys=("as_of_date", "customer_key"),
        rel=0,
    )
    # Two days later the planted data is legitimately visible (two planted purchases of 9 x 999.99 each),
    # so the test can tell "no leak" from "no effect".
    b, a = as_of(before, later), as_of(after, later)
    grew = {
        k
        for k in a
        if k in b
        and a[k]["frequency"] - b[k]["frequency"] == 2
        and a[k]["monetary"] - b[k]["monetary"] == Decimal("17999.82")
    }
    assert len(grew) == 25
    assert all(
        a[k]["plan_changes_total"] == b[k]["plan_changes_total"] + 1 and a[k]["city"] == "Boise" for k in grew
    )
