"""Product events: customer days fan out into sessions, sessions into ordered events.

Everything is an explode of a computed array (`F.sequence` for sessions, an array of typed event slots
per session), so the volume scales with customers x days without any Python-side loop over data.

Behaviour planted here:
- activity follows engagement, the weekday and the weather, and declines over the 14 days before a
  customer's churn day, while support tickets rise;
- purchase quantities follow each category's demand curve (see `_quantity`);
- promo_view converts PROMO_LIFT times more often in the urban / Friday-evening segment;
- searches for one category in one country surge from the trend's start day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

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
from lakepulse_sample.scenario import (
    PROMO_CONVERSION,
    PROMO_LIFT,
    SEGMENT_CITY_TYPE,
    SEGMENT_HOURS,
    SEGMENT_WEEKDAY,
    Scenario,
)

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

# The JSON field order of an event line (to_json drops null fields: absent when not applicable).
EVENT_JSON_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_ts", T.StringType()),
        T.StructField("customer_id", T.StringType()),
        T.StructField("session_id", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("device", T.StringType()),
        T.StructField("lat", T.DoubleType()),
        T.StructField("lon", T.DoubleType()),
        T.StructField("promo_code", T.StringType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("unit_price", T.DecimalType(12, 2)),
        T.StructField("quantity", T.IntegerType()),
        T.StructField("currency", T.StringType()),
        T.StructField("search_query", T.StringType()),
        T.StructField("page", T.StringType()),
        T.StructField("plan", T.StringType()),
        T.StructField("ticket_topic", T.StringType()),
        T.StructField("app_version", T.StringType()),
    ]
)


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


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


def _offset(event_type: str) -> str:
    """SQL text of the position of the first event of `event_type` in its session."""
    before = [n for _, n in SESSION_LAYOUT[: [t for t, _ in SESSION_LAYOUT].index(event_type)]]
    return "(" + (" + ".join(before) or "0") + ")"


def with_session_plan(p: GenerateParams, scenario: Scenario) -> Callable[[DataFrame], DataFrame]:
    """Draws what happens in each session and lays it out as an ordered array of event slots."""
    trend = scenario.trend
    cats = dims.categories(p.seed)
    trend_share = cats[trend.category_idx].weight / sum(c.weight for c in cats)
    span = max(1, scenario.last_day - trend.start_day)

    def transform(sessions: DataFrame) -> DataFrame:
        u = lambda salt: uniform(p.seed, salt, "customer", "day", "s")  # noqa: E731
        us = lambda salt: uniform_sql(p.seed, salt, "customer", "day", "s")  # noqa: E731
        cancel_only = F.col("cancel_event")  # the churn day's only session: the account page and the cancel
        first = F.col("s") == 0
        # extra searches for the trend's category: (growth - 1) x its usual rate, growth rising linearly
        # from 1 on the start day to `factor` on the last day
        growth = f"(1.0D + {trend.factor - 1.0!r}D * (day - {trend.start_day}) / {span})"
        trend_mean = f"{SEARCHES * trend_share!r}D * ({growth} - 1.0D)"
        in_trend = (F.col("country") == trend.country) & (F.col("day") >= trend.start_day)
        hour = weighted_index(us("hour"), dims.HOUR_WEIGHTS)
        segment = (
            (F.col("city_type") == SEGMENT_CITY_TYPE)
            & (F.col("dow") == SEGMENT_WEEKDAY)
            & F.col("hour").between(SEGMENT_HOURS[0], SEGMENT_HOURS[1] - 1)
        )
        shop = ~F.col("is_anon") & ~cancel_only
        drawn = sessions.withColumns(
            {
                "hour": hour,
                "n_pv": F.when(cancel_only, F.lit(1)).otherwise(1 + count(us("pv"), EXTRA_PAGE_VIEWS, 15)),
                "n_search": F.when(cancel_only, F.lit(0)).otherwise(count(us("search"), SEARCHES, 10)),
                "n_trend": F.when(in_trend & ~cancel_only, count(us("trend"), trend_mean, 6)).otherwise(
                    F.lit(0)
                ),
                "promo_view": ~cancel_only & (u("promo") < PROMO_VIEW_SHARE),
                "n_cart": F.when(
                    shop & (u("cart") < CART_SHARE), 1 + count(us("n_cart"), EXTRA_CART_ITEMS, 8)
                ).otherwise(F.lit(0)),
            }
        )
        converted = (
            shop
            & F.col("promo_view")
            & (u("convert") < PROMO_CONVERSION * F.when(segment, PROMO_LIFT).otherwise(1.0))
        )
        planned = drawn.withColumns({"in_segment": segment, "converted": converted}).withColumns(
            {
                "n_items": F.col("n_cart") + F.col("converted").cast("int"),
                "checkout": ((F.col("n_cart") > 0) & (u("checkout") < CHECKOUT_SHARE)) | F.col("converted"),
            }
        )
        counts = {
            "n_start": _flag(F.col("signup_event") & first),
            "n_searches": F.col("n_search") + F.col("n_trend"),
            "n_promo": _flag(F.col("promo_view")),
            "n_checkout": _flag(F.col("checkout")),
            "n_purchases": F.when(F.col("checkout"), F.col("n_items")).otherwise(F.lit(0)),
            "n_ticket": _flag(F.col("ticket_event") & first),
            "n_cancel": _flag(cancel_only),
        }
        slots = F.concat(*(F.array_repeat(F.lit(t), F.col(n)) for t, n in SESSION_LAYOUT))
        planned = planned.withColumns(counts).withColumn("slots", slots)
        # Sessions stay inside their day: a late start is pulled back so that the last event is before midnight.
        longest = (F.size("slots") - 1) * EVENT_SPACING_S + 31
        start_second = F.least(F.col("hour") * 3600 + F.floor(u("second") * 3600), 86399 - longest)
        device = F.when(F.col("is_anon") | (u("same_device") < 0.8), F.col("primary_device")).otherwise(
            pick(dims.DEVICES, weighted_index_sql(us("device"), dims.DEVICE_WEIGHTS))
        )
        ip = F.when(~F.col("is_anon") & (u("home_ip") < HOME_IP_SHARE), F.col("home_ip")).otherwise(
            ipv4(p.seed, "session_ip", "customer", "day", "s")
        )
        return planned.withColumns(
            {
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
        )

    return transform


def to_events(
    p: GenerateParams, scenario: Scenario, daily_prices: DataFrame
) -> Callable[[DataFrame], DataFrame]:
    """One row per event with its JSON line (`line`) and the typed fields the logs are derived from."""
    cats = dims.categories(p.seed)
    queries = (
        "array(" + ", ".join("array(" + ", ".join(f"'{q}'" for q in c.queries) + ")" for c in cats) + ")"
    )
    names = [c.name for c in cats]
    weights = [c.weight for c in cats]
    day0_ms = _epoch_ms(p.start)

    def transform(sessions: DataFrame) -> DataFrame:
        ev = sessions.select("*", F.posexplode("slots").alias("pos", "event_type"))
        # `item`: the index of an event among those of its type in the session (cart line, search)
        item = " ".join(f"WHEN '{t}' THEN pos - {_offset(t)}" for t in ("search", "add_to_cart", "purchase"))
        ev = ev.withColumn("item", F.expr(f"CASE event_type {item} ELSE pos END"))
        per_event = lambda salt: uniform_sql(p.seed, salt, "customer", "day", "s", "pos")  # noqa: E731
        per_item = lambda salt: uniform_sql(p.seed, salt, "customer", "day", "s", "item")  # noqa: E731
        ts_ms = F.expr(
            f"{day0_ms} + CAST(day AS BIGINT) * 86400000"
            f" + (start_second + pos * {EVENT_SPACING_S} + floor({per_event('gap')} * 30)) * 1000"
            f" + floor({per_event('ms')} * 1000)"
        )
        is_item = F.col("event_type").isin("add_to_cart", "purchase")
        promo_item = F.col("converted") & (F.col("item") == F.col("n_items") - 1)
        category_idx = F.expr(
            f"CASE WHEN event_type IN ('add_to_cart', 'purchase') THEN"
            f" CASE WHEN {per_item('item_fav')} < {FAVOURITE_SHARE!r}D THEN fav_category_idx"
            f" ELSE {weighted_index_sql(per_item('item_category'), weights)} END"
            f" WHEN event_type = 'search' THEN"
            f" CASE WHEN item >= n_search THEN {scenario.trend.category_idx}"  # the trend's extra searches
            f" WHEN {per_item('search_fav')} < 0.5D THEN fav_category_idx"
            f" ELSE {weighted_index_sql(per_item('search_category'), weights)} END END"
        )
        product_idx = F.expr(
            f"CASE WHEN event_type IN ('add_to_cart', 'purchase') THEN category_idx * {dims.PRODUCTS_PER_CATEGORY}"
            f" + {index_sql(per_item('product'), dims.PRODUCTS_PER_CATEGORY)} END"
        )
        prices = F.broadcast(daily_prices.select("product_idx", "day", "product_id", "unit_price"))
        ev = (
            ev.withColumns({"ts_ms": ts_ms, "category_idx": category_idx, "promo_item": promo_item})
            .withColumn("product_idx", product_idx)
            .join(prices, on=["product_idx", "day"], how="left")
        )
        query_list = f"element_at({queries}, category_idx + 1)"
        search_query = F.expr(
            f"element_at({query_list}, {index_sql(per_item('query'), f'size({query_list})')} + 1)"
        )
        ticket_topic = pick(dims.TICKET_TOPICS, weighted_index_sql(per_event("topic"), dims.TICKET_WEIGHTS))
        app_version = F.when(
            (F.col("day") >= scenario.app_version_day) & (F.col("device") != "desktop"),
            pick(
                dims.APP_VERSIONS,
                f"CAST({uniform_sql(p.seed, 'app_version', 'customer', 'day')} < 0.5D AS INT)",
            ),
        )
        typed = ev.select(
            F.concat(
                F.lit("e-"),
                hex_id(p.seed, "event", "customer", "day", "s", "pos"),
                F.lit("-"),
                hex_id(p.seed, "event_check", "customer", "day", "s", "pos", chars=4),
            ).alias("event_id"),
            "day",
            "ts_ms",
            F.date_format(F.timestamp_millis("ts_ms"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("event_ts"),
            "customer_id",
            "session_id",
            "event_type",
            "device",
            "ip",
            "lat",
            "lon",
            F.when(F.col("event_type") == "promo_view", F.col("promo_of_day"))
            .when(is_item & F.col("promo_item"), F.col("promo_of_day"))
            .alias("promo_code"),
            F.when(is_item, F.col("product_id")).alias("product_id"),
            F.when(is_item | (F.col("event_type") == "search"), pick(names, "category_idx")).alias(
                "category"
            ),
            F.when(is_item, F.col("unit_price")).alias("unit_price"),
            F.when(is_item, _quantity(p, cats)).alias("quantity"),
            F.when(is_item, F.lit("EUR")).alias("currency"),
            F.when(F.col("event_type") == "search", search_query).alias("search_query"),
            F.when(F.col("event_type") == "page_view", _page(p, names)).alias("page"),
            F.when(F.col("event_type") == "subscription_start", F.col("signup_plan"))
            .when(F.col("event_type") == "subscription_cancel", F.col("current_plan"))
            .alias("plan"),
            F.when(F.col("event_type") == "support_ticket", ticket_topic).alias("ticket_topic"),
            app_version.alias("app_version"),
        )
        fields = ", ".join(
            f"'{f.name}', CAST({f.name} AS {f.dataType.simpleString()})" for f in EVENT_JSON_SCHEMA.fields
        )
        return typed.withColumn("line", F.expr(f"to_json(named_struct({fields}))"))

    return transform


def _quantity(p: GenerateParams, cats: tuple[dims.Category, ...]) -> Column:
    """Units per purchase: mean base_quantity * (price / base_price)^elasticity * weekday * weather *
    promo multipliers * (1 +- QUANTITY_NOISE), rounded up or down at random so that the mean is exact.

    Randomised rounding keeps the draw integer without the floor that a Poisson draw would need (zero
    units is not a purchase), so a log-log fit of quantity on price recovers the elasticity.
    """
    item_key = ("customer", "day", "s", "item")
    elasticity = pick([c.elasticity for c in cats], "category_idx")
    base_price = pick([c.base_price for c in cats], "category_idx")
    base_quantity = pick([c.base_quantity for c in cats], "category_idx")
    noise = 1.0 + dims.QUANTITY_NOISE * (2.0 * uniform(p.seed, "quantity_noise", *item_key) - 1.0)
    mean = (
        base_quantity
        * F.pow(F.col("unit_price").cast("double") / base_price, elasticity)
        * pick(dims.DOW_QUANTITY, "dow")
        * F.col("weather_quantity")
        * F.when(F.col("promo_item"), dims.PROMO_QUANTITY).otherwise(1.0)
        * noise
    )
    return F.greatest(F.lit(1), F.floor(mean + uniform(p.seed, "quantity_round", *item_key)).cast("int"))


def _page(p: GenerateParams, names: list[str]) -> Column:
    u = uniform(p.seed, "page", "customer", "day", "s", "pos")
    category = pick(names, "fav_category_idx")
    product_draw = index_sql(
        uniform_sql(p.seed, "page_product", "customer", "day", "s", "pos"), dims.PRODUCTS_PER_CATEGORY
    )
    product = F.expr(
        f"format_string('P%04d', fav_category_idx * {dims.PRODUCTS_PER_CATEGORY} + {product_draw} + 1)"
    )
    return (
        F.when(F.col("cancel_event"), F.lit("/account"))
        .when(u < 0.3, F.lit("/"))
        .when(u < 0.42, F.lit("/deals"))
        .when(u < 0.7, F.concat(F.lit("/category/"), category))
        .otherwise(F.concat(F.lit("/product/"), product))
    )
