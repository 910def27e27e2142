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
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
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


WHITESPACE = "whitespace"  # byod.delimiter: columns separated by runs of blanks (fixed-width exports)
REQUIRED = ("customer_id_column", "date_column")
OPTIONAL = ("amount_column", "quantity_column", "price_column", "product_column")
# Why a row of the file is not loaded; the first three count against byod.max_bad_fraction.
BAD_DATE, BAD_AMOUNT, BAD_QUANTITY = "bad_date", "bad_amount", "bad_quantity"
NO_CUSTOMER, NOT_A_PURCHASE = "no_customer_id", "not_a_purchase"
BAD = (BAD_DATE, BAD_AMOUNT, BAD_QUANTITY)


def _read_raw(spark: SparkSession, m, path: str) -> DataFrame:
    """The file as string columns named by its header, or "1", "2", ... without one. A `whitespace`
    file is read as whole lines (still decoded with `byod.encoding`) and split on runs of blanks."""
    reader = spark.read.option("encoding", m.encoding).option("inferSchema", False)
    if m.delimiter != WHITESPACE:
        raw = reader.option("header", m.header).option("sep", m.delimiter).csv(path)
        return raw if m.header else raw.toDF(*[str(i + 1) for i in range(len(raw.columns))])
    lines = reader.option("header", False).option("sep", "\u0001").option("quote", "").csv(path)
    lines = lines.select(F.trim(F.col("_c0")).alias("line")).filter(F.col("line") != "")
    first = lines.first()  # bounded: one row, for the header or the number of columns
    if first is None:
        return spark.createDataFrame([], "line string")
    names = first["line"].split() if m.header else [str(i + 1) for i in range(len(first["line"].split()))]
    if m.header:
        lines = lines.filter(F.col("line") != F.lit(first["line"]))
    fields = F.split(F.col("line"), r"\s+")
    return lines.select(*[fields.getItem(i).alias(n) for i, n in enumerate(names)])


def _number(column: str) -> Column:
    """A decimal with `.` or `,` as its mark (no thousands separator)."""
    return F.regexp_replace(F.trim(F.col(column)), ",", ".").try_cast("decimal(18,4)")


def read_transactions(spark: SparkSession, config: Config) -> DataFrame:
    """(customer_id, event_ts, unit_price, quantity, product_id, problem, raw_value) per row of the
    user's file; `problem` says why a row cannot load (null when it can). A missing file or mapped
    column fails naming it."""
    m = config.byod
    if not m.path:
        raise ConfigError(
            f"{config.source_file}: byod.path is empty: give --byod PATH or --set byod.path=PATH"
        )
    if not m.amount_column and not m.price_column:
        raise ConfigError("byod.amount_column and byod.price_column are both empty: map one of them")
    path = _resolve(m.path)
    if "://" not in path and not Path(path).exists():
        raise LakepulseError(f"byod.path {path}: no such file")
    raw = _read_raw(spark, m, path)
    for key in (*REQUIRED, *OPTIONAL):
        column = getattr(m, key)
        if (column or key in REQUIRED) and column not in raw.columns:
            raise ConfigError(
                f"byod.{key} {column!r}: no such column in {path} (columns: {', '.join(raw.columns)})"
            )
    when = F.coalesce(
        F.try_to_timestamp(F.col(m.date_column), F.lit(m.date_format)),
        F.to_timestamp(F.try_to_date(F.col(m.date_column), m.date_format)),
    )
    quantity = _number(m.quantity_column) if m.quantity_column else F.lit(1).cast("decimal(18,4)")
    whole = quantity == F.floor(quantity)
    if m.price_column:
        price = _number(m.price_column)
        amount = _number(m.amount_column) if m.amount_column else price * quantity
    else:
        amount = _number(m.amount_column)
        price = F.when(quantity != 0, amount / quantity)
    customer = F.trim(F.col(m.customer_id_column))
    money_column = m.amount_column or m.price_column
    problem = (
        F.when(customer.isNull() | (customer == ""), F.lit(NO_CUSTOMER))
        .when(when.isNull(), F.lit(BAD_DATE))
        .when(quantity.isNull() | ~whole, F.lit(BAD_QUANTITY))
        .when(amount.isNull() | price.isNull(), F.lit(BAD_AMOUNT))
        .when((amount <= 0) | (quantity <= 0), F.lit(NOT_A_PURCHASE))
    )
    raw_value = (
        F.when(problem == BAD_DATE, F.col(m.date_column))
        .when(problem == BAD_QUANTITY, F.col(m.quantity_column) if m.quantity_column else F.lit(None))
        .when(problem == BAD_AMOUNT, F.col(money_column))
    )
    return raw.select(
        customer.alias("customer_id"),
        when.alias("event_ts"),
        price.cast("decimal(12,2)").alias("unit_price"),
        quantity.cast("int").alias("quantity"),
        (F.trim(F.col(m.product_column)) if m.product_column else F.lit(None))
        .cast("string")
        .alias("product_id"),
        problem.alias("problem"),
        raw_value.cast("string").alias("raw_value"),
    )


