"""Product sessions: customer days fan out into sessions, each planned as an ordered array of event
slots (event_lines.py turns the slots into events).

Everything is an explode of a computed array (`F.sequence` for sessions, an array of typed event slots
per session), so the volume scales with customers x days without any Python-side loop over data.

Behaviour planted here:
- activity follows engagement, the weekday and the weather, and declines over the 14 days before a
  customer's churn day, while support tickets rise;
- purchase quantities follow each category's demand curve (event_lines.py, `_quantity`);
- promo_view converts PROMO_LIFT times more often in the planted segment (city type x weekday x
  hours, a parameter; by default urban / Friday / 18-22 UTC);
- searches for one category in one country surge from the trend's start day.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse_sample import dims
from lakepulse_sample.customers import CANCEL_SHARE, default_parallelism, ipv4, plan_on_day
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import (
    count,
    hex_id,
    index_sql,
    pick,
    uniform,
    uniform_sql,
    weighted_index,
    weighted_index_sql,
)
from lakepulse_sample.scenario import PROMO_CONVERSION, PROMO_LIFT, Scenario

SESSIONS_PER_DAY = 0.5  # mean sessions of an average customer on an ordinary day
EXTRA_PAGE_VIEWS = 1.5
SEARCHES = 0.7
PROMO_VIEW_SHARE = 0.3
CART_SHARE = 0.35
EXTRA_CART_ITEMS = 0.6
CHECKOUT_SHARE = 0.6
FAVOURITE_SHARE = 0.4  # share of cart items and searches in the customer's favourite category
ANONYMOUS_SESSIONS = 0.12  # anonymous sessions per day, per customer
PRE_CHURN_DAYS = 14
PRE_CHURN_FLOOR = 0.25  # activity on the day before churn, relative to normal
SYMPTOM_TICKETS = 0.06  # daily chance of a support ticket in the 14 days before churn
EVENT_SPACING_S = 45  # seconds between events of a session (plus up to 30 s jitter)
HOME_IP_SHARE = 0.7


def customer_days(p: GenerateParams, weather: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """One row per customer and day from signup (or the first day) to churn (or the last day)."""

    def transform(customers: DataFrame) -> DataFrame:
        first = F.greatest(F.col("signup_day"), F.lit(0))
        last = F.least(F.lit(p.days - 1), F.coalesce(F.col("churn_day"), F.lit(p.days - 1)))
        u = lambda salt: uniform(p.seed, salt, "customer", "day")  # noqa: E731
        to_churn = F.col("churn_day") - F.col("day")
        declining = to_churn.between(1, PRE_CHURN_DAYS)
        decline = F.when(
            declining, PRE_CHURN_FLOOR + (1.0 - PRE_CHURN_FLOOR) * (to_churn - 1) / (PRE_CHURN_DAYS - 1)
        ).otherwise(F.lit(1.0))
        is_churn = F.coalesce(F.col("day") == F.col("churn_day"), F.lit(False))
        conditions = F.broadcast(weather.select("city_idx", "day", "weather_activity", "weather_quantity"))
        days = (
            customers.select(
                "customer",
                "customer_id",
                "signup_day",
                "city_idx",
                "plan",
                "plan_change_day",
                "new_plan",
                "fav_category_idx",
                "primary_device",
                "engagement",
                "ip_address",
                "issue_days",
                "churn_day",
                F.explode(F.sequence(first, last)).alias("day"),
            )  # fmt: skip
            .join(conditions, on=["city_idx", "day"], how="left")
            .withColumns(
                {
                    "dow": F.pmod(F.lit(p.start_weekday) + F.col("day"), F.lit(7)),
                    "is_churn_day": is_churn,
                    "cancel_event": is_churn & (u("cancel") < CANCEL_SHARE),
                    "ticket_event": ~is_churn
                    & (
                        F.array_contains("issue_days", F.col("day"))
                        | (F.coalesce(declining, F.lit(False)) & (u("symptom") < SYMPTOM_TICKETS))
                    ),
                    "signup_event": F.col("day") == F.col("signup_day"),
                    "activity": SESSIONS_PER_DAY
                    * F.exp(0.5 * F.col("engagement") - 0.125)
                    * pick(dims.DOW_ACTIVITY, f"pmod({p.start_weekday} + day, 7)")
                    * F.col("weather_activity")
                    * decline,
                }
            )
        )
        drawn = count(uniform_sql(p.seed, "sessions", "customer", "day"), "activity", 12)
        n_sessions = (
            F.when(F.col("is_churn_day"), F.col("cancel_event").cast("int"))
            .when(F.col("signup_event") | F.col("ticket_event"), F.greatest(drawn, F.lit(1)))
            .otherwise(drawn)
        )
        return days.withColumn("n_sessions", n_sessions)

    return transform


def customer_sessions(p: GenerateParams, cities: DataFrame) -> Callable[[DataFrame], DataFrame]:
    def transform(days: DataFrame) -> DataFrame:
        located = days.join(F.broadcast(cities), on="city_idx", how="left")
        return located.where(F.col("n_sessions") > 0).select(
            "customer",
            "customer_id",
            "day",
            F.explode(F.sequence(F.lit(0), F.col("n_sessions") - 1)).alias("s"),
            F.lit(False).alias("is_anon"),
            "city_idx",
            "country",
            "city_type",
            "city_lat",
            "city_lon",
            "primary_device",
            F.col("ip_address").alias("home_ip"),
            "fav_category_idx",
            "weather_quantity",
            "dow",
            "signup_event",
            "cancel_event",
            "ticket_event",
            F.col("plan").alias("signup_plan"),
            plan_on_day("day").alias("current_plan"),
        )

    return transform


def anonymous_sessions(spark: SparkSession, p: GenerateParams, cities: DataFrame) -> DataFrame:
    """Visitors who are not logged in: page views, searches and promo views only, no customer id."""
    per_day = max(1, round(ANONYMOUS_SESSIONS * p.customers))
    partitions = max(default_parallelism(spark), math.ceil(per_day * p.days / 500_000))
    cats = dims.categories(p.seed)
    raw = spark.range(0, per_day * p.days, 1, partitions).select(
        (-1 - F.col("id")).alias("customer"),
        (F.col("id") / per_day).cast("int").alias("day"),
    )
    u = lambda salt: uniform_sql(p.seed, salt, "customer")  # noqa: E731
    return (
        raw.withColumn("city_idx", weighted_index(u("anon_city"), [c.weight for c in dims.CITIES]))
        .join(F.broadcast(cities), on="city_idx", how="left")
        .select(
            "customer",
            F.lit(None).cast("string").alias("customer_id"),
            "day",
            F.lit(0).alias("s"),
            F.lit(True).alias("is_anon"),
            "city_idx",
            "country",
            "city_type",
            "city_lat",
            "city_lon",
            pick(dims.DEVICES, weighted_index_sql(u("anon_device"), dims.DEVICE_WEIGHTS)).alias(
                "primary_device"
            ),
            F.lit(None).cast("string").alias("home_ip"),
            weighted_index(u("anon_fav"), [c.weight for c in cats]).alias("fav_category_idx"),
            F.lit(1.0).alias("weather_quantity"),
            F.pmod(F.lit(p.start_weekday) + F.col("day"), F.lit(7)).alias("dow"),
            F.lit(False).alias("signup_event"),
            F.lit(False).alias("cancel_event"),
            F.lit(False).alias("ticket_event"),
            F.lit(None).cast("string").alias("signup_plan"),
            F.lit(None).cast("string").alias("current_plan"),
        )
    )


def _flag(condition: Column) -> Column:
    return F.when(condition, F.lit(1)).otherwise(F.lit(0))


# The order of events in a session, with the column that says how many of each there are.
SESSION_LAYOUT = (
    ("subscription_start", "n_start"),
    ("page_view", "n_pv"),
    ("search", "n_searches"),
    ("promo_view", "n_promo"),
    ("add_to_cart", "n_items"),
    ("checkout", "n_checkout"),
    ("purchase", "n_purchases"),
    ("support_ticket", "n_ticket"),
    ("subscription_cancel", "n_cancel"),
)


def offset(event_type: str) -> str:
    """SQL text of the position of the first event of `event_type` in its session."""
    before = [n for _, n in SESSION_LAYOUT[: [t for t, _ in SESSION_LAYOUT].index(event_type)]]
    return "(" + (" + ".join(before) or "0") + ")"


def with_session_plan(p: GenerateParams, scenario: Scenario) -> Callable[[DataFrame], DataFrame]:
    """Draws what happens in each session and lays it out as an ordered array of event slots."""

    def transform(sessions: DataFrame) -> DataFrame:
        return (
            sessions.withColumns(_session_draws(p, scenario))
            .transform(_with_conversions(p, scenario))
            .transform(_with_slots)
            .withColumns(_session_context(p))
        )

    return transform


def _u(p: GenerateParams, salt: str) -> Column:
    return uniform(p.seed, salt, "customer", "day", "s")


def _us(p: GenerateParams, salt: str) -> str:
    return uniform_sql(p.seed, salt, "customer", "day", "s")


def _cancel_only() -> Column:
    """The churn day's only session: the account page and the cancel."""
    return F.col("cancel_event")


