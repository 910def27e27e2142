"""StructType constants at the lake's boundaries: bronze (as received) and silver (typed), see docs/silver.md.

Bronze keeps every field of a record as the text it arrived as (plus the whole line in `raw`): typing is
checked at ingestion, but a value is only converted in silver, so bronze never loses a digit or a
character and its schema never conflicts when a source changes. Ingestion metadata comes first in
every bronze table because Delta collects min/max statistics on the first 32 columns only, and refine
selects a bronze batch by `batch_id`: with the column's statistics, Delta skips every other file.
"""

from __future__ import annotations

from pyspark.sql import types as T

# --- landing fields, in the order docs/landing.md gives them -------------------------------------------

EVENT_FIELDS = (
    "event_id",
    "event_ts",
    "customer_id",
    "session_id",
    "event_type",
    "device",
    "lat",
    "lon",
    "promo_code",
    "search_query",
    "category",
    "product_id",
    "unit_price",
    "quantity",
    "currency",
    "page",
    "plan",
    "ticket_topic",
    "app_version",
)
CUSTOMER_FIELDS = (
    "customer_id",
    "signup_date",
    "country",
    "city",
    "city_type",
    "plan",
    "acquisition_channel",
    "age_band",
    "email",
    "ip_address",
    "updated_at",
)
PRICE_FIELDS = ("product_id", "category", "price", "currency", "effective_from")
ACCESS_LOG_FIELDS = (
    "client_ip",
    "ident",
    "auth_user",
    "request_time",
    "method",
    "request_target",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "latency_ms",
    "service",
)
APP_LOG_FIELDS = ("ts", "service", "level", "message", "latency_ms", "trace_id", "host")
WEATHER_FIELDS = ("date", "country", "city", "temp_c", "precipitation_mm", "condition")

# FOCUS 1.0 columns in the order of the real export (../shared/data/focus-1.0/focus_sample.csv).
FOCUS_COLUMNS = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "Id",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
)
# Money: 11 fractional digits, the most the real export carries. Quantities: 15 (its ConsumedQuantity
# has values such as 0.631720430107000); decimal(38,11) would round them.
FOCUS_COST_TYPE = T.DecimalType(38, 11)
FOCUS_QUANTITY_TYPE = T.DecimalType(38, 15)
FOCUS_COSTS = (
    "BilledCost",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "ContractedUnitPrice",
    "ListUnitPrice",
)
FOCUS_QUANTITIES = ("ConsumedQuantity", "PricingQuantity")
FOCUS_TIMESTAMPS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")

# --- bronze ----------------------------------------------------------------------------------------------

BRONZE_METADATA = T.StructType(
    [
        T.StructField("batch_id", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
        T.StructField("source_file", T.StringType(), False),
        # The landing folder's day (date=YYYY-MM-DD): when the record arrived. Null outside such a folder.
        T.StructField("ingest_date", T.DateType(), True),
    ]
)


def _bronze(fields: tuple[str, ...], partition: str | None) -> T.StructType:
    # Nullable as the ingest frame computes them: bronze is created by its first append.
    columns = [T.StructField(f.name, f.dataType, True) for f in BRONZE_METADATA.fields]
    if partition:
        columns.append(T.StructField(partition, T.DateType(), True))
    columns.append(T.StructField("raw", T.StringType(), True))
    columns += [T.StructField(name, T.StringType(), True) for name in fields]
    return T.StructType(columns)


BRONZE_EVENTS = _bronze(EVENT_FIELDS, "event_date")
BRONZE_CUSTOMERS = _bronze(CUSTOMER_FIELDS, None)
BRONZE_PRICES = _bronze(PRICE_FIELDS, None)
BRONZE_ACCESS_LOGS = _bronze(ACCESS_LOG_FIELDS, "request_date")
BRONZE_APP_LOGS = _bronze(APP_LOG_FIELDS, "log_date")
BRONZE_BILLING = _bronze(FOCUS_COLUMNS, "charge_date")
BRONZE_WEATHER = _bronze(WEATHER_FIELDS, None)

QUARANTINE = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        # ingest: rejected on the way into bronze; refine: rejected on the way into silver.
        T.StructField("stage", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("raw", T.StringType(), True),
        T.StructField("source_file", T.StringType(), True),
        T.StructField("batch_id", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
    ]
)

INGEST_AUDIT = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("batch_id", T.StringType(), False),
        T.StructField("mode", T.StringType(), False),
        T.StructField("files_read", T.LongType(), False),
        T.StructField("corrupt_files", T.LongType(), False),
        T.StructField("records_read", T.LongType(), False),
        T.StructField("loaded", T.LongType(), False),
        T.StructField("quarantined", T.LongType(), False),
        T.StructField("duplicates_dropped", T.LongType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("finished_at", T.TimestampType(), False),
        # Files booked unread as copies of booked content, and files read again as a changed version of
        # a booked path (docs/landing.md, "File identity"). Null in rows written before they existed.
        T.StructField("duplicate_files", T.LongType(), True),
        T.StructField("new_versions", T.LongType(), True),
    ]
)

