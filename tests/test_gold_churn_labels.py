"""gold/churn_labels against an independent DuckDB computation: built by successive default runs of the
features job while silver "grows", reading only the days a label's look-back and horizon need, and
recomputed back to every label date whose horizon a late silver event falls in."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from tests import gold_fixtures as fx
from tests.conftest import load_job, make_config

H = A = 7  # churn horizon and active days (fx.GOLD_OVERRIDES)
FIRST_LABEL = fx.START + dt.timedelta(days=A)
LAST_LABEL = fx.END - dt.timedelta(days=H - 1)
LABELS = ("--tables", "churn_labels")


def oracle_labels(con, first: dt.date, last: dt.date) -> list[dict]:
    """The documented label in SQL: active = an event in [D - A, D); churned = a cancel, or no event at
    all, in [D, D + H)."""
    return fx.rows(
        con,
        f"""
        WITH ev AS (SELECT customer_key, event_date, event_type FROM events WHERE customer_key IS NOT NULL),
        dates AS (
            SELECT CAST(d AS DATE) AS label_date
            FROM range(DATE '{first}', DATE '{last}' + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
        )
        SELECT e.customer_key, d.label_date,
               count(*) FILTER (WHERE e.event_date >= d.label_date) = 0
                 OR count(*) FILTER (WHERE e.event_date >= d.label_date
                                       AND e.event_type = 'subscription_cancel') > 0 AS churned,
               count(*) FILTER (WHERE e.event_date >= d.label_date
                                  AND e.event_type = 'subscription_cancel') > 0 AS cancelled
        FROM dates d JOIN ev e ON e.event_date >= d.label_date - {A} AND e.event_date < d.label_date + {H}
        GROUP BY e.customer_key, d.label_date
        HAVING count(*) FILTER (WHERE e.event_date < d.label_date) > 0
        """,
    )


def _runs(home) -> list[dict]:
    path = home / "reports" / "gold" / "runs.jsonl"
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["table"] == "gold/churn_labels"]


def _labels(spark, home) -> list[dict]:
    path = make_config(home).table_path("gold", "churn_labels")
    return [r.asDict() for r in spark.read.format("delta").load(path).collect()]


def _days(first: dt.date, last: dt.date) -> list[str]:
    return [str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def grown(spark, tmp_path_factory):
    """Labels built by two default runs: silver without its newest 3 days, then all of it."""
    home = tmp_path_factory.mktemp("churn-labels") / "home"
    fx.copy_silver(fx.silver_lake(spark, tmp_path_factory), home)
    features = load_job("features").main
    for settle in (3, 0):
        assert features(fx.job_args(home, "--set", f"gold.settle_days={settle}", *LABELS)) == 0
    return home


def test_default_runs_label_each_date_once_reading_only_its_window(grown):
    runs = _runs(grown)
    split = LAST_LABEL - dt.timedelta(days=3)
    assert [(r["from"], r["to"]) for r in runs] == [
        (str(FIRST_LABEL), str(split)),
        (str(split + dt.timedelta(days=1)), str(LAST_LABEL)),
    ]
    (events,) = [r for r in runs[-1]["reads"] if r["table"] == "silver/events"]
    first = split + dt.timedelta(days=1)
    assert events["partitions"] == _days(first - dt.timedelta(days=A), LAST_LABEL + dt.timedelta(days=H - 1))


def test_labels_match_the_independent_oracle(spark, grown):
    expected = oracle_labels(fx.oracle(grown / "lake"), FIRST_LABEL, LAST_LABEL)
    assert any(r["churned"] for r in expected) and not all(r["churned"] for r in expected)
    assert any(r["cancelled"] for r in expected)
    fx.assert_same_rows(_labels(spark, grown), expected, keys=("label_date", "customer_key"))


def test_a_late_event_reaches_every_label_date_whose_horizon_holds_it(spark, grown):
    """Last test of the module: it changes the lake. An activity merged into silver late on day L turns
    'churned (went quiet)' into 'stayed' for label dates before L, down to L - H + 1; the next default run
    recomputes from there (the change feed says which day changed) and the table matches the oracle."""
    late_day = fx.START + dt.timedelta(days=14)
    before = _labels(spark, grown)
    quiet = {
        r["customer_key"]
        for r in before
        if r["label_date"] == late_day - dt.timedelta(days=H - 1) and r["churned"] and not r["cancelled"]
    }
    assert quiet  # the fixture's churners who went quiet without cancelling
    path = make_config(grown).table_path("silver", "events")
    events = spark.read.format("delta").load(path)
    one_each = Window.partitionBy("customer_key").orderBy(F.col("event_ts").desc())
    late = (
        events.filter(F.col("customer_key").isin(*quiet))
        .withColumn("n", F.row_number().over(one_each))
        .filter("n = 1")
        .withColumn("event_id", F.concat(F.col("event_id"), F.lit("-late")))
        .withColumn("event_type", F.lit("page_view"))
        .withColumn("event_date", F.lit(late_day))
        .withColumn("event_ts", F.to_timestamp(F.lit(f"{late_day} 12:00:00")))
        .select(*events.columns)
    )
    late.write.format("delta").mode("append").save(path)  # as refine inserts records that came late

    assert load_job("features").main(fx.job_args(grown, *LABELS)) == 0
    assert (_runs(grown)[-1]["from"], _runs(grown)[-1]["to"]) == (
        str(late_day - dt.timedelta(days=H - 1)),
        str(LAST_LABEL),
    )
    after = _labels(spark, grown)
    flipped = {
        r["customer_key"]
        for r in after
        if r["label_date"] == late_day - dt.timedelta(days=H - 1) and not r["churned"]
    }
    assert quiet <= flipped
    expected = oracle_labels(fx.oracle(grown / "lake"), FIRST_LABEL, LAST_LABEL)
    fx.assert_same_rows(after, expected, keys=("label_date", "customer_key"))
