"""Bring your own data: a customer-transactions CSV mapped onto silver, for the same features and label.

Config section `byod` names the file and which of its columns hold the customer id, the date and the
amount, and the date's format (a Spark datetime pattern such as `dd/MM/yyyy`); nothing else is assumed
about the file. Each transaction becomes a silver `purchase` event (unit price = amount, quantity 1),
the customer id is pseudonymised like any silver id, and a customer is known from their first
transaction on. From there the pipeline's own code takes over (the jobs train_churn and score
orchestrate it): gold's customer features and churn labels, the churn training, and scoring. Attributes a transaction file does not carry (country, plan,
...) are null, so the fairness audit reports them as not auditable.

The tables are written into the configured lake, which must be a lake of its own (another home): a
lake whose silver was written by the regular pipeline is refused rather than overwritten.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.contracts import schemas
from lakepulse.errors import ConfigError, LakepulseError
from lakepulse.privacy import pseudonym_key, pseudonymise, with_key
from lakepulse.runtime import delta_io

MARKER = "_byod"  # a one-row Delta table at the lake root: this lake holds BYOD data

# docs/silver.md: silver/events.
EVENTS_SCHEMA = schemas.nullable(schemas.SILVER_EVENTS)
# docs/silver.md: silver/customers and silver/customer_history.
CUSTOMERS_SCHEMA = schemas.nullable(schemas.SILVER_CUSTOMERS)
PRICES_SCHEMA = schemas.nullable(schemas.SILVER_PRICES)
WEATHER_SCHEMA = schemas.nullable(schemas.SILVER_WEATHER)


def with_path(config: Config, path: str | None) -> Config:
    """The config with `byod.path` replaced when a path is given on the command line."""
    if not path:
        return config
    return config.model_copy(update={"byod": config.byod.model_copy(update={"path": path})})


def _resolve(path: str) -> str:
    return path if "://" in path else str(Path(path).expanduser().resolve())


def read_transactions(spark: SparkSession, config: Config) -> DataFrame:
    """(customer_id, event_ts, amount) from the user's CSV; a missing column or file fails naming it."""
    m = config.byod
    if not m.path:
        raise ConfigError(
            f"{config.source_file}: byod.path is empty: give --byod PATH or --set byod.path=PATH"
        )
    path = _resolve(m.path)
    if "://" not in path and not Path(path).exists():
        raise LakepulseError(f"byod.path {path}: no such file")
    raw = spark.read.option("header", True).option("sep", m.delimiter).option("inferSchema", False).csv(path)
    for key in ("customer_id_column", "date_column", "amount_column"):
        column = getattr(m, key)
        if column not in raw.columns:
            raise ConfigError(
                f"byod.{key} {column!r}: no such column in {path} (columns: {', '.join(raw.columns)})"
            )
    when = F.coalesce(
        F.try_to_timestamp(F.col(m.date_column), F.lit(m.date_format)),
        F.to_timestamp(F.try_to_date(F.col(m.date_column), m.date_format)),
    )
    amount = F.regexp_replace(F.trim(F.col(m.amount_column)), ",", ".").try_cast("decimal(12,2)")
    return raw.select(
        F.trim(F.col(m.customer_id_column)).alias("customer_id"),
        when.alias("event_ts"),
        amount.alias("amount"),
        F.col(m.date_column).alias("raw_date"),
        F.col(m.amount_column).alias("raw_amount"),
    )


def check_transactions(transactions: DataFrame, config: Config) -> DataFrame:
    """Fails on the first unreadable record, naming it and the mapping key that did not fit."""
    bad = transactions.filter(
        F.col("customer_id").isNull()
        | (F.col("customer_id") == "")
        | F.col("event_ts").isNull()
        | F.col("amount").isNull()
    )
    first = bad.limit(1).collect()  # bounded: one row
    if first:
        r = first[0]
        if not r["customer_id"]:
            what = f"empty customer id (byod.customer_id_column={config.byod.customer_id_column!r})"
        elif r["event_ts"] is None:
            what = f"date {r['raw_date']!r} does not match byod.date_format {config.byod.date_format!r}"
        else:
            what = f"amount {r['raw_amount']!r} is not a number (byod.amount_column={config.byod.amount_column!r})"
        raise LakepulseError(f"byod {config.byod.path}: record of customer {r['customer_id']!r}: {what}")
    return transactions.select("customer_id", "event_ts", "amount")