def _shop() -> Column:
    return ~F.col("is_anon") & ~_cancel_only()


def _trend_mean(p: GenerateParams, scenario: Scenario) -> str:
    """SQL text of the mean of extra searches for the trend's category: (growth - 1) x its usual rate,
    growth rising linearly from 1 on the start day to `factor` on the last day."""
    trend = scenario.trend
    cats = dims.categories(p.seed)
    trend_share = cats[trend.category_idx].weight / sum(c.weight for c in cats)
    span = max(1, scenario.last_day - trend.start_day)
    growth = f"(1.0D + {trend.factor - 1.0!r}D * (day - {trend.start_day}) / {span})"
    return f"{SEARCHES * trend_share!r}D * ({growth} - 1.0D)"


def _session_draws(p: GenerateParams, scenario: Scenario) -> dict[str, Column]:
    """The session's start hour and how many of each ordinary event it holds."""
    trend = scenario.trend
    cancel_only = _cancel_only()
    in_trend = (F.col("country") == trend.country) & (F.col("day") >= trend.start_day)
    us = lambda salt: _us(p, salt)  # noqa: E731
    return {
        "hour": weighted_index(us("hour"), dims.HOUR_WEIGHTS),
        "n_pv": F.when(cancel_only, F.lit(1)).otherwise(1 + count(us("pv"), EXTRA_PAGE_VIEWS, 15)),
        "n_search": F.when(cancel_only, F.lit(0)).otherwise(count(us("search"), SEARCHES, 10)),
        "n_trend": F.when(in_trend & ~cancel_only, count(us("trend"), _trend_mean(p, scenario), 6)).otherwise(
            F.lit(0)
        ),
        "promo_view": ~cancel_only & (_u(p, "promo") < PROMO_VIEW_SHARE),
        "n_cart": F.when(
            _shop() & (_u(p, "cart") < CART_SHARE), 1 + count(us("n_cart"), EXTRA_CART_ITEMS, 8)
        ).otherwise(F.lit(0)),
    }