INGESTED_FILES = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("path", T.StringType(), False),
        T.StructField("size", T.LongType(), False),
        T.StructField("modified_at", T.TimestampType(), False),
        T.StructField("batch_id", T.StringType(), False),
        T.StructField("txn_version", T.LongType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
        # The file's identity, independent of where the home lives (lakepulse.bronze.identity). Nullable:
        # bookings from before it get their relative path once, and no fingerprint.
        T.StructField("rel_path", T.StringType(), True),
        T.StructField("fingerprint", T.StringType(), True),
        T.StructField("outcome", T.StringType(), True),  # new | new_version | duplicate_file | unchanged
        T.StructField("same_as", T.StringType(), True),  # a duplicate_file's booked twin (relative path)
    ]
)

EXPECTATION_RESULTS = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("batch_id", T.StringType(), False),
        T.StructField("layer", T.StringType(), False),
        T.StructField("dataset", T.StringType(), False),
        T.StructField("expectation", T.StringType(), False),
        T.StructField("expr", T.StringType(), False),
        T.StructField("action", T.StringType(), False),
        T.StructField("failed_count", T.LongType(), False),
        T.StructField("rows_checked", T.LongType(), False),
        T.StructField("recorded_at", T.TimestampType(), False),
    ]
)


def nullable(schema: T.StructType) -> T.StructType:
    """The schema with every field nullable: for frames built from user data or test rows, which Spark
    types as nullable whatever their content (a Delta write checks the table's own constraints)."""
    return T.StructType([T.StructField(f.name, f.dataType, True, f.metadata) for f in schema.fields])


# --- silver ----------------------------------------------------------------------------------------------

SILVER_EVENTS = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("event_ts", T.TimestampType(), False),
        T.StructField("event_date", T.DateType(), False),
        T.StructField("customer_key", T.StringType(), True),
        T.StructField("session_id", T.StringType(), False),
        T.StructField("event_type", T.StringType(), False),
        T.StructField("device", T.StringType(), False),
        T.StructField("lat", T.DoubleType(), True),
        T.StructField("lon", T.DoubleType(), True),
        T.StructField("promo_code", T.StringType(), True),
        T.StructField("search_query", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("product_id", T.StringType(), True),
        T.StructField("unit_price", T.DecimalType(12, 2), True),
        T.StructField("quantity", T.IntegerType(), True),
        T.StructField("currency", T.StringType(), True),
        T.StructField("page", T.StringType(), True),
        T.StructField("plan", T.StringType(), True),
        T.StructField("ticket_topic", T.StringType(), True),
        T.StructField("app_version", T.StringType(), True),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)