@dataclass(frozen=True)
class Screened:
    """What a file held: rows read, loaded, and skipped per reason with one example value each (never
    a customer id: an example names the mapping that did not fit, not the person)."""

    read: int
    skipped: dict[str, int]
    examples: dict[str, str]

    @property
    def loaded(self) -> int:
        return self.read - sum(self.skipped.values())

    def lines(self, config: Config) -> list[str]:
        keys = {
            NO_CUSTOMER: "byod.customer_id_column",
            BAD_DATE: "byod.date_format",
            BAD_QUANTITY: "byod.quantity_column",
            BAD_AMOUNT: "byod.amount_column" if config.byod.amount_column else "byod.price_column",
            NOT_A_PURCHASE: "zero or negative amount or quantity: returns and cancellations",
        }
        out = [f"byod: {self.read} rows read, {self.loaded} transactions loaded"]
        for reason, n in sorted(self.skipped.items()):
            example = f", e.g. {self.examples[reason]!r}" if self.examples.get(reason) else ""
            out.append(f"byod: {n} rows skipped, {reason} ({keys[reason]}){example}")
        return out


def screen(transactions: DataFrame, config: Config) -> tuple[DataFrame, Screened]:
    """The loadable transactions and the report of the rest. One aggregation (a row per reason); the
    load fails when the rows that do not parse pass `byod.max_bad_fraction` of the file, naming the
    mapping key and an example value, because that is a wrong mapping rather than a few bad rows."""
    rows = (
        transactions.groupBy("problem")
        .agg(F.count(F.lit(1)).alias("n"), F.first("raw_value", ignorenulls=True).alias("example"))
        .collect()  # bounded: one row per reason
    )
    counts = {r["problem"]: int(r["n"]) for r in rows}
    read = sum(counts.values())
    skipped = {k: v for k, v in counts.items() if k is not None}
    report = Screened(read, skipped, {r["problem"]: r["example"] for r in rows if r["problem"]})
    bad = sum(skipped.get(k, 0) for k in BAD)
    m = config.byod
    if read and bad / read > m.max_bad_fraction or report.loaded == 0:
        worst = max(BAD, key=lambda k: skipped.get(k, 0)) if bad else NO_CUSTOMER
        what = {
            BAD_DATE: f"dates do not match byod.date_format {m.date_format!r}",
            BAD_QUANTITY: f"quantities in byod.quantity_column {m.quantity_column!r} are not whole numbers",
            BAD_AMOUNT: f"amounts in byod.{'amount' if m.amount_column else 'price'}_column "
            f"{m.amount_column or m.price_column!r} are not numbers",
            NO_CUSTOMER: f"no row has a customer id in byod.customer_id_column {m.customer_id_column!r}",
        }[worst]
        example = f" (e.g. {report.examples[worst]!r})" if report.examples.get(worst) else ""
        raise LakepulseError(
            f"byod {m.path}: {skipped.get(worst, 0)} of {read} rows: {what}{example}; at most "
            f"byod.max_bad_fraction={m.max_bad_fraction} may be skipped"
        )
    good = transactions.filter(F.col("problem").isNull()).select(
        "customer_id", "event_ts", "unit_price", "quantity", "product_id"
    )
    return good, report


