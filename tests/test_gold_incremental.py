"""Incremental gold runs: day by day equals all at once, a rerun replaces its day, a day reads its window.

The silver fixture here spans 100 days (longer than the 90-day feature window) with few customers.
`gold.settle_days` holds back the newest silver days, so successive default runs (no --as-of, no
--from/--to) see silver grow by one day each, exactly as daily production runs would:
first settle 1 (every day but the newest), then 0 (the newest day alone, features starting from
the previous run's rows). The tables they leave behind are compared
with the independent oracles of the all-at-once tests (test_gold_features, test_gold_kpis), which the
all-at-once runs also match: day by day == oracle == all at once.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from tests import gold_fixtures as fx
from tests import test_gold_kpis as tk
from tests import test_gold_product_demand as tp
from tests.conftest import load_job, make_config
from tests.test_gold_features import oracle_features

FIRST = dt.date(2025, 10, 1)
DAYS = 100
LAST = FIRST + dt.timedelta(days=DAYS - 1)
SCALE = {"start": FIRST, "days": DAYS, "customers": 50}
KPI_TABLES = (
    "kpi_daily",
    "retention_cohorts",
    "market_signals",
    "promo_response",
    "cost_kpis_daily",
    "product_demand_daily",
)


def _job(name: str):
    return load_job(name).main


def _day(offset: int) -> dt.date:
    return FIRST + dt.timedelta(days=offset)


def _runs(home) -> list[dict]:
    path = home / "reports" / "gold" / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def grown(spark, tmp_path_factory):
    """A lake whose gold tables were built by successive default runs while silver 'grew'."""
    silver = fx.silver_lake(spark, tmp_path_factory, seed=11, **SCALE)
    home = tmp_path_factory.mktemp("incremental") / "home"
    fx.copy_silver(silver, home)
    features, kpis = _job("features"), _job("kpis")
    for settle in (1, 0):
        assert features(fx.job_args(home, "--set", f"gold.settle_days={settle}")) == 0
    for settle in (1, 0):
        assert (
            kpis(
                fx.job_args(
                    home, "--set", f"gold.settle_days={settle}", "--set", "gold.percentile_accuracy=20"
                )
            )
            == 0
        )
    return home, silver


def test_each_default_run_computes_only_the_days_not_yet_computed(grown):
    home, _ = grown
    runs = [(r["table"], r["from"], r["to"]) for r in _runs(home)]
    features = [r for r in runs if r[0] == "gold/customer_features"]
    assert features == [
        ("gold/customer_features", str(_day(1)), str(_day(DAYS - 1))),
        ("gold/customer_features", str(_day(DAYS)), str(_day(DAYS))),
    ]
    for table in KPI_TABLES:
        assert [r[1:] for r in runs if r[0] == f"gold/{table}"] == [
            (str(FIRST), str(_day(DAYS - 2))),
            (str(LAST), str(LAST)),
        ]


def test_an_incremental_day_reads_only_the_partitions_its_windows_need(spark, grown):
    home, _ = grown
    config = make_config(home)
    events_files = spark.read.format("delta").load(config.table_path("silver", "events")).inputFiles()
    assert len(events_files) == DAYS  # one file per day partition: counting files counts days

    def window(first: dt.date, last: dt.date) -> list[str]:
        return [str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]

    last_runs = {r["table"]: r for r in _runs(home)}  # the newest run of each table: one new day
    reads = {t: {r["table"]: r for r in run["reads"]} for t, run in last_runs.items()}
    as_of = _day(DAYS)
    events = reads["gold/customer_features"]["silver/events"]
    assert events["partitions"] == window(as_of - dt.timedelta(days=90), as_of - dt.timedelta(days=1))
    assert events["files"] == 90 < len(events_files)
    weather = reads["gold/customer_features"]["silver/weather"]
    assert (weather["from"], weather["to"]) == (
        str(as_of - dt.timedelta(days=7)),
        str(as_of - dt.timedelta(days=1)),
    )

    expected = {
        # monthly actives look back 29 days; churn labels H + A = 14
        "gold/kpi_daily": window(LAST - dt.timedelta(days=29), LAST),
        "gold/retention_cohorts": window(LAST.replace(day=1), LAST),  # the month so far
        "gold/market_signals": window(LAST - dt.timedelta(days=tk.R + tk.B - 1), LAST),
        "gold/promo_response": window(LAST - dt.timedelta(days=tk.W - 1), LAST),
        "gold/cost_kpis_daily": [str(LAST)],
        "gold/product_demand_daily": [str(LAST)],
    }
    for table, partitions in expected.items():
        assert reads[table]["silver/events"]["partitions"] == partitions, table
        assert reads[table]["silver/events"]["files"] == len(partitions) < len(events_files)
    for source in ("silver/billing", "silver/requests"):
        history = reads["gold/cost_kpis_daily"][source]
        assert history["partitions"] == window(LAST - dt.timedelta(days=tk.N_HISTORY), LAST)


def test_day_by_day_tables_equal_the_all_at_once_oracles(spark, grown):
    home, silver = grown
    con = fx.oracle(silver)
    got = [
        r.asDict()
        for r in spark.read.format("delta")
        .load(make_config(home).table_path("gold", "customer_features"))
        .collect()
    ]
    expected = oracle_features(con, _day(1), _day(DAYS))
    assert len(expected) > 4000
    fx.assert_same_rows(got, expected, keys=("as_of_date", "customer_key"))
    tk.check_kpi_daily(spark, home, con, FIRST, LAST)
    tk.check_retention_cohorts(spark, home, con, FIRST, LAST)
    tk.check_market_signals(spark, home, con, FIRST, LAST)
    tk.check_promo_response(spark, home, con, FIRST, LAST, ranked=False)  # 50 customers: too few to rank
    tk.check_cost_kpis(spark, home, con)
    tp.check_product_demand(spark, home, con, FIRST, LAST)


def test_rerunning_a_day_replaces_it_and_never_duplicates(spark, grown, tmp_path):
    home, _ = grown
    config = make_config(home)

    def snapshot():
        out = {}
        for table in KPI_TABLES:
            df = spark.read.format("delta").load(config.table_path("gold", table))
            out[table] = sorted((tuple(sorted(r.asDict().items())) for r in df.collect()), key=repr)
        return out

    def writes(table):
        history = spark.sql(f"DESCRIBE HISTORY delta.`{config.table_path('gold', table)}`")
        return history.filter(F.col("operation") == "WRITE").count()

    before, versions = snapshot(), {t: writes(t) for t in KPI_TABLES}
    assert _job("kpis")(fx.job_args(home, "--as-of", str(LAST), "--set", "gold.percentile_accuracy=20")) == 0
    after = snapshot()
    for table in KPI_TABLES:
        assert writes(table) == versions[table] + 1, table  # the day really was written again
        assert after[table] == before[table], table  # ... and replaced: same rows, none twice


def test_late_silver_rows_of_computed_days_reach_gold_on_the_next_default_runs(spark, grown):
    """Last test of the module: it changes the grown lake. Events merged into silver late, for a day gold
    computed long ago, are recomputed by the next default runs (no --from/--to), found through silver's
    change feed; the explicit --as-of run before (previous test) carried the record forward."""
    home, _ = grown
    config = make_config(home)
    events = config.table_path("silver", "events")
    late_day = _day(60)
    late = (
        spark.read.format("delta")
        .load(events)
        .where(F.col("event_date") == F.lit(late_day))
        .withColumn("event_id", F.concat(F.col("event_id"), F.lit("-late")))
    )
    assert late.count() > 20
    late.write.format("delta").mode("append").save(events)  # as refine inserts records that came late

    assert _job("features")(fx.job_args(home)) == 0
    assert _job("kpis")(fx.job_args(home, "--set", "gold.percentile_accuracy=20")) == 0
    newest = {r["table"]: (r["from"], r["to"]) for r in _runs(home)}
    assert newest["gold/customer_features"] == (str(late_day), str(_day(DAYS)))
    for table in KPI_TABLES:
        assert newest[f"gold/{table}"] == (str(late_day), str(LAST)), table

    con = fx.oracle(home / "lake")
    got = [
        r.asDict()
        for r in spark.read.format("delta").load(config.table_path("gold", "customer_features")).collect()
    ]
    fx.assert_same_rows(got, oracle_features(con, _day(1), _day(DAYS)), keys=("as_of_date", "customer_key"))
    tk.check_kpi_daily(spark, home, con, FIRST, LAST)
    tk.check_retention_cohorts(spark, home, con, FIRST, LAST)
    tk.check_market_signals(spark, home, con, FIRST, LAST)
    tk.check_promo_response(spark, home, con, FIRST, LAST, ranked=False)
    tk.check_cost_kpis(spark, home, con)
    tp.check_product_demand(spark, home, con, FIRST, LAST)

    # Nothing changed since: the next default runs compute nothing.
    runs_before = len(_runs(home))
    assert _job("kpis")(fx.job_args(home, "--set", "gold.percentile_accuracy=20")) == 0
    again = _runs(home)[runs_before:]
    assert len(again) == len(KPI_TABLES) and all(r["from"] is None for r in again)
