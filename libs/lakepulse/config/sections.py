"""The configuration's sections: every key with its type, default and meaning, in one place.

The defaults are the embedded local environment; conf/<env>.yaml holds only what differs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
)


def _scalar_str(value: object) -> object:
    """Spark settings are strings; YAML and overrides may write them as booleans or numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a scalar, got {type(value).__name__}")


SparkValue = Annotated[str, BeforeValidator(_scalar_str)]


class _Section(BaseModel):
    # strict: a YAML `seed: "42"` or `gzip: 3` is an error, not silently coerced (environment variables
    # and --set values are strings and are converted by their source, see _Variables).
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, use_attribute_docstrings=True)


class SparkConfig(_Section):
    master: str = "local[*]"
    remote: str = ""
    """A Spark Connect server (sc://host:port) to run on instead of a JVM of this process; empty for a
    classic session. Also set by a job's --remote URL or pyspark's own SPARK_REMOTE variable."""
    app_name: str = "lakepulse"
    shuffle_partitions: int = 8
    conf: dict[str, SparkValue] = {
        "spark.driver.memory": "4g",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.databricks.delta.optimizeWrite.enabled": "false",
        # File listing (VACUUM, partition discovery) in a few tasks, not the 10,000 meant for clusters.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
    }
    """The environment's Spark settings, applied after lakepulse.runtime.spark_conf's own. An environment file,
    variable or --set adds or changes entries of this map (it is merged, not replaced): to drop a
    default entry, set it to Spark's own default."""


class PathsConfig(_Section):
    """Where a run reads and writes. `{home}` in a value is replaced by `home`; `$LAKEPULSE_HOME`, when
    set, replaces `home` itself. Relative local paths are relative to the project root."""

    home: str = ".lakepulse"
    landing: str = "{home}/landing"
    lake: str = "{home}/lake"
    checkpoints: str = "{home}/lake/_checkpoints"
    reports: str = "{home}/reports"


class MlflowConfig(_Section):
    """MLflow tracking: by default a SQLite file under the home, no server to install."""

    tracking_uri: str = "sqlite:///{home}/mlflow/mlflow.db"
    registry_uri: str = "sqlite:///{home}/mlflow/mlflow.db"
    artifact_root: str = "{home}/mlflow/artifacts"
    experiment: str = "lakepulse"


class GenerateConfig(_Section):
    """The sample-data generator (`generate`); its command-line flags override these."""

    customers: int = 600
    days: int = 120
    start: str = "2026-01-01"
    """First generated day, YYYY-MM-DD (quote it in YAML, or YAML reads a date)."""
    seed: int = 42
    bad_record_rate: float = 0.002
    gzip: bool = True
    files_per_day: int = 2
    when: Literal["empty_landing", "asked", "never"] = "empty_landing"
    """When `pipeline` runs this generator first: on an empty landing folder by itself (the embedded
    default), only with `pipeline --generate` (`asked`), or `never` (a shared lake; `generate` run by
    hand still writes sample data)."""


class PrivacyConfig(_Section):
    key_env: str = "LAKEPULSE_PSEUDONYM_KEY"
    """Name of the environment variable that holds the pseudonymisation key (never the key itself)."""
    require_key: bool = False
    """Unset variable: an error, except for generated sample data (`generate`'s manifest in landing),
    which then uses the home's own random key (<home>/sample-pseudonym.key, created once) with a
    warning. Outside local mode set it true: a missing key is then an error, never a silent default."""


class MaintenanceConfig(_Section):
    """Table upkeep: VACUUM retention, and the small-file guard run after every write."""

    vacuum_retention_hours: int = 168
    """VACUUM keeps removed files this many hours, for time travel. maintain and forget write it into
    each table's delta.deletedFileRetentionDuration (Delta 4 ignores VACUUM's own retention argument
    unless it is 0); time travel further back than 30 days also needs delta.logRetentionDuration
    raised."""
    small_file_threshold: int = 32
    """Small-file guard: Delta auto compaction after every write, for a partition with at least this many
    small files."""
    target_file_mb: int = 128


class DeltaConfig(_Section):
    """Delta commits that lose an optimistic-concurrency conflict to another run's commit (issue 15)."""

    conflict_retries: NonNegativeInt = 5
    """A write that is safe to run again (lakepulse.runtime.conflicts) is retried this many times after a
    conflict (DELTA_CONCURRENT_APPEND, DELTA_METADATA_CHANGED, ...), then the job fails with one line; 0
    never retries."""
    conflict_backoff_seconds: NonNegativeFloat = 0.5
    """The first retry waits up to this long (a random fraction of it, so colliding runs spread out);
    each further retry doubles the bound."""
    conflict_backoff_max_seconds: NonNegativeFloat = 15.0
    """The bound on one wait, however many retries came before."""


