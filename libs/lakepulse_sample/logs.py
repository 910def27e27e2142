"""Web access logs and JSON application logs, derived from the events so their volume follows traffic.

Every event hits one or two services (page views: frontend and catalog; purchases: checkout and auth;
see `dims.EVENT_SERVICES`); a fixed share of those requests is logged (a sampled access log, as many
sites keep), so per-service request counts track event counts day by day. Application logs sample
those requests again, keeping every error.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakepulse_sample import dims
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import (
    hex_id,
    normal,
    pick,
    sql_literal,
    uniform,
    uniform_sql,
    weighted_index_sql,
)

LOG_SAMPLE = 0.55  # share of requests that reach the access log
APP_LOG_SAMPLE = 0.3  # share of ordinary requests that also write an application log line
CLIENT_ERRORS = 0.025
NOT_MODIFIED = 0.05
BYTES = {"frontend": 24000, "catalog": 3500, "search": 6000, "checkout": 800, "auth": 400}
SITE = "https://shop.example"


def _by_service(values: dict[str, object], column: str = "service") -> Column:
    cases = " ".join(f"WHEN '{k}' THEN {sql_literal(v)}" for k, v in values.items())
    return F.expr(f"CASE {column} {cases} END")


def _services_of_event() -> Column:
    cases = " ".join(
        f"WHEN '{t}' THEN array({', '.join(sql_literal(s) for s in services)})"
        for t, services in dims.EVENT_SERVICES.items()
    )
    return F.expr(f"CASE event_type {cases} END")


def _method() -> Column:
    writes = F.col("service").isin("checkout", "auth") | (F.col("event_type") == "support_ticket")
    return F.when(writes, F.lit("POST")).otherwise(F.lit("GET"))


def _catalog_path(page: Column) -> Column:
    return (
        F.when(
            page.startswith("/product/"),
            F.concat(F.lit("/api/products/"), F.substring(page, 10, 5), F.lit("?ref=home")),
        )
        .when(page.startswith("/category/"), F.concat(F.lit("/api/categories/"), F.substring(page, 11, 40)))
        .when(page == "/deals", F.lit("/api/promotions"))
        .when(page == "/account", F.lit("/api/account"))
        .otherwise(F.lit("/api/products?sort=popular"))
    )


def _request_path() -> Column:
    """The URL path a request's service and event would call."""
    query = F.regexp_replace(F.coalesce(F.col("search_query"), F.lit("")), " ", "+")
    page = F.coalesce(F.col("page"), F.lit("/"))
    checkout = (
        F.when(F.col("event_type") == "add_to_cart", F.lit("/api/cart/items"))
        .when(F.col("event_type") == "checkout", F.lit("/api/checkout"))
        .when(F.col("event_type") == "purchase", F.lit("/api/orders"))
        .otherwise(F.lit("/api/subscriptions"))
    )
    return (
        F.when(F.col("service") == "catalog", _catalog_path(page))
        .when(
            F.col("service") == "search",
            F.concat(F.lit("/api/search?q="), query, F.lit("&category="), F.col("category")),
        )
        .when(F.col("service") == "auth", F.lit("/api/auth/token"))
        .when(F.col("service") == "checkout", checkout)
        .when(F.col("event_type") == "search", F.concat(F.lit("/search?q="), query))
        .when(F.col("event_type") == "promo_view", F.concat(F.lit("/deals/"), F.lower(F.col("promo_code"))))
        .when(F.col("event_type") == "support_ticket", F.lit("/help/tickets"))
        .otherwise(page)
    )


def _status(p: GenerateParams) -> Column:
    """5xx at the service's error rate, then client errors, 304s for GETs, 201 for orders, else 200."""
    errors = {s.name: s.error_rate for s in dims.SERVICES}
    error_rate = _by_service(errors)
    roll = uniform(p.seed, "status", "event_id", "service")
    us = lambda salt: uniform_sql(p.seed, salt, "event_id", "service")  # noqa: E731
    client_error = (
        F.when(F.col("service") == "auth", F.lit(401))
        .when(
            F.col("method") == "GET",
            pick((404, 429), weighted_index_sql(us("status_4xx"), (0.85, 0.15))),
        )
        .otherwise(pick((400, 409, 422), weighted_index_sql(us("status_4xx"), (0.5, 0.3, 0.2))))
    )
    return (
        F.when(
            roll < error_rate, pick((500, 502, 503), weighted_index_sql(us("status_5xx"), (0.6, 0.25, 0.15)))
        )
        .when(roll < error_rate + CLIENT_ERRORS, client_error)
        .when((F.col("method") == "GET") & (roll > 1.0 - NOT_MODIFIED), F.lit(304))
        .when(F.col("path") == "/api/orders", F.lit(201))
        .otherwise(F.lit(200))
    )


def _latency(p: GenerateParams) -> Column:
    medians = {s.name: s.latency_ms for s in dims.SERVICES}
    return F.greatest(
        F.lit(1),
        F.round(
            _by_service(medians)
            * F.exp(0.6 * normal(p.seed, "latency", "event_id", "service"))
            * F.when(F.col("status") >= 500, 3.0).otherwise(1.0)
        ).cast("int"),
    )


