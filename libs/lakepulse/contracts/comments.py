"""Short table and column comments for silver and gold, taken from docs/silver.md and docs/gold.md.

They travel with the tables (Delta's `comment` property and column metadata), so a person browsing the
catalog (`DESCRIBE TABLE EXTENDED lakepulse_gold.kpi_daily`, a notebook's schema view) reads what a
column means without the repository; the docs stay the full reference (tests/test_table_features.py
checks that every comment's table and column are documented there).
"""

from __future__ import annotations

_KEY = "keyed HMAC-SHA256 hash of the customer id (no clear id in silver or gold)"

TABLES: dict[str, str] = {
    "silver/events": "Product events, one row per event_id, partitioned by event_date; pseudonymised, late events merged (docs/silver.md)",
    "silver/customers": "Current state per customer_key (MERGE of the latest updated_at) (docs/silver.md)",
    "silver/customer_history": "Every customer state received, one row per (customer_key, updated_at) (docs/silver.md)",
    "silver/prices": "Price validity intervals [valid_from, valid_to), one row per (product_id, valid_from) (docs/silver.md)",
    "silver/requests": "Access-log requests, one row per line, partitioned by request_date (docs/silver.md)",
    "silver/app_logs": "Application log lines, partitioned by log_date, free text scrubbed (docs/silver.md)",
    "silver/billing": "FOCUS 1.0 billing lines under their FOCUS names, typed, partitioned by charge_date (docs/silver.md)",
    "silver/weather": "Daily weather per (date, country, city) (docs/silver.md)",
    "gold/customer_features": "Point-in-time churn features per (as_of_date, customer_key), partitioned by as_of_date (docs/gold.md)",
    "gold/kpi_daily": "Business KPIs per (date, dimension, segment): active customers, funnel, revenue, churn (docs/gold.md)",
    "gold/retention_cohorts": "Retention per (cohort_month, activity_month) (docs/gold.md)",
    "gold/market_signals": "Searches, purchases and emerging-trend score per (date, category, country) (docs/gold.md)",
    "gold/promo_response": "Promo response per (date, city_type, weekday, hour UTC) over a trailing window (docs/gold.md)",
    "gold/cost_kpis_daily": "Cloud cost, traffic and cost anomalies per (date, service) (docs/gold.md)",
}

COLUMNS: dict[str, dict[str, str]] = {
    "silver/events": {
        "event_date": "day (UTC) of event_ts",
        "customer_key": _KEY + "; null for anonymous events",
        "lat": "latitude rounded to 1 decimal degree",
        "lon": "longitude rounded to 1 decimal degree",
        "search_query": "free text with e-mail, IP addresses and phone numbers replaced",
    },
    "silver/customers": {
        "customer_key": _KEY,
        "email_hash": "hash of the trimmed, lower-cased e-mail",
        "ip_prefix": "IPv4 /24 or IPv6 /48 network of the address",
    },
    "silver/customer_history": {"customer_key": _KEY},
    "silver/prices": {"valid_to": "the next change's valid_from; null while current"},
    "silver/requests": {
        "path_template": "query string dropped, segments holding a digit or @ replaced",
        "bytes": "response bytes (- is 0)",
    },
    "silver/billing": {"charge_date": "day of ChargePeriodStart"},
    "gold/customer_features": {
        "as_of_date": "the features describe the customer at 00:00 UTC on this day",
        "customer_key": _KEY,
    },
    "gold/kpi_daily": {
        "dimension": "all, country, channel or plan",
        "segment": "the dimension's value, or unknown",
        "conversion_rate": "purchase_sessions / sessions",
        "churn_rate": "churned / churn_base",
    },
    "gold/retention_cohorts": {
        "cohort_month": "first day of the signup month",
        "retention_rate": "active_customers / cohort_size",
    },
    "gold/market_signals": {"trend_score": "emerging-trend score in standard errors"},
    "gold/promo_response": {"lift": "promo_conversion_rate / baseline_conversion_rate"},
    "gold/cost_kpis_daily": {
        "service": "the service tag of a billing line, else ServiceName",
        "error_rate": "errors / requests",
        "is_anomaly": "anomaly_score > anomaly_threshold with enough history",
    },
}