class CatalogConfig(_Section):
    """The lake's tables registered by name (databases `<prefix>bronze`, `<prefix>silver`, `<prefix>gold`,
    external tables at their paths) in Spark's built-in Hive metastore, so `spark-sql -e 'select * from
    lakepulse_gold.kpi_daily'` works with the run's settings (docs/architecture.md)."""

    enabled: bool = False
    """Off by default: the embedded Derby metastore admits one Spark process at a time, so with it on two
    jobs running at once on one home (a streaming ingest and a refine) would lock each other out. Turn it
    on for a home used by one job at a time, or point `metastore` at a shared metastore service."""
    metastore: str = "{home}/metastore"
    """A folder for the embedded Derby metastore, or a `thrift://host:9083` URI of a Hive metastore
    service (a cluster's)."""
    database_prefix: str = "lakepulse_"


class GoldConfig(_Section):
    """Gold tables (docs/gold.md): label horizon, windows, thresholds and approximation accuracy."""

    churn_horizon_days: int = 30
    """Churn label: active = any event in the `churn_active_days` before the label date; churned = a
    subscription_cancel, or no event at all, in the `churn_horizon_days` from it. kpi_daily's churn rate
    for day D is the label as of D - horizon."""
    churn_active_days: NonNegativeInt = 30
    """0: every customer with an event at any time before the label date is active (sparse purchase
    histories); reads silver/events from its first day."""
    settle_days: int = 0
    """The newest silver days that may still receive late records; they are left for a later run."""
    percentile_accuracy: int = 10000
    """percentile_approx accuracy: relative rank error at most 1 / accuracy."""
    anomaly_history_days: int = 28
    """Cost anomaly: robust z-score of log(cost per request) against the service's previous days."""
    anomaly_min_history_days: int = 7
    anomaly_threshold: float = 3.5
    trend_recent_days: int = 7
    """Emerging trends: recent days against the baseline days just before them."""
    trend_baseline_days: int = 28
    promo_window_days: int = 28
    """Promo response: trailing window of days."""
    promo_min_sessions: int = 20
    """Promo response: the fewest sessions on each side to test and rank a segment."""
    promo_fdr: float = 0.05
    """Promo response: the false discovery rate (Benjamini-Hochberg) below which a segment is responsive."""


class ModelsConfig(_Section):
    """Churn and pricing models (docs/models.md). The churn label's horizon is `gold.churn_horizon_days`."""

    seed: int = 42
    max_evals: int = 4
    """Hyperopt trials per model family (logistic regression, gradient-boosted trees), one nested run
    each."""
    patience: int = 8
    """A family's search stops after this many trials without a better validation ROC AUC (0: never)."""
    gbt_max_iter: int = 60
    """Upper bound of the gradient-boosted trees' number of trees in the search space."""
    as_of_every_days: int = 2
    """Labelled as-of dates used: every `as_of_every_days`-th day, counted back from the latest one
    (consecutive days of one customer are near-duplicates)."""
    validation_fraction: float = 0.25
    """Time-based split of the labelled date range, less the gap: the earliest part trains, then
    `validation_fraction` validates and the latest `test_fraction` tests."""
    test_fraction: float = 0.25
    split_gap_days: int = -1
    """At least this many days separate the last training date from the first validation date (-1: the
    churn horizon, so no training label window overlaps a validation or test one)."""
    categorical_features: str = "plan,city_type,country,age_band,acquisition_channel"
    """Comma-separated feature columns treated as categories; every other numeric column is a feature."""
    recency_feature: str = "days_since_last_activity"
    """The column the recency-only baseline ranks by (larger = longer since the last activity)."""
    fairness_segments: str = "country,age_band,city_type,plan"
    """Fairness audit: the comma-separated segment columns."""
    fairness_min_segment_size: int = 50
    """Fairness audit: the smallest segment audited."""
    fairness_max_auc_gap: float = 0.1
    """Largest tolerated ROC AUC gap between the segments of one column before the run is flagged."""
    risk_band_medium: float = 0.3
    """Churn risk bands on the scored probability: low < medium <= high."""
    risk_band_high: float = 0.6
    price_max_change: float = 0.1
    """Pricing guardrail: a recommended price moves at most this fraction from the current price per
    step."""
    unit_cost_ratio: float = 0.6
    """Unit cost assumed as this fraction of the product's first known price (no cost feed yet)."""
    demand_baseline_days: int = 28
    """Trailing days for the demand baseline."""
    demand_holdout_fraction: float = 0.2
    """Latest fraction of days held out to test the demand fit."""
    churn_promotion_margin: float = 0.005
    """The churn challenger becomes champion only if its test ROC AUC beats the champion's, re-scored on
    the same test rows, by more than this (absolute AUC points): smaller differences are within the
    noise of a test set of a few thousand rows, and each promotion changes every score downstream."""
    pricing_promotion_margin: float = 0.01
    """The pricing challenger becomes champion only if its holdout RMSE of log units per purchase line
    is lower than the champion's, re-scored on the same holdout, by more than this (log units: about
    1% of the typical error)."""