def _bytes(p: GenerateParams) -> Column:
    size = F.round(_by_service(BYTES) * F.exp(0.5 * normal(p.seed, "bytes", "event_id", "service"))).cast(
        "long"
    )
    return F.when(F.col("status").isin(204, 304), F.lit("-")).otherwise(size.cast("string"))


def _agent(p: GenerateParams) -> Column:
    agents = F.element_at(
        F.create_map(
            *(x for d, uas in dims.USER_AGENTS.items() for x in (F.lit(d), F.array(*map(F.lit, uas))))
        ),
        F.col("device"),
    )
    return F.element_at(
        agents, 1 + F.floor(uniform(p.seed, "agent", "ip", "device") * F.size(agents)).cast("int")
    )


def access_requests(p: GenerateParams) -> Callable[[DataFrame], DataFrame]:
    """One row per logged request, with its access-log `line` and typed fields for app logs and billing."""

    def transform(events: DataFrame) -> DataFrame:
        requests = events.select(
            "event_id", "day", "ts_ms", "event_type", "device", "ip", "page", "product_id", "category",
            "search_query", "promo_code", F.explode(_services_of_event()).alias("service"),
        ).where(uniform(p.seed, "log_keep", "event_id", "service") < LOG_SAMPLE)  # fmt: skip
        referer = F.when(uniform(p.seed, "referer", "event_id", "service") < 0.7, F.lit(SITE + "/"))
        out = (
            requests.withColumn("method", _method())
            .withColumn("path", _request_path())
            .withColumn("status", _status(p))
            .withColumn("latency_ms", _latency(p))
            .withColumn("bytes", _bytes(p))
            .withColumn("referer", referer.otherwise(F.lit("-")))
            .withColumn("agent", _agent(p))
        )
        clock = F.date_format(F.timestamp_millis("ts_ms"), "dd/MMM/yyyy:HH:mm:ss")
        line = F.format_string(
            '%s - - [%s +0000] "%s %s HTTP/1.1" %d %s "%s" "%s" %d %s',
            "ip", clock, "method", "path", "status", "bytes", "referer", "agent", "latency_ms", "service",
        )  # fmt: skip
        return out.withColumn("line", line)

    return transform


ERROR_MESSAGES = {
    "frontend": ("upstream timeout rendering page", "template render failed"),
    "catalog": ("database connection pool exhausted", "product lookup failed"),
    "search": ("search backend timeout", "index shard unavailable"),
    "checkout": ("payment declined by provider", "inventory reservation failed"),
    "auth": ("token signing key unavailable", "session store unreachable"),
}


def app_logs(p: GenerateParams) -> Callable[[DataFrame], DataFrame]:
    """Application log lines for a sample of requests (all errors and client errors kept)."""
    medians = {s.name: s.latency_ms for s in dims.SERVICES}

    def transform(requests: DataFrame) -> DataFrame:
        u = lambda salt: uniform(p.seed, salt, "event_id", "service")  # noqa: E731
        kept = requests.where((F.col("status") >= 400) | (u("app_keep") < APP_LOG_SAMPLE))
        slow = F.col("latency_ms") > 4 * _by_service(medians)
        level = (
            F.when(F.col("status") >= 500, F.lit("ERROR"))
            .when((F.col("status") >= 400) | slow, F.lit("WARN"))
            .when(u("debug") < 0.15, F.lit("DEBUG"))
            .otherwise(F.lit("INFO"))
        )
        errors = F.element_at(
            F.create_map(
                *(x for s, m in ERROR_MESSAGES.items() for x in (F.lit(s), F.array(*map(F.lit, m))))
            ),
            F.col("service"),
        )
        message = (
            F.when(F.col("level") == "ERROR", F.element_at(errors, 1 + F.floor(u("message") * 2).cast("int")))
            .when(
                F.col("status") >= 400,
                F.format_string("client error %d on %s %s", "status", "method", "path"),
            )
            .when(
                F.col("level") == "WARN",
                F.format_string("slow request: %s %s took %d ms", "method", "path", "latency_ms"),
            )
            .when(F.col("level") == "DEBUG", F.format_string("cache lookup for %s", "path"))
            .otherwise(F.format_string("%s %s %d", "method", "path", "status"))
        )
        record = F.struct(
            F.date_format(F.timestamp_millis("ts_ms"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("ts"),
            F.col("service"),
            F.col("level"),
            F.col("message"),
            F.round(F.col("latency_ms") * 0.92 + 0.1 * u("server_latency"), 1).alias("latency_ms"),
            F.concat(
                hex_id(p.seed, "trace", "event_id", "service"),
                hex_id(p.seed, "trace2", "event_id", "service"),
            ).alias("trace_id"),
            F.concat(
                F.col("service"), F.lit("-"), (1 + F.floor(u("host") * 3)).cast("int").cast("string")
            ).alias("host"),
        )
        return (
            kept.withColumn("level", level)
            .withColumn("message", message)
            .select("event_id", "service", "day", "ts_ms", F.to_json(record).alias("line"))
        )

    return transform
