"""The seven landing sources, declared as data: format, fields and their types, rules, keys, partitioning.

Nothing here is code that checks a record. `parse` turns the field declarations into the generic rules
`missing_field:<f>` (a required field is absent or empty) and `bad_type:<f>` (a field is present but is
not of its declared type, including a JSON string where a number belongs and the reverse); the rules
below add what a type cannot say. Rules may use the helper columns that `parse` provides:
`_max_ts` (the latest plausible timestamp: the end of the arrival day, or the ingestion time, plus a
tolerance) and `_min_event_date` (the arrival day minus the late window; null when the arrival day is
unknown). Record-level rules never use the action `drop`: ingestion must account for every record as
loaded, quarantined or duplicate (see `lakepulse.bronze.batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lakepulse.contracts import schemas
from lakepulse.contracts.expectations import Expectation
from lakepulse.errors import UsageError

IDENTIFIED_EVENT_TYPES = (
    "add_to_cart",
    "checkout",
    "purchase",
    "subscription_start",
    "subscription_cancel",
    "support_ticket",
)
CART_EVENT_TYPES = ("add_to_cart", "purchase")
FOCUS_CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
FOCUS_CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")

# A field kind names how its text is typed (see lakepulse.bronze.parse.typed_value).
STRING, INT, LONG, DOUBLE = "string", "int", "long", "double"
TS_ISO = "ts_iso"  # 2026-01-03T18:22:11.123Z
TS_FOCUS = "ts_focus"  # 2024-09-18 22:00:00 (real FOCUS exports), RFC 3339 accepted too
TS_CLF = "ts_clf"  # 03/Jan/2026:18:22:11 +0000
DATE = "date"
JSON_OBJECT = "json_object"  # a JSON object of scalars, becomes map<string,string>
CLF_BYTES = "clf_bytes"  # digits, or - for none


@dataclass(frozen=True)
class ReferenceCheck:
    """A rule whose allowed values are a list of the configuration (section `reference`), not of the
    code: `values` names the list; `parse.all_rules` turns it into an Expectation with the source's
    configured action (quarantine, or keep: a warning)."""

    name: str
    column: str
    values: str
    nullable: bool = False


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = STRING
    required: bool = False


@dataclass(frozen=True)
class Source:
    name: str
    format: str  # json | csv | access_log
    fields: tuple[Field, ...]
    rules: tuple[Expectation | ReferenceCheck, ...] = ()
    # Primary key as SQL expressions over the typed fields (and `raw`); () = no key, every line is a record.
    primary_key: tuple[str, ...] = ()
    # The bronze partition column and the typed timestamp/date field it is the date of.
    partition_column: str | None = None
    partition_from: str | None = None
    csv_null: str | None = None  # the literal that means null in this CSV (FOCUS exports: NULL)
    bronze_schema: object = None
    silver_tables: tuple[str, ...] = field(default_factory=tuple)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def malformed_reason(self) -> str:
        return {"json": "malformed_json", "csv": "malformed_csv", "access_log": "unparseable_log_line"}[
            self.format
        ]


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def reference_expectation(check: ReferenceCheck, values: Sequence[str], keep: bool) -> Expectation:
    """The rule of a ReferenceCheck for the configured list; `keep`: a warning instead of quarantine."""
    if not values:
        raise UsageError(
            f"reference.{check.values}: the list is empty, so {check.name} would reject everything"
        )
    allowed = _in(check.column, values)
    expr = f"{check.column} IS NULL OR {allowed}" if check.nullable else allowed
    return Expectation(check.name, expr, "warn" if keep else "quarantine")


def _future(column: str) -> Expectation:
    return Expectation("future_timestamp", f"{column} <= _max_ts", "quarantine")


EVENTS = Source(
    name="events",
    format="json",
    fields=(
        Field("event_id", required=True),
        Field("event_ts", TS_ISO, required=True),
        Field("customer_id"),
        Field("session_id", required=True),
        Field("event_type", required=True),
        Field("device", required=True),
        Field("lat", DOUBLE),
        Field("lon", DOUBLE),
        Field("promo_code"),
        Field("search_query"),
        Field("category"),
        Field("product_id"),
        Field("unit_price", DOUBLE),
        Field("quantity", INT),
        Field("currency"),
        Field("page"),
        Field("plan"),
        Field("ticket_topic"),
        Field("app_version"),
    ),
    rules=(
        ReferenceCheck("unknown_event_type", "event_type", "event_types"),
        ReferenceCheck("unknown_device", "device", "devices"),
        Expectation(
            "missing_field:customer_id",
            f"NOT {_in('event_type', IDENTIFIED_EVENT_TYPES)} OR length(trim(customer_id)) > 0",
        ),
        Expectation(
            "missing_field:product_id", f"NOT {_in('event_type', CART_EVENT_TYPES)} OR product_id IS NOT NULL"
        ),
        Expectation(
            "missing_field:unit_price", f"NOT {_in('event_type', CART_EVENT_TYPES)} OR unit_price IS NOT NULL"
        ),
        Expectation(
            "missing_field:quantity", f"NOT {_in('event_type', CART_EVENT_TYPES)} OR quantity IS NOT NULL"
        ),
        Expectation("negative_price", "unit_price IS NULL OR unit_price > 0"),
        Expectation("non_positive_quantity", "quantity IS NULL OR quantity >= 1"),
        Expectation("out_of_range:lat", "lat IS NULL OR lat BETWEEN -90 AND 90"),
        Expectation("out_of_range:lon", "lon IS NULL OR lon BETWEEN -180 AND 180"),
        _future("event_ts"),
        Expectation("late_beyond_window", "_min_event_date IS NULL OR to_date(event_ts) >= _min_event_date"),
        # Counted, not rejected: currency is informational for silver.
        Expectation(
            "missing_currency", f"NOT {_in('event_type', CART_EVENT_TYPES)} OR currency IS NOT NULL", "warn"
        ),
    ),
    primary_key=("event_id",),
    partition_column="event_date",
    partition_from="event_ts",
    bronze_schema=schemas.BRONZE_EVENTS,
    silver_tables=("events",),
)

CUSTOMERS = Source(
    name="customers",
    format="csv",
    fields=(
        Field("customer_id", required=True),
        Field("signup_date", DATE, required=True),
        Field("country"),
        Field("city"),
        Field("city_type"),
        Field("plan", required=True),
        Field("acquisition_channel"),
        Field("age_band"),
        Field("email"),
        Field("ip_address"),
        Field("updated_at", TS_ISO, required=True),
    ),
    rules=(
        Expectation("bad_format:customer_id", "customer_id RLIKE '^C[0-9]{8}$'"),
        ReferenceCheck("unknown_plan", "plan", "plans"),
        _future("updated_at"),
        Expectation("updated_before_signup", "to_date(updated_at) >= signup_date", "warn"),
    ),
    primary_key=("customer_id", "updated_at"),
    bronze_schema=schemas.BRONZE_CUSTOMERS,
    silver_tables=("customers", "customer_history"),
)

PRICES = Source(
    name="prices",
    format="csv",
    fields=(
        Field("product_id", required=True),
        Field("category"),
        Field("price", "decimal(12,2)", required=True),
        Field("currency", required=True),
        Field("effective_from", TS_ISO, required=True),
    ),
    rules=(
        Expectation("negative_price", "price > 0"),
        _future("effective_from"),
    ),
    primary_key=("product_id", "effective_from"),
    bronze_schema=schemas.BRONZE_PRICES,
    silver_tables=("prices",),
)

ACCESS_LOGS = Source(
    name="access_logs",
    format="access_log",
    fields=(
        Field("client_ip", required=True),
        Field("ident"),
        Field("auth_user"),
        Field("request_time", TS_CLF, required=True),
        Field("method", required=True),
        Field("request_target", required=True),
        Field("protocol"),
        Field("status", INT, required=True),
        Field("bytes", CLF_BYTES, required=True),
        Field("referer"),
        Field("user_agent"),
        Field("latency_ms", INT, required=True),
        Field("service", required=True),
    ),
    rules=(
        ReferenceCheck("unknown_service", "service", "services"),
        _future("request_time"),
    ),
    partition_column="request_date",
    partition_from="request_time",
    bronze_schema=schemas.BRONZE_ACCESS_LOGS,
    silver_tables=("requests",),
)

APP_LOGS = Source(
    name="app_logs",
    format="json",
    fields=(
        Field("ts", TS_ISO, required=True),
        Field("service", required=True),
        Field("level", required=True),
        Field("message"),
        Field("latency_ms", DOUBLE),
        Field("trace_id"),
        Field("host"),
    ),
    rules=(
        ReferenceCheck("unknown_level", "level", "log_levels"),
        Expectation("negative_latency", "latency_ms IS NULL OR latency_ms >= 0"),
        _future("ts"),
    ),
    partition_column="log_date",
    partition_from="ts",
    bronze_schema=schemas.BRONZE_APP_LOGS,
    silver_tables=("app_logs",),
)

_FOCUS_REQUIRED = {
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
}


def _focus_kind(name: str) -> str:
    if name in schemas.FOCUS_COSTS:
        return "decimal(38,11)"
    if name in schemas.FOCUS_QUANTITIES:
        return "decimal(38,15)"
    if name in schemas.FOCUS_TIMESTAMPS:
        return TS_FOCUS
    if name == "Tags":
        return JSON_OBJECT
    return STRING


BILLING = Source(
    name="billing",
    format="csv",
    fields=tuple(Field(n, _focus_kind(n), required=n in _FOCUS_REQUIRED) for n in schemas.FOCUS_COLUMNS),
    rules=(
        # FOCUS 1.0 rules that real exports keep; missing_field:EffectiveCost etc. come from `required`.
        Expectation("focus:unknown_charge_category", _in("ChargeCategory", FOCUS_CHARGE_CATEGORIES)),
        Expectation("focus:charge_period_order", "ChargePeriodEnd >= ChargePeriodStart"),
        Expectation("focus:billing_period_order", "BillingPeriodEnd >= BillingPeriodStart"),
        Expectation("focus:bad_currency_code", "BillingCurrency RLIKE '^[A-Z]{3}$'"),
        Expectation("focus:charge_class", "ChargeClass IS NULL OR ChargeClass = 'Correction'"),
        # Observed in the real export, so counted rather than rejected: negative usage lines (savings
        # plan negation), Oracle's "Usage-based", and Oracle's NULL ContractedCost.
        Expectation(
            "focus:negative_cost_outside_credit",
            "BilledCost >= 0 OR ChargeCategory IN ('Credit', 'Adjustment')",
            "warn",
        ),
        Expectation(
            "focus:charge_frequency_value",
            f"ChargeFrequency IS NULL OR {_in('ChargeFrequency', FOCUS_CHARGE_FREQUENCIES)}",
            "warn",
        ),
        Expectation("focus:contracted_cost_present", "ContractedCost IS NOT NULL", "warn"),
    ),
    # Id when the export has one; otherwise the whole line is the record's identity.
    primary_key=("coalesce(Id, raw)", "ChargePeriodStart"),
    partition_column="charge_date",
    partition_from="ChargePeriodStart",
    csv_null="NULL",
    bronze_schema=schemas.BRONZE_BILLING,
    silver_tables=("billing",),
)

WEATHER = Source(
    name="weather",
    format="csv",
    fields=(
        Field("date", DATE, required=True),
        Field("country", required=True),
        Field("city", required=True),
        Field("temp_c", DOUBLE),
        Field("precipitation_mm", DOUBLE),
        Field("condition"),
    ),
    rules=(
        ReferenceCheck("unknown_condition", "condition", "weather_conditions", nullable=True),
        Expectation("negative_precipitation", "precipitation_mm IS NULL OR precipitation_mm >= 0"),
        Expectation("out_of_range:temp_c", "temp_c IS NULL OR temp_c BETWEEN -90 AND 60"),
        Expectation("future_timestamp", "CAST(date AS TIMESTAMP) <= _max_ts"),
    ),
    primary_key=("date", "country", "city"),
    bronze_schema=schemas.BRONZE_WEATHER,
    silver_tables=("weather",),
)

SOURCES: dict[str, Source] = {
    s.name: s for s in (EVENTS, ACCESS_LOGS, APP_LOGS, BILLING, CUSTOMERS, PRICES, WEATHER)
}


def source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise UsageError(f"unknown source {name!r} (known: {', '.join(SOURCES)})") from None


def _check_declarations() -> None:
    for s in SOURCES.values():
        for rule in s.rules:
            if isinstance(rule, Expectation) and rule.action == "drop":
                raise ValueError(
                    f"{s.name}: rule {rule.name!r} drops records; ingestion must account for all"
                )


_check_declarations()
