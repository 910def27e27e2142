"""The gold tables: how each is built from the silver it reads, and which job writes it.

Each `build_*` reads its inputs through the `Context` (only the partitions its days need) and composes
the pure transforms of its module; `FEATURE_TABLES` and `KPI_TABLES` are what `features` and `kpis` run.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import DataFrame

from lakepulse.gold import (
    churn_label,
    cost_kpis,
    customer_features,
    kpi_daily,
    market_signals,
    product_demand,
    promo_response,
    retention_cohorts,
)
from lakepulse.gold.context import Context, Table
from lakepulse.gold.planner import DayRange
from lakepulse.runtime import delta_io

log = logging.getLogger("lakepulse.gold")


def _days_before(days: DayRange, before: int | None, first: dt.date) -> DayRange:
    """`days` widened by `before` days (None: from silver's first day), never before that day."""
    if before is None:
        return DayRange(min(first, days.start), days.end)
    return DayRange(max(first, days.start - dt.timedelta(days=before)), days.end)


def build_customer_features(ctx: Context, days: DayRange) -> DataFrame:
    first = ctx.bounds("events")[0]
    seed_day = days.start - dt.timedelta(days=1)
    seed = ctx.gold_day("customer_features", "as_of_date", seed_day) if seed_day > first else None
    lifetime_from = seed_day if seed is not None else first
    window = DayRange(
        max(first, min(lifetime_from, days.start - dt.timedelta(days=customer_features.LOOKBACK_DAYS))),
        days.end - dt.timedelta(days=1),
    )
    needs = customer_features.NEEDS
    weather_days = DayRange(days.start - dt.timedelta(days=customer_features.WEATHER_DAYS), window.end)
    return ctx.read("events", needs["events"], window).transform(
        customer_features.customer_features(
            days,
            history=ctx.read("customer_history", needs["customer_history"]),
            prices=ctx.read("prices", needs["prices"]),
            weather=ctx.read("weather", needs["weather"], weather_days),
            seed=seed,
            lifetime_from=lifetime_from,
        )
    )


def build_kpi_daily(ctx: Context, days: DayRange) -> DataFrame:
    gold = ctx.config.gold
    first = ctx.bounds("events")[0]
    lookback = kpi_daily.lookback_days(gold.churn_horizon_days, gold.churn_active_days)
    return ctx.read("events", kpi_daily.NEEDS["events"], _days_before(days, lookback, first)).transform(
        kpi_daily.kpi_daily(
            days,
            ctx.read("customer_history", kpi_daily.NEEDS["customer_history"]),
            gold.churn_horizon_days,
            gold.churn_active_days,
            first,
        )
    )


def build_retention_cohorts(ctx: Context, days: DayRange) -> DataFrame:
    months = retention_cohorts.month_range(days)
    needs = retention_cohorts.NEEDS
    return ctx.read("events", needs["events"], months).transform(
        retention_cohorts.retention_cohorts(months, ctx.read("customers", needs["customers"]))
    )


def build_market_signals(ctx: Context, days: DayRange) -> DataFrame:
    gold = ctx.config.gold
    first = ctx.bounds("events")[0]
    lookback = market_signals.lookback_days(gold.trend_recent_days, gold.trend_baseline_days)
    needs = market_signals.NEEDS
    return ctx.read("events", needs["events"], _days_before(days, lookback, first)).transform(
        market_signals.market_signals(
            days,
            ctx.read("customer_history", needs["customer_history"]),
            gold.trend_recent_days,
            gold.trend_baseline_days,
            first,
        )
    )


def build_promo_response(ctx: Context, days: DayRange) -> DataFrame:
    gold = ctx.config.gold
    first = ctx.bounds("events")[0]
    needs = promo_response.NEEDS
    return ctx.read(
        "events", needs["events"], _days_before(days, gold.promo_window_days - 1, first)
    ).transform(
        promo_response.promo_response(
            days,
            ctx.read("customer_history", needs["customer_history"]),
            gold.promo_window_days,
            gold.promo_min_sessions,
            gold.promo_fdr,
        )
    )


def build_cost_kpis(ctx: Context, days: DayRange) -> DataFrame:
    gold = ctx.config.gold
    needs = cost_kpis.NEEDS
    history = days.widen(before=gold.anomaly_history_days)
    return ctx.read("billing", needs["billing"], history).transform(
        cost_kpis.cost_kpis(
            days,
            requests=ctx.read("requests", needs["requests"], history),
            events=ctx.read("events", needs["events"], days),
            history_days=gold.anomaly_history_days,
            min_history_days=gold.anomaly_min_history_days,
            threshold=gold.anomaly_threshold,
            accuracy=gold.percentile_accuracy,
        )
    )


def build_product_demand(ctx: Context, days: DayRange) -> DataFrame:
    needs = product_demand.NEEDS
    weather = None
    if delta_io.is_delta(ctx.spark, ctx.silver_path("weather")):
        weather = ctx.read("weather", needs["weather"], days)
    else:
        log.warning("gold/product_demand_daily: no silver/weather table, weather controls left null")
    prices = ctx.read("prices", needs["prices"])
    return ctx.read("events", needs["events"], days).transform(
        product_demand.product_demand_daily(days, prices, weather)
    )


FEATURE_TABLES = (
    Table(
        "customer_features",
        "as_of_date",
        ("events",),
        build_customer_features,
        first_offset=1,
        last_offset=1,
        partition_by=("as_of_date",),
    ),
    Table(
        "churn_labels",
        "label_date",
        ("events",),
        churn_label.build,
        partition_by=("label_date",),
        window=churn_label.offsets,
    ),
)
KPI_TABLES = (
    Table("kpi_daily", "date", ("events",), build_kpi_daily),
    Table(
        "retention_cohorts",
        "activity_month",
        ("events",),
        build_retention_cohorts,
        done_column="through_date",
        replace=retention_cohorts.replace_predicate,
    ),
    Table("market_signals", "date", ("events",), build_market_signals),
    Table("promo_response", "date", ("events",), build_promo_response),
    Table("cost_kpis_daily", "date", ("billing", "requests", "events"), build_cost_kpis),
    Table("product_demand_daily", "date", ("events",), build_product_demand),
)