def as_silver_events(transactions: DataFrame, key: bytes) -> DataFrame:
    """One silver `purchase` event per transaction (EVENTS_SCHEMA), ids pseudonymised."""
    customer_key = pseudonymise("customer_id")
    event_id = F.sha2(
        F.concat_ws(
            "|",
            "customer_id",
            F.col("event_ts").cast("string"),
            F.col("unit_price").cast("string"),
            F.col("quantity").cast("string"),
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
        "unit_price": F.col("unit_price"),
        "quantity": F.col("quantity"),
        "product_id": F.col("product_id"),
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


def recorded(spark: SparkSession, config: Config) -> Config:
    """The config with the `byod` section the lake's last load used (its marker), when the config names
    no file itself: `score --export` then needs no mapping repeated."""
    marker = f"{config.paths.lake.rstrip('/')}/{MARKER}"
    if config.byod.path or not delta_io.is_delta(spark, marker):
        return config
    df = delta_io.read_delta(spark, marker)
    if "mapping" not in df.columns:
        return config
    row = df.select("mapping").first()  # bounded: the marker holds one row
    if row is None or not row["mapping"]:
        return config
    return config.model_copy(update={"byod": type(config.byod).model_validate_json(row["mapping"])})


def _guard_lake(spark: SparkSession, config: Config) -> None:
    marker = f"{config.paths.lake.rstrip('/')}/{MARKER}"
    events = config.table_path("silver", "events")
    if delta_io.is_delta(spark, events) and not delta_io.is_delta(spark, marker):
        raise LakepulseError(
            f"the lake {config.paths.lake} already holds silver tables of the regular pipeline; run BYOD in "
            "a home of its own, e.g. LAKEPULSE_HOME=.lakepulse-byod"
        )


@dataclass(frozen=True)
class Loaded:
    """A loaded file: the report's lines, and the history's first and last day."""

    lines: tuple[str, ...]
    first_day: dt.date
    last_day: dt.date
    customers: int


def prepare(spark: SparkSession, config: Config) -> Loaded:
    """Writes the BYOD silver tables (events, customers and their history, empty prices and weather)
    and the lake's marker (the mapping and the load's counts)."""
    _guard_lake(spark, config)
    transactions, report = screen(read_transactions(spark, config), config)
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
        F.count(F.lit(1)).alias("rows"),
    ).first()
    if bounds["rows"] != report.loaded:
        raise LakepulseError(
            f"byod {config.byod.path}: silver/events holds {bounds['rows']} transactions, the file "
            f"{report.loaded} loadable ones: the write did not reconcile"
        )
    m = config.byod
    marker = spark.createDataFrame(
        [
            (
                m.path,
                m.customer_id_column,
                m.date_column,
                m.amount_column,
                m.date_format,
                report.read,
                report.loaded,
                {k: int(v) for k, v in report.skipped.items()},
                m.model_dump_json(),
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        ],
        "path string, customer_id_column string, date_column string, amount_column string, "
        "date_format string, rows_read long, rows_loaded long, rows_skipped map<string,long>, "
        "mapping string, loaded_at timestamp",
    )
    delta_io.overwrite(marker, f"{config.paths.lake.rstrip('/')}/{MARKER}")
    summary = (
        f"byod: {bounds['n']} customers' transactions {bounds['lo']}..{bounds['hi']} from {m.path} "
        "-> silver/events"
    )
    return Loaded((*report.lines(config), summary), bounds["lo"], bounds["hi"], int(bounds["n"]))


# A label's history: the look-back, then train, validation and test dates with a horizon-long gap
# between the parts, and the last label date's own horizon: about six horizons in all.
HORIZONS_PER_HISTORY = 6
MIN_HORIZON_DAYS = 7


def label_settings(config: Config, loaded: Loaded) -> tuple[Config, str]:
    """The config with the churn label this file gets (`byod.churn_active_days`, and
    `byod.churn_horizon_days` or one fitted to the history), and one line saying which and why."""
    m, gold = config.byod, config.gold
    span = (loaded.last_day - loaded.first_day).days + 1
    if m.churn_horizon_days:
        horizon, why = m.churn_horizon_days, "byod.churn_horizon_days"
    elif span >= HORIZONS_PER_HISTORY * gold.churn_horizon_days:
        horizon, why = gold.churn_horizon_days, "gold.churn_horizon_days"
    else:
        horizon = max(MIN_HORIZON_DAYS, span // HORIZONS_PER_HISTORY)
        why = (
            f"fitted: {span} days of history hold fewer than {HORIZONS_PER_HISTORY} of gold.churn_horizon_days="
            f"{gold.churn_horizon_days}; set byod.churn_horizon_days to choose"
        )
    active = m.churn_active_days
    who = (
        "every customer with a transaction before the date"
        if active == 0
        else f"customers with a transaction in the {active} days before the date"
    )
    updated = config.model_copy(
        update={"gold": gold.model_copy(update={"churn_horizon_days": horizon, "churn_active_days": active})}
    )
    return updated, f"byod: churn label: {who}; churned = no purchase in the {horizon} days from it ({why})"
