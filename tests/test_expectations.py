"""The expectations layer: first-failure reasons, warn/drop/quarantine/fail, NULL semantics, key uniqueness.

Every expected value is worked out by hand (or by plain Python over the same rows), not by the layer.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from lakepulse.contracts.expectations import Expectation, apply_expectations, flag, mark_duplicates
from lakepulse.errors import DataQualityError

ROWS = [
    # id, price, qty, country
    (1, 10.0, 1, "FR"),
    (2, -1.0, 1, "FR"),  # negative price (quarantine)
    (3, None, 2, "DE"),  # price NULL: `price > 0` is NULL -> broken
    (4, 5.0, 0, "XX"),  # qty 0 (drop) and unknown country (warn): dropped first, warn not counted
    (5, 7.0, 3, "XX"),  # unknown country: warned, kept
    (6, -2.0, 0, "FR"),  # negative price and qty 0: the first declared rule wins
]
RULES = [
    Expectation("negative_price", "price > 0", "quarantine"),
    Expectation("zero_quantity", "qty >= 1", "drop"),
    Expectation("unknown_country", "country IN ('FR', 'DE')", "warn"),
]


@pytest.fixture
def df(spark):
    return spark.createDataFrame(ROWS, "id INT, price DOUBLE, qty INT, country STRING")


def test_first_broken_rule_names_the_reason_and_counts_reconcile(df):
    applied = apply_expectations(df, RULES, "test")
    quarantined = {r.id: r.reason for r in applied.quarantined.collect()}
    assert quarantined == {2: "negative_price", 3: "negative_price", 6: "negative_price"}
    assert sorted(r.id for r in applied.dropped.collect()) == [4]
    assert sorted(r.id for r in applied.valid.collect()) == [1, 5]
    assert applied.outcome.rows == len(ROWS)
    assert applied.outcome.failed == {"negative_price": 3, "zero_quantity": 1, "unknown_country": 1}
    # Every row is exactly one of valid, dropped or quarantined.
    assert applied.valid.count() + applied.dropped.count() + applied.quarantined.count() == len(ROWS)
    assert "_reason" not in applied.valid.columns and set(applied.valid.columns) == set(df.columns)


def test_fail_rule_raises_one_line_before_anything_is_returned(df):
    rules = [Expectation("price_present", "price IS NOT NULL", "fail")]
    with pytest.raises(DataQualityError) as err:
        apply_expectations(df, rules, "orders")
    message = str(err.value)
    assert "\n" not in message and "orders" in message and "price_present" in message and "1 row" in message


def test_rule_declarations_are_validated():
    with pytest.raises(ValueError, match="unknown action"):
        Expectation("x", "a > 0", "explode")
    with pytest.raises(ValueError, match="unique"):
        flag([Expectation("x", "a > 0"), Expectation("x", "b > 0")])


def test_duplicates_keep_the_first_row_in_a_deterministic_order(spark):
    rows = [
        ("k1", "b.json", "x"),
        ("k1", "a.json", "y"),
        ("k2", "a.json", "z"),
        (None, "a.json", "n1"),
        (None, "b.json", "n2"),
    ]
    df = spark.createDataFrame(rows, "key STRING, source_file STRING, raw STRING")
    marked = df.transform(mark_duplicates(["key"], ["source_file", "raw"])).collect()
    kept = {(r.key, r.raw) for r in marked if not r._duplicate}
    # Per key, the smallest (source_file, raw) survives; NULL keys compare equal.
    assert kept == {("k1", "y"), ("k2", "z"), (None, "n1")}
    assert sum(r._duplicate for r in marked) == 2


def test_flag_columns_do_not_leak_into_quarantine(df):
    applied = apply_expectations(df.where(F.col("id") <= 2), RULES, "test")
    assert set(applied.quarantined.columns) == {*df.columns, "reason"}