def _with_conversions(p: GenerateParams, scenario: Scenario) -> Callable[[DataFrame], DataFrame]:
    """Promo views convert (add an item and force the checkout), PROMO_LIFT times more often in the
    planted segment; other carts are checked out at CHECKOUT_SHARE."""
    promo = scenario.promo

    def transform(drawn: DataFrame) -> DataFrame:
        segment = (
            (F.col("city_type") == promo.city_type)
            & (F.col("dow") == promo.weekday)
            & F.col("hour").between(promo.hours[0], promo.hours[1] - 1)
        )
        converted = (
            _shop()
            & F.col("promo_view")
            & (_u(p, "convert") < PROMO_CONVERSION * F.when(segment, PROMO_LIFT).otherwise(1.0))
        )
        checkout = (F.col("n_cart") > 0) & (_u(p, "checkout") < CHECKOUT_SHARE)
        return drawn.withColumns({"in_segment": segment, "converted": converted}).withColumns(
            {
                "n_items": F.col("n_cart") + F.col("converted").cast("int"),
                "checkout": checkout | F.col("converted"),
            }
        )

    return transform


def _with_slots(planned: DataFrame) -> DataFrame:
    """The counts of each event type, then the ordered array of event slots (SESSION_LAYOUT)."""
    first = F.col("s") == 0
    counts = {
        "n_start": _flag(F.col("signup_event") & first),
        "n_searches": F.col("n_search") + F.col("n_trend"),
        "n_promo": _flag(F.col("promo_view")),
        "n_checkout": _flag(F.col("checkout")),
        "n_purchases": F.when(F.col("checkout"), F.col("n_items")).otherwise(F.lit(0)),
        "n_ticket": _flag(F.col("ticket_event") & first),
        "n_cancel": _flag(_cancel_only()),
    }
    slots = F.concat(*(F.array_repeat(F.lit(t), F.col(n)) for t, n in SESSION_LAYOUT))
    return planned.withColumns(counts).withColumn("slots", slots)


def _session_context(p: GenerateParams) -> dict[str, Column]:
    """Where, when and on what the session happens, and the day's flash promo code."""
    u = lambda salt: _u(p, salt)  # noqa: E731
    # Sessions stay inside their day: a late start is pulled back so that the last event is before midnight.
    longest = (F.size("slots") - 1) * EVENT_SPACING_S + 31
    start_second = F.least(F.col("hour") * 3600 + F.floor(u("second") * 3600), 86399 - longest)
    device = F.when(F.col("is_anon") | (u("same_device") < 0.8), F.col("primary_device")).otherwise(
        pick(dims.DEVICES, weighted_index_sql(_us(p, "device"), dims.DEVICE_WEIGHTS))
    )
    ip = F.when(~F.col("is_anon") & (u("home_ip") < HOME_IP_SHARE), F.col("home_ip")).otherwise(
        ipv4(p.seed, "session_ip", "customer", "day", "s")
    )
    return {
        "start_second": start_second.cast("long"),
        "device": device,
        "ip": ip,
        "session_id": F.concat(F.lit("s-"), hex_id(p.seed, "session", "customer", "day", "s")),
        "lat": F.round(F.col("city_lat") + (u("lat") - 0.5) * 0.12, 4),
        "lon": F.round(F.col("city_lon") + (u("lon") - 0.5) * 0.12, 4),
        "promo_of_day": pick(
            dims.FLASH_PROMO_CODES,
            index_sql(uniform_sql(p.seed, "flash", "day"), len(dims.FLASH_PROMO_CODES)),
        ),
    }