def as_silver_events(transactions: DataFrame, key: bytes) -> DataFrame:
    """One silver `purchase` event per transaction (EVENTS_SCHEMA), ids pseudonymised."""
    customer_key = pseudonymise("customer_id")
    event_id = F.sha2(
        F.concat_ws(
            "|",
            "customer_id",
            F.col("event_ts").cast("string"),
            F.col("amount").cast("string"),
            F.monotonically_increasing_id().cast("string"),
        ),
        256,
    )
    values = {
        "event_id": event_id,
        "event_ts": F.col("event_ts"),
        "event_date": F.to_date("event_ts"),
        "customer_key": customer_key,
        "session_id": F.sha2(F.concat_ws("|", customer_key, F.to_date("event_ts").cast("string")), 256),
        "event_type": F.lit("purchase"),
        "unit_price": F.col("amount"),
        "quantity": F.lit(1),
        "ingested_at": F.current_timestamp(),
    }
    return transactions.transform(with_key(key)).select(
        *[
            (values[f.name] if f.name in values else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in EVENTS_SCHEMA
        ]
    )


def as_customer_history(events: DataFrame) -> DataFrame:
    """One state per customer, known from the day of their first transaction (CUSTOMERS_SCHEMA)."""
    first = events.groupBy("customer_key").agg(F.min("event_ts").alias("first_ts"))
    values = {
        "customer_key": F.col("customer_key"),
        "signup_date": F.to_date("first_ts"),
        "updated_at": F.to_timestamp(F.to_date("first_ts")),
    }
    return first.select(
        *[
            (values[f.name] if f.name in values else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in CUSTOMERS_SCHEMA
        ]
    )


def _guard_lake(spark: SparkSession, config: Config) -> None:
    marker = f"{config.paths.lake.rstrip('/')}/{MARKER}"
    events = config.table_path("silver", "events")
    if delta_io.is_delta(spark, events) and not delta_io.is_delta(spark, marker):
        raise LakepulseError(
            f"the lake {config.paths.lake} already holds silver tables of the regular pipeline; run BYOD in "
            "a home of its own, e.g. LAKEPULSE_HOME=.lakepulse-byod"
        )


def prepare(spark: SparkSession, config: Config) -> str:
    """Writes the BYOD silver tables (events, customers and their history, empty prices and weather)
    and the lake's marker; returns a one-line summary."""
    _guard_lake(spark, config)
    transactions = check_transactions(read_transactions(spark, config), config)
    events = as_silver_events(transactions, pseudonym_key(config))
    delta_io.overwrite(events, config.table_path("silver", "events"), partition_by=["event_date"])
    events = delta_io.read_delta(spark, config.table_path("silver", "events"))
    history = as_customer_history(events)
    delta_io.overwrite(history, config.table_path("silver", "customer_history"))
    delta_io.overwrite(history, config.table_path("silver", "customers"))
    delta_io.overwrite(spark.createDataFrame([], PRICES_SCHEMA), config.table_path("silver", "prices"))
    delta_io.overwrite(spark.createDataFrame([], WEATHER_SCHEMA), config.table_path("silver", "weather"))
    # Bounded: one aggregate row.
    bounds = events.agg(
        F.min("event_date").alias("lo"),
        F.max("event_date").alias("hi"),
        F.countDistinct("customer_key").alias("n"),
    ).first()
    m = config.byod
    marker = spark.createDataFrame(
        [
            (
                m.path,
                m.customer_id_column,
                m.date_column,
                m.amount_column,
                m.date_format,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        ],
        "path string, customer_id_column string, date_column string, amount_column string, date_format string, loaded_at timestamp",
    )
    delta_io.overwrite(marker, f"{config.paths.lake.rstrip('/')}/{MARKER}")
    return f"byod: {bounds['n']} customers' transactions {bounds['lo']}..{bounds['hi']} from {m.path} -> silver/events"
