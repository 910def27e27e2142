"""One rule of each gold table, pinned on a few hand-written rows against values worked out by hand.

The table tests (test_gold_kpis, test_gold_features) compare whole tables with DuckDB oracles over a
four-week fixture: they say that a table is wrong, these say which step broke and why. Every expected
value below is planted in the test (arithmetic in the comments), never computed by the code under test.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from lakepulse.contracts import schemas
from lakepulse.gold import cost_kpis, customer_features, kpi_daily, market_signals, promo_response
from lakepulse.gold.planner import DayRange

DAY = dt.date(2026, 1, 10)
HISTORY_SCHEMA = schemas.nullable(schemas.SILVER_CUSTOMER_HISTORY)


def day(offset: int) -> dt.date:
    return DAY + dt.timedelta(days=offset)


def at(offset: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(hour))


def history_rows(spark, *states: dict):
    """customer_history rows: each state names what it changes, the rest is one fixed customer profile."""
    profile = {
        "signup_date": day(-60),
        "country": "FR",
        "city": "Paris",
        "city_type": "urban",
        "plan": "basic",
        "acquisition_channel": "organic",
        "age_band": "25-34",
    }
    rows = [{f.name: None for f in HISTORY_SCHEMA} | profile | state for state in states]
    return spark.createDataFrame(rows, HISTORY_SCHEMA)


# cost_kpis_daily


def test_cost_line_fits_cost_against_requests_on_the_history(spark):
    pairs = spark.createDataFrame(
        [
            # api: cost = 10 + 0.02 x requests exactly. n = 3, sx = 300, sy = 36, sxx = 50000, sxy = 4000:
            # slope = (3 x 4000 - 300 x 36) / (3 x 50000 - 300^2) = 1200 / 60000 = 0.02,
            # intercept = (36 - 0.02 x 300) / 3 = 10, median cost 12.
            ("api", DAY, 0.0, 10.0),
            ("api", DAY, 100.0, 12.0),
            ("api", DAY, 200.0, 14.0),
            # web: one traffic level, no slope to fit: slope 0, intercept = mean cost (5 + 7) / 2 = 6.
            ("web", DAY, 50.0, 5.0),
            ("web", DAY, 50.0, 7.0),
        ],
        "service STRING, date DATE, x DOUBLE, y DOUBLE",
    )
    expected = spark.createDataFrame(
        [("api", DAY, 3, 12.0, 0.02, 10.0), ("web", DAY, 2, 6.0, 0.0, 6.0)],
        "service STRING, date DATE, history_days INT, median_cost DOUBLE, slope DOUBLE, intercept DOUBLE",
    )
    assertDataFrameEqual(cost_kpis.cost_line(pairs), expected)


def test_cost_anomaly_flags_a_day_far_above_its_line_with_enough_history(spark):
    rows = spark.createDataFrame(
        [
            # expected cost 10 + 0.02 x 100 = 12, residual 8, scale max(1.4826 x 1, 0.05 x 12) = 1.4826.
            ("spike", Decimal("20"), 100, 10.0, 0.02, 1.0, 12.0, 7),
            # the same day with 3 days of history: scored, but too short a history to flag.
            ("short", Decimal("20"), 100, 10.0, 0.02, 1.0, 12.0, 3),
            # a perfectly regular history (mad 0): the scale floor 0.05 x 12 = 0.6, residual 0.3.
            ("regular", Decimal("12.3"), 100, 10.0, 0.02, 0.0, 12.0, 7),
            # no traffic at all (no request row): expected to cost its intercept, 10, which it does.
            ("idle", Decimal("10"), None, 10.0, 0.02, 0.5, 12.0, 7),
            # a new service: no line, no score, never flagged.
            ("new", Decimal("10"), 100, None, None, None, None, None),
        ],
        "service STRING, effective_cost DECIMAL(38,11), requests BIGINT, intercept DOUBLE, slope DOUBLE, "
        "mad DOUBLE, median_cost DOUBLE, history_days INT",
    )
    scored = rows.transform(cost_kpis.with_anomaly(min_history_days=5, threshold=3.5))
    expected = spark.createDataFrame(
        [
            ("spike", 8 / 1.4826, True),
            ("short", 8 / 1.4826, False),
            ("regular", 0.3 / 0.6, False),
            ("idle", 0.0, False),
            ("new", None, False),
        ],
        "service STRING, anomaly_score DOUBLE, is_anomaly BOOLEAN",
    )
    assertDataFrameEqual(scored.select("service", "anomaly_score", "is_anomaly"), expected)


# kpi_daily


def test_weekly_actives_count_a_customer_who_moves_in_one_country_per_day(spark):
    events = spark.createDataFrame(
        [("a", day(1)), ("a", day(3)), ("b", day(2)), ("b", day(2)), (None, day(2))],
        "customer_key STRING, event_date DATE",
    )
    # a lives in FR and moves to DE during day 3 (the state at the end of day 3 is DE); b stays in FR.
    history = history_rows(
        spark,
        {"customer_key": "a", "updated_at": at(-30)},
        {"customer_key": "a", "updated_at": at(3), "country": "DE"},
        {"customer_key": "b", "updated_at": at(-30)},
    )
    days = DayRange(day(1), day(4))
    actives = (
        events.transform(kpi_daily.active_covers)
        .transform(kpi_daily.cut_by_state(kpi_daily.customer_states(history)))
        .transform(kpi_daily.active_counts(days))
    )
    got = actives.filter(
        (F.col("dimension") == "country") & F.col("active_customers_weekly").isNotNull()
    ).select("date", "segment", "active_customers_weekly")
    # FR: a (active day 1, weekly until its move) and b (active day 2, weekly for 7 days);
    # DE: a from day 3 on. The anonymous event counts nowhere.
    expected = spark.createDataFrame(
        [
            (day(1), "FR", 1),
            (day(2), "FR", 2),
            (day(3), "FR", 1),
            (day(4), "FR", 1),
            (day(1), "DE", 0),
            (day(2), "DE", 0),
            (day(3), "DE", 1),
            (day(4), "DE", 1),
        ],
        "date DATE, segment STRING, active_customers_weekly BIGINT",
    )
    assertDataFrameEqual(got, expected)


# customer_features


def test_feature_windows_see_only_the_days_before_the_as_of_date(spark):
    def event(offset: int, kind: str, price: str | None = None, quantity: int | None = None) -> tuple:
        return (
            at(offset),
            day(offset),
            "a",
            f"s{offset}",
            kind,
            None,
            None,
            None,
            price and Decimal(price),
            quantity,
        )

    events = spark.createDataFrame(
        [
            event(-12, "purchase", "10.00", 1),
            event(-4, "search"),
            event(-1, "purchase", "5.50", 2),
            event(0, "search"),
            event(1, "purchase", "99.00", 1),  # on the last as-of date: in no row
        ],
        "event_ts TIMESTAMP, event_date DATE, customer_key STRING, session_id STRING, event_type STRING, "
        "promo_code STRING, category STRING, product_id STRING, unit_price DECIMAL(12,2), quantity INT",
    )
    # Plan basic -> premium during day -1 -> standard during day 0.
    history = history_rows(
        spark,
        {"customer_key": "a", "updated_at": at(-60)},
        {"customer_key": "a", "updated_at": at(-1), "plan": "premium"},
        {"customer_key": "a", "updated_at": at(0), "plan": "standard"},
    )
    prices = spark.createDataFrame([], schemas.SILVER_PRICES)
    rows = events.transform(customer_features.customer_daily(history, prices, day(-60))).transform(
        customer_features.customer_windows(DayRange(day(0), day(1)), history)
    )
    got = rows.select(
        "as_of_date",
        "plan",
        "events_7d",
        "events_30d",
        "purchases_7d",
        F.col("spend_7d").cast("decimal(18,2)").alias("spend_7d"),
        F.col("spend_30d").cast("decimal(18,2)").alias("spend_30d"),
        "plan_changes_total",
    )
    # As of day 0: 7d = days -7..-1 (search -4, purchase -1 of 2 x 5.50), 30d adds the purchase of -12;
    # the state at the end of day -1 (premium, one change). As of day 1: day 0's search joins both
    # windows, and day 0's change to standard is now known.
    expected = spark.createDataFrame(
        [
            (day(0), "premium", 2, 3, 1, Decimal("11.00"), Decimal("21.00"), 1),
            (day(1), "standard", 3, 4, 1, Decimal("11.00"), Decimal("21.00"), 2),
        ],
        "as_of_date DATE, plan STRING, events_7d BIGINT, events_30d BIGINT, purchases_7d BIGINT, "
        "spend_7d DECIMAL(18,2), spend_30d DECIMAL(18,2), plan_changes_total BIGINT",
    )
    assertDataFrameEqual(got, expected)


# market_signals


def test_trend_score_measures_recent_searches_in_standard_errors_of_the_baseline(spark):
    first = day(-4)
    windows = spark.createDataFrame(
        [
            # baseline days 1, 2, 3 searches: sum 6, squares 14, mean 2, variance 14/3 - 4 = 2/3;
            # recent 2 days with 10 searches: mean 5, ratio 5/2, score (5 - 2) / sqrt((2/3 + 2 + 1) / 2).
            (day(0), "books", "FR", 10, 6, 14),
            # no searches in the baseline: only the Poisson floor, score (2 - 0) / sqrt(1 / 2); a day
            # earlier, whose baseline starts before the first silver day.
            (day(-1), "toys", "DE", 4, 0, 0),
        ],
        "date DATE, category STRING, country STRING, searches_recent BIGINT, baseline_sum BIGINT, "
        "baseline_sumsq BIGINT",
    )
    scored = windows.transform(
        market_signals.trend_scores(recent_days=2, baseline_days=3, first_event_day=first)
    )
    expected = spark.createDataFrame(
        [
            ("books", 2.0, math.sqrt(2 / 3), 2.5, 3 / math.sqrt(11 / 6), True),
            ("toys", 0.0, 0.0, None, 2 / math.sqrt(1 / 2), False),
        ],
        "category STRING, baseline_daily_mean DOUBLE, baseline_daily_stddev DOUBLE, trend_ratio DOUBLE, "
        "trend_score DOUBLE, has_full_history BOOLEAN",
    )
    got = scored.select(
        "category",
        "baseline_daily_mean",
        "baseline_daily_stddev",
        "trend_ratio",
        "trend_score",
        "has_full_history",
    )
    assertDataFrameEqual(got, expected)


def test_trend_rank_is_per_day_among_cells_with_a_known_country_and_full_history(spark):
    scored = spark.createDataFrame(
        [
            (day(0), "books", "FR", 3.0, True),
            (day(0), "books", "DE", 3.0, True),  # a tie shares rank 1
            (day(0), "toys", "FR", 1.0, True),
            (day(0), "toys", "unknown", 5.0, True),
            (day(0), "garden", "DE", 9.0, False),
            (day(1), "garden", "DE", -1.0, True),
        ],
        "date DATE, category STRING, country STRING, trend_score DOUBLE, has_full_history BOOLEAN",
    )
    expected = spark.createDataFrame(
        [
            (day(0), "books", "FR", 1),
            (day(0), "books", "DE", 1),
            (day(0), "toys", "FR", 3),
            (day(0), "toys", "unknown", None),
            (day(0), "garden", "DE", None),
            (day(1), "garden", "DE", 1),
        ],
        "date DATE, category STRING, country STRING, trend_rank INT",
    )
    got = scored.transform(market_signals.trend_ranks).select("date", "category", "country", "trend_rank")
    assertDataFrameEqual(got, expected)


# promo_response


def test_promo_lift_compares_conversion_rates_over_the_window(spark):
    windows = spark.createDataFrame(
        [
            ("urban", 4, 2, 10, 1),  # promo 2/4 = 0.5, baseline 1/10 = 0.1: lift 5, uplift 0.4
            ("rural", 4, 1, 0, 0),  # no baseline session: no rate, no lift
        ],
        "city_type STRING, promo_sessions BIGINT, promo_conversions BIGINT, baseline_sessions BIGINT, "
        "baseline_conversions BIGINT",
    ).select(F.lit(day(0)).alias("date"), "*")
    expected = spark.createDataFrame(
        [
            ("urban", day(-6), 0.5, 0.1, 5.0, 0.4),
            ("rural", day(-6), 0.25, None, None, None),
        ],
        "city_type STRING, window_start DATE, promo_conversion_rate DOUBLE, baseline_conversion_rate DOUBLE, "
        "lift DOUBLE, uplift DOUBLE",
    )
    got = windows.transform(promo_response.promo_lift(window_days=7)).select(*expected.columns)
    assertDataFrameEqual(got, expected)


def test_the_normal_tail_matches_scipy_to_double_precision(spark):
    """Hart's rational approximation, in Spark expressions, against scipy's survival function."""
    from scipy.stats import norm

    zs = [-40.0, -8.0, -3.0, -1.0, -1e-9, 0.0, 0.3, 1.0, 1.6448536, 2.5, 4.0, 7.0, 7.1, 9.0, 20.0, 36.0, 38.0]
    frame = spark.createDataFrame([(z,) for z in zs], "z DOUBLE")
    got = frame.select("z", promo_response.normal_tail(F.col("z")).alias("p")).collect()
    for r in got:
        assert math.isclose(r.p, norm.sf(r.z), rel_tol=2e-8, abs_tol=1e-15), (r.z, r.p, norm.sf(r.z))


def test_response_tests_and_benjamini_hochberg_match_statsmodels(spark):
    """Per day: each tested segment's promo conversion against every other known segment's (pooled
    one-sided z-test, statsmodels' proportions_ztest), then BH over the tested segments of that day
    (statsmodels' multipletests); untested segments (too few sessions, unknown city) are references only."""
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    rows = [  # date, city_type, hour, promo sessions, promo conversions, baseline sessions
        (day(0), "urban", 18, 40, 12, 40),  # 30% against about 6% elsewhere: responsive
        (day(0), "urban", 19, 50, 3, 50),
        (day(0), "urban", 12, 200, 10, 200),
        (day(0), "urban", 9, 60, 4, 60),
        (day(0), "rural", 9, 30, 2, 30),
        (day(0), "rural", 18, 25, 3, 30),
        (day(0), "urban", 3, 5, 5, 30),  # too few promo sessions: not tested, but counted in the others
        (day(0), "unknown", 12, 80, 0, 80),  # anonymous: neither tested nor a reference
        (day(1), "urban", 18, 20, 1, 20),
        (day(1), "rural", 18, 20, 1, 20),  # identical rates: z = 0, p = 0.5
    ]
    frame = spark.createDataFrame(
        [(d, c, "Friday", h, n, k, b, 0, 1.0, 0.0) for d, c, h, n, k, b in rows],
        "date DATE, city_type STRING, weekday STRING, hour INT, promo_sessions BIGINT, promo_conversions BIGINT, "
        "baseline_sessions BIGINT, baseline_conversions BIGINT, lift DOUBLE, baseline_conversion_rate DOUBLE",
    ).withColumn("promo_conversion_rate", F.col("promo_conversions") / F.col("promo_sessions"))
    got = {
        (r.date, r.city_type, r.hour): r
        for r in frame.transform(promo_response.response_tests(min_sessions=20))
        .transform(promo_response.false_discovery(fdr=0.05))
        .collect()
    }
    for date in (day(0), day(1)):
        known = [r for r in rows if r[0] == date and r[1] != "unknown"]
        tested = [r for r in known if r[3] >= 20]
        p_values = []
        for d, c, h, n, k, _ in tested:
            others_n = sum(r[3] for r in known) - n
            others_k = sum(r[4] for r in known) - k
            z, p = proportions_ztest([k, others_k], [n, others_n], alternative="larger")
            row = got[(d, c, h)]
            assert math.isclose(row.z_score, z, rel_tol=1e-9, abs_tol=1e-12), (d, c, h)
            assert math.isclose(row.p_value, p, rel_tol=2e-8, abs_tol=1e-15), (d, c, h)
            assert math.isclose(row.others_promo_conversion_rate, others_k / others_n, rel_tol=1e-12)
            p_values.append(p)
        reject, q, _, _ = multipletests(p_values, alpha=0.05, method="fdr_bh")
        for (d, c, h, *_), q_i, r_i in zip(tested, q, reject, strict=True):
            assert math.isclose(got[(d, c, h)].q_value, q_i, rel_tol=1e-7), (d, c, h)
            assert got[(d, c, h)].responsive == bool(r_i)
    assert got[(day(0), "urban", 18)].responsive and not got[(day(0), "urban", 9)].responsive
    assert got[(day(1), "urban", 18)].p_value == 0.5
    for key in ((day(0), "urban", 3), (day(0), "unknown", 12)):
        assert got[key].p_value is None and got[key].q_value is None and got[key].responsive is None


def test_lift_rank_puts_responsive_segments_first_then_ranks_by_lift(spark):
    tested = spark.createDataFrame(
        [
            (day(0), "urban", 18, 1.5, 0.001, True),
            (day(0), "urban", 19, 1.5, 0.002, True),  # a tie shares rank 1
            (day(0), "rural", 9, 1.2, 0.01, True),
            (day(0), "rural", 3, 9.0, 0.3, False),  # higher lift, but not responsive: after them
            (day(0), "urban", 9, 0.4, 0.9, False),
            (day(0), "unknown", 12, 5.0, None, None),  # not tested: no rank
            (day(1), "urban", 18, 0.5, 0.5, False),  # nothing responsive: ranked by lift
        ],
        "date DATE, city_type STRING, hour INT, lift DOUBLE, p_value DOUBLE, responsive BOOLEAN",
    )
    expected = spark.createDataFrame(
        [
            (day(0), "urban", 18, 1),
            (day(0), "urban", 19, 1),
            (day(0), "rural", 9, 3),
            (day(0), "rural", 3, 4),
            (day(0), "urban", 9, 5),
            (day(0), "unknown", 12, None),
            (day(1), "urban", 18, 1),
        ],
        "date DATE, city_type STRING, hour INT, lift_rank INT",
    )
    got = tested.transform(promo_response.lift_ranks).select("date", "city_type", "hour", "lift_rank")
    assertDataFrameEqual(got, expected)
