"""gold/product_demand_daily: against a DuckDB oracle over the silver fixture (an independent engine and
reader), and on a handful of planted rows for its edge cases: a price change within a day, a day
without a purchase, a delisted product, a purchase with no price in force, a day without weather."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from lakepulse.gold import product_demand
from lakepulse.gold.planner import DayRange
from tests import gold_fixtures as fx
from tests.conftest import load_job, make_config

ORACLE = """
WITH lines AS (
    SELECT e.product_id, e.category, e.event_date AS date, e.quantity, e.promo_code IS NOT NULL AS promo,
           CAST(p.price AS DOUBLE) AS list_price
    FROM events e JOIN prices p ON e.product_id = p.product_id AND p.valid_from <= e.event_ts
                                 AND (p.valid_to IS NULL OR e.event_ts < p.valid_to)
    WHERE e.event_type = 'purchase' AND e.product_id IS NOT NULL AND e.category IS NOT NULL AND e.quantity > 0
), demand AS (
    SELECT category, product_id, date, count(*) AS purchases, sum(quantity) AS quantity,
           avg(ln(list_price)) AS log_price, avg(CAST(promo AS DOUBLE)) AS promo_share
    FROM lines GROUP BY ALL
), days AS (
    SELECT CAST(d AS DATE) AS date FROM range(DATE '{first}', DATE '{last}' + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
), closing AS (
    SELECT p.product_id, p.category AS p_category, CAST(p.price AS DOUBLE) AS list_price, days.date
    FROM prices p JOIN days ON p.valid_from < days.date + INTERVAL 1 DAY
                           AND (p.valid_to IS NULL OR p.valid_to >= days.date + INTERVAL 1 DAY)
), base AS (
    SELECT product_id, arg_min(CAST(price AS DOUBLE), valid_from) AS base_price FROM prices GROUP BY 1
), w AS (
    SELECT date, avg(temp_c) AS temp_c, avg(precipitation_mm) AS precipitation_mm FROM weather GROUP BY 1
)
SELECT coalesce(d.date, c.date) AS date, coalesce(d.category, c.p_category) AS category,
       coalesce(d.product_id, c.product_id) AS product_id,
       CAST(dayofweek(coalesce(d.date, c.date)) + 1 AS INTEGER) AS day_of_week,
       coalesce(d.purchases, 0) AS purchases, coalesce(d.quantity, 0) AS quantity, d.log_price, d.promo_share,
       c.list_price, base.base_price, w.temp_c, w.precipitation_mm
FROM demand d FULL JOIN closing c ON d.product_id = c.product_id AND d.date = c.date
LEFT JOIN base ON base.product_id = coalesce(d.product_id, c.product_id)
LEFT JOIN w ON w.date = coalesce(d.date, c.date)
WHERE coalesce(d.date, c.date) BETWEEN DATE '{first}' AND DATE '{last}'
"""


def check_product_demand(spark, home, con, first: dt.date, last: dt.date) -> None:
    """gold/product_demand_daily equals the oracle on [first, last], row for row."""
    expected = fx.rows(con, ORACLE.format(first=first, last=last))
    for r in expected:
        r["purchases"], r["quantity"] = int(r["purchases"]), int(r["quantity"])
    path = make_config(home).table_path("gold", "product_demand_daily")
    got = [r.asDict() for r in spark.read.format("delta").load(path).collect()]
    assert expected and any(r["purchases"] == 0 for r in expected) and any(r["purchases"] for r in expected)
    fx.assert_same_rows(got, expected, keys=("date", "product_id", "category"))


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    silver = fx.silver_lake(spark, tmp_path_factory, seed=5)
    home = tmp_path_factory.mktemp("product_demand") / "home"
    fx.copy_silver(silver, home)
    assert load_job("kpis").main(fx.job_args(home, "--tables", "product_demand_daily")) == 0
    return home, fx.oracle(silver)


def test_product_demand_daily_equals_the_duckdb_oracle(spark, built):
    home, con = built
    first, last = (r for r in con.execute("SELECT min(event_date), max(event_date) FROM events").fetchone())
    check_product_demand(spark, home, con, first, last)


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_planted_edge_cases(spark):
    """Sunday 2026-03-01 .. Tuesday 03-03. A: 10.00, then 12.00 from 03-02 12:00. B: 4.00 (its first
    price), 5.00 from 02-20, delisted from 03-02 00:00, so its purchase on 03-02 has no price."""
    prices = spark.createDataFrame(
        [
            ("A", "toys", 10.0, _ts("2026-02-01 00:00:00"), _ts("2026-03-02 12:00:00")),
            ("A", "toys", 12.0, _ts("2026-03-02 12:00:00"), None),
            ("B", "books", 4.0, _ts("2026-02-01 00:00:00"), _ts("2026-02-20 00:00:00")),
            ("B", "books", 5.0, _ts("2026-02-20 00:00:00"), _ts("2026-03-02 00:00:00")),
        ],
        "product_id string, category string, price double, valid_from timestamp, valid_to timestamp",
    )
    events = spark.createDataFrame(
        [
            (_ts("2026-02-28 10:00:00"), "purchase", "A", "toys", 7, None),  # before the days computed
            (_ts("2026-03-01 10:00:00"), "purchase", "A", "toys", 2, "FLASH10"),
            (_ts("2026-03-01 11:00:00"), "purchase", "A", "toys", 4, None),
            (_ts("2026-03-01 12:00:00"), "view", "A", "toys", None, None),
            (_ts("2026-03-02 11:00:00"), "purchase", "A", "toys", 1, None),  # at 10.00
            (_ts("2026-03-02 13:00:00"), "purchase", "A", "toys", 3, None),  # at 12.00
            (_ts("2026-03-01 09:00:00"), "purchase", "B", "books", 1, None),
            (_ts("2026-03-02 09:00:00"), "purchase", "B", "books", 5, None),  # no price in force
        ],
        "event_ts timestamp, event_type string, product_id string, category string, quantity int, promo_code string",
    ).selectExpr("*", "to_date(event_ts) AS event_date")
    weather = spark.createDataFrame(
        [
            (dt.date(2026, 3, 1), 10.0, 1.0),
            (dt.date(2026, 3, 1), 20.0, 3.0),
            (dt.date(2026, 3, 2), 5.0, 0.0),
        ],
        "date date, temp_c double, precipitation_mm double",
    )
    days = DayRange(dt.date(2026, 3, 1), dt.date(2026, 3, 3))
    got = events.transform(product_demand.product_demand_daily(days, prices, weather))
    assert [(f.name, f.dataType) for f in got.schema] == [(f.name, f.dataType) for f in product_demand.SCHEMA]
    rows = {(r["date"].day, r["product_id"]): r.asDict() for r in got.collect()}
    nan = float("nan")
    expected = {
        (1, "A"): ("toys", 1, 2, 6, math.log(10), 0.5, 10.0, 10.0, 15.0, 2.0),
        (2, "A"): ("toys", 2, 2, 4, (math.log(10) + math.log(12)) / 2, 0.0, 12.0, 10.0, 5.0, 0.0),
        (3, "A"): ("toys", 3, 0, 0, nan, nan, 12.0, 10.0, nan, nan),
        (1, "B"): ("books", 1, 1, 1, math.log(5), 0.0, 5.0, 4.0, 15.0, 2.0),
    }
    assert sorted(rows) == sorted(expected)
    columns = [f.name for f in product_demand.SCHEMA.fields if f.name not in ("date", "product_id")]
    for key, values in expected.items():
        for column, value in zip(columns, values, strict=True):
            if isinstance(value, float) and math.isnan(value):
                assert rows[key][column] is None, (key, column)
            elif isinstance(value, float):
                assert rows[key][column] == pytest.approx(value), (key, column)
            else:
                assert rows[key][column] == value, (key, column)

    no_weather = events.transform(product_demand.product_demand_daily(days, prices, None)).collect()
    assert len(no_weather) == 4 and all(
        r["temp_c"] is None and r["precipitation_mm"] is None for r in no_weather
    )