SILVER_CUSTOMERS = T.StructType(
    [
        T.StructField("customer_key", T.StringType(), False),
        T.StructField("signup_date", T.DateType(), True),
        T.StructField("country", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("city_type", T.StringType(), True),
        T.StructField("plan", T.StringType(), True),
        T.StructField("acquisition_channel", T.StringType(), True),
        T.StructField("age_band", T.StringType(), True),
        T.StructField("email_hash", T.StringType(), True),
        T.StructField("ip_prefix", T.StringType(), True),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)
SILVER_CUSTOMER_HISTORY = SILVER_CUSTOMERS

SILVER_PRICES = T.StructType(
    [
        T.StructField("product_id", T.StringType(), False),
        T.StructField("category", T.StringType(), True),
        T.StructField("price", T.DecimalType(12, 2), False),
        T.StructField("currency", T.StringType(), True),
        T.StructField("valid_from", T.TimestampType(), False),
        T.StructField("valid_to", T.TimestampType(), True),
    ]
)

SILVER_REQUESTS = T.StructType(
    [
        T.StructField("request_ts", T.TimestampType(), False),
        T.StructField("request_date", T.DateType(), False),
        T.StructField("service", T.StringType(), False),
        T.StructField("method", T.StringType(), False),
        T.StructField("path_template", T.StringType(), False),
        T.StructField("status", T.IntegerType(), False),
        T.StructField("bytes", T.LongType(), False),
        T.StructField("latency_ms", T.IntegerType(), False),
        T.StructField("client_ip_prefix", T.StringType(), True),
        T.StructField("user_agent", T.StringType(), True),
    ]
)

SILVER_APP_LOGS = T.StructType(
    [
        T.StructField("ts", T.TimestampType(), False),
        T.StructField("log_date", T.DateType(), False),
        T.StructField("service", T.StringType(), False),
        T.StructField("level", T.StringType(), False),
        T.StructField("message", T.StringType(), True),
        T.StructField("latency_ms", T.DoubleType(), True),
        T.StructField("trace_id", T.StringType(), True),
        T.StructField("host", T.StringType(), True),
    ]
)


def _focus_type(name: str) -> T.DataType:
    if name in FOCUS_COSTS:
        return FOCUS_COST_TYPE
    if name in FOCUS_QUANTITIES:
        return FOCUS_QUANTITY_TYPE
    if name in FOCUS_TIMESTAMPS:
        return T.TimestampType()
    if name == "Tags":
        return T.MapType(T.StringType(), T.StringType())
    return T.StringType()


SILVER_BILLING = T.StructType(
    [T.StructField(name, _focus_type(name), True) for name in FOCUS_COLUMNS]
    + [T.StructField("charge_date", T.DateType(), False)]
)

SILVER_WEATHER = T.StructType(
    [
        T.StructField("date", T.DateType(), False),
        T.StructField("country", T.StringType(), False),
        T.StructField("city", T.StringType(), False),
        T.StructField("temp_c", T.DoubleType(), True),
        T.StructField("precipitation_mm", T.DoubleType(), True),
        T.StructField("condition", T.StringType(), True),
    ]
)

REFINE_STATE = T.StructType(
    [
        T.StructField("table", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("ingest_batch_id", T.StringType(), False),
        T.StructField("refine_version", T.LongType(), False),
        # planned: the unit of work is fixed (which bronze batches); done: every silver write committed.
        T.StructField("state", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("recorded_at", T.TimestampType(), False),
    ]
)

# --- gold ------------------------------------------------------------------------------------------------

# gold/churn_labels (docs/gold.md): the churn label of every customer active as of a label date; the models
# read it instead of deriving labels from silver/events themselves. The label's settings are kept on each
# row, so a training under other settings notices instead of mixing definitions.
GOLD_CHURN_LABELS = T.StructType(
    [
        T.StructField("customer_key", T.StringType()),
        T.StructField("label_date", T.DateType()),
        T.StructField("churned", T.BooleanType()),
        T.StructField("cancelled", T.BooleanType()),
        T.StructField("horizon_days", T.IntegerType()),
        T.StructField("active_days", T.IntegerType()),
    ]
)