class ByodConfig(_Section):
    """Bring your own data (docs/models.md): a customer-transactions CSV and what its columns mean."""

    path: str = ""
    """Empty: not used. Point it at your file with --set byod.path=... or LAKEPULSE__BYOD__PATH."""
    customer_id_column: str = "customer_id"
    date_column: str = "date"
    date_format: str = "yyyy-MM-dd"
    """A Spark datetime pattern, e.g. dd/MM/yyyy or yyyy-MM-dd HH:mm:ss."""
    delimiter: str = ","
    """The field separator (`,` `;` a tab ...), or `whitespace` for columns separated by runs of spaces."""
    encoding: str = "UTF-8"
    """The file's character set as Java names it: UTF-8, ISO-8859-1, windows-1252, UTF-16, ..."""
    header: bool = True
    """False: the file has no header line and the *_column keys are 1-based positions (1, 2, ...)."""
    amount_column: str = "amount"
    """The transaction's total. Empty when `price_column` holds the unit price instead."""
    quantity_column: str = ""
    """Optional: units per transaction (default 1); the unit price is then amount / quantity."""
    price_column: str = ""
    """Optional: the unit price, when the file has no total (amount = price x quantity)."""
    product_column: str = ""
    """Optional: a product id or code."""
    max_bad_fraction: float = Field(default=0.01, ge=0, le=1)
    """Transactions whose date or amount does not parse are skipped and reported up to this share of
    the file; above it the load fails naming the key and an example value (a wrong mapping, not a few
    bad rows). Rows without a customer id (guest checkouts) are skipped and reported separately."""
    churn_active_days: NonNegativeInt = 0
    """The label's look-back for this file (copied to gold.churn_active_days): 0 = every customer with
    a transaction before the date, so the whole base is labelled and scored."""
    churn_horizon_days: NonNegativeInt = 0
    """The label's horizon for this file (copied to gold.churn_horizon_days); 0 = gold's horizon when the
    history holds six of them (look-back, train, validation, test and the gaps between), else the
    history's length / 6, said in one line."""


class IngestConfig(_Section):
    """Ingestion (landing -> bronze) and refinement (bronze -> silver): docs/silver.md."""

    late_window_days: int = 3
    """Events arriving more than this many days after their day are quarantined (late_beyond_window);
    later ones are merged into silver, and deduplication only looks this far back."""
    future_tolerance_minutes: int = 60
    """A timestamp later than the end of its arrival day by more than this is a future_timestamp."""
    max_files_per_trigger: int = 1000
    """Streaming (--stream): files per micro-batch."""
    trigger_interval: str = "1 minute"
    """Streaming: the default processing-time trigger (--trigger-interval) of continuous runs."""
    max_line_bytes: PositiveInt = 1048576
    """A landing line of this many bytes or more (its line end included) is not loaded: its file gets a
    `line_too_long` quarantine row and its other lines load. Bounds the memory one record can take."""
    max_files_per_batch: int = 1000
    """Batch mode: new files per batch (oldest first); a backfill runs as several batches, each
    committed once, so one run's memory and a crash's redo are bounded by the batch, not the backlog."""
    max_batch_mb: int = 64
    """Batch mode: landing megabytes (as stored, compressed or not) per batch; a batch closes before the
    file that would pass this (a single larger file makes a batch of its own). The file cap alone let a
    10M-event backfill (240 gzip files, 395 MB) run as one batch that exhausted the 4g local driver."""
    max_file_age_hours: int = 168
    """Batch mode: a listed file modified more than this many hours before the newest file already
    ingested is taken as ingested and not looked up (as Spark's file stream does with maxFileAge), so
    the lookup reads only recent bookkeeping. 0: look up every listed file (`ingest --full-check`)."""
    settle_seconds: int = 2
    """Batch mode: a listed file modified less than this many seconds ago is looked at again once it is
    that old, and a file whose size or modification time changed meanwhile (still being written) is left
    for the next run, which reads it whole. Writers that land files under a hidden name (`_` or `.`)
    and rename them when complete need none of this; 0 only checks the file did not change while listed."""


class ReferenceConfig(_Section):
    """The value lists that records are checked against (rules unknown_<value>). They describe the
    user's business, not lakepulse's: a new plan, service or device is a line here, not a code change.
    The defaults are the values of the sample data (`generate`)."""

    event_types: list[str] = [
        "page_view",
        "search",
        "add_to_cart",
        "checkout",
        "purchase",
        "subscription_start",
        "subscription_cancel",
        "support_ticket",
        "promo_view",
    ]
    """events.event_type. Gold computes its measures from the types it knows (purchase, search,
    support_ticket, promo_view, subscription_cancel, ...); other types count as activity only."""
    devices: list[str] = ["mobile", "desktop", "tablet"]
    """events.device."""
    plans: list[str] = ["basic", "standard", "premium"]
    """customers.plan."""
    services: list[str] = ["frontend", "catalog", "search", "checkout", "auth"]
    """access_logs.service."""
    log_levels: list[str] = ["DEBUG", "INFO", "WARN", "ERROR"]
    """app_logs.level."""
    weather_conditions: list[str] = ["sunny", "cloudy", "rain", "snow"]
    """weather.condition (null allowed)."""
    unknown_values: dict[str, Literal["quarantine", "keep"]] = {}
    """Per source (events, customers, access_logs, app_logs, weather): `quarantine` (the default for a
    source not named here) sends a record holding a value outside its list to quarantine; `keep` loads
    it and counts it in _ops/expectation_results as a warning."""
