"""Event rows and their JSON lines: each session's planned slots (events.py) become one event each.

A slot's position in its session fixes its time and, with the session's draws, its product, price,
quantity and text fields; the typed fields stay next to the JSON `line` because the access logs and
billing are derived from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse_sample import dims
from lakepulse_sample.events import EVENT_SPACING_S, FAVOURITE_SHARE, offset
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import (
    hex_id,
    index_sql,
    pick,
    uniform,
    uniform_sql,
    weighted_index_sql,
)
from lakepulse_sample.scenario import Scenario

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


def to_events(
    p: GenerateParams, scenario: Scenario, daily_prices: DataFrame
) -> Callable[[DataFrame], DataFrame]:
    """One row per event with its JSON line (`line`) and the typed fields the logs are derived from."""
    fields = ", ".join(
        f"'{f.name}', CAST({f.name} AS {f.dataType.simpleString()})" for f in EVENT_JSON_SCHEMA.fields
    )

    def transform(sessions: DataFrame) -> DataFrame:
        typed = sessions.transform(_event_slots(p, scenario, daily_prices)).select(
            *_typed_fields(p, scenario)
        )
        return typed.withColumn("line", F.expr(f"to_json(named_struct({fields}))"))

    return transform


def _per_event(p: GenerateParams, salt: str) -> str:
    return uniform_sql(p.seed, salt, "customer", "day", "s", "pos")


def _per_item(p: GenerateParams, salt: str) -> str:
    return uniform_sql(p.seed, salt, "customer", "day", "s", "item")


def _event_slots(
    p: GenerateParams, scenario: Scenario, daily_prices: DataFrame
) -> Callable[[DataFrame], DataFrame]:
    """One row per slot with its time, category, product and that day's price."""
    weights = [c.weight for c in dims.categories(p.seed)]
    day0_ms = _epoch_ms(p.start)
    per_event = lambda salt: _per_event(p, salt)  # noqa: E731
    per_item = lambda salt: _per_item(p, salt)  # noqa: E731

    def transform(sessions: DataFrame) -> DataFrame:
        ev = sessions.select("*", F.posexplode("slots").alias("pos", "event_type"))
        # `item`: the index of an event among those of its type in the session (cart line, search)
        item = " ".join(f"WHEN '{t}' THEN pos - {offset(t)}" for t in ("search", "add_to_cart", "purchase"))
        ev = ev.withColumn("item", F.expr(f"CASE event_type {item} ELSE pos END"))
        ts_ms = F.expr(
            f"{day0_ms} + CAST(day AS BIGINT) * 86400000"
            f" + (start_second + pos * {EVENT_SPACING_S} + floor({per_event('gap')} * 30)) * 1000"
            f" + floor({per_event('ms')} * 1000)"
        )
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
        return (
            ev.withColumns({"ts_ms": ts_ms, "category_idx": category_idx, "promo_item": promo_item})
            .withColumn("product_idx", product_idx)
            .join(prices, on=["product_idx", "day"], how="left")
        )

    return transform


def _typed_fields(p: GenerateParams, scenario: Scenario) -> list[Column | str]:
    """The event's typed fields: its identity and time, then what applies to its type (null otherwise)."""
    cats = dims.categories(p.seed)
    names = [c.name for c in cats]
    is_item = F.col("event_type").isin("add_to_cart", "purchase")
    event_id = F.concat(
        F.lit("e-"),
        hex_id(p.seed, "event", "customer", "day", "s", "pos"),
        F.lit("-"),
        hex_id(p.seed, "event_check", "customer", "day", "s", "pos", chars=4),
    )
    return [
        event_id.alias("event_id"),
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
        F.when(is_item | (F.col("event_type") == "search"), pick(names, "category_idx")).alias("category"),
        F.when(is_item, F.col("unit_price")).alias("unit_price"),
        F.when(is_item, _quantity(p, cats)).alias("quantity"),
        F.when(is_item, F.lit("EUR")).alias("currency"),
        F.when(F.col("event_type") == "search", _search_query(p, cats)).alias("search_query"),
        F.when(F.col("event_type") == "page_view", _page(p, names)).alias("page"),
        F.when(F.col("event_type") == "subscription_start", F.col("signup_plan"))
        .when(F.col("event_type") == "subscription_cancel", F.col("current_plan"))
        .alias("plan"),
        F.when(F.col("event_type") == "support_ticket", _ticket_topic(p)).alias("ticket_topic"),
        _app_version(p, scenario).alias("app_version"),
    ]


def _search_query(p: GenerateParams, cats: tuple[dims.Category, ...]) -> Column:
    queries = (
        "array(" + ", ".join("array(" + ", ".join(f"'{q}'" for q in c.queries) + ")" for c in cats) + ")"
    )
    query_list = f"element_at({queries}, category_idx + 1)"
    return F.expr(f"element_at({query_list}, {index_sql(_per_item(p, 'query'), f'size({query_list})')} + 1)")


def _ticket_topic(p: GenerateParams) -> Column:
    return pick(dims.TICKET_TOPICS, weighted_index_sql(_per_event(p, "topic"), dims.TICKET_WEIGHTS))


def _app_version(p: GenerateParams, scenario: Scenario) -> Column:
    """Mobile and tablet events carry an app version from the scenario's app_version_day on."""
    return F.when(
        (F.col("day") >= scenario.app_version_day) & (F.col("device") != "desktop"),
        pick(
            dims.APP_VERSIONS, f"CAST({uniform_sql(p.seed, 'app_version', 'customer', 'day')} < 0.5D AS INT)"
        ),
    )


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
