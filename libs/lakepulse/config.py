"""Typed configuration, parsed once per run from conf/<env>.yaml.

Environments differ only by the values in their YAML file, never by branches in code. Every value can
be overridden on the command line (`--set section.key=value`) or by an environment variable
(`LAKEPULSE__SECTION__KEY=value`); secrets are never read from YAML, only from the environment
variables that the YAML names (for example `privacy.key_env`).

A bad file fails with one line that names the file and the key: unknown keys, missing keys and wrong
types are all caught here, before any Spark work starts.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lakepulse.errors import ConfigError

# spark-submit.sh exports LAKEPULSE_ROOT: under spark-submit the library is imported from a zip archive.
PROJECT_ROOT = Path(os.environ.get("LAKEPULSE_ROOT") or Path(__file__).resolve().parents[2])
CONF_DIR = PROJECT_ROOT / "conf"
ENV_PREFIX = "LAKEPULSE__"
LAYERS = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class SparkConfig:
    master: str
    app_name: str
    shuffle_partitions: int
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PathsConfig:
    """Where a run reads and writes. `{home}` in a value is replaced by `home`."""

    home: str
    landing: str
    lake: str
    checkpoints: str
    reports: str


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str
    registry_uri: str
    artifact_root: str
    experiment: str


@dataclass(frozen=True)
class GenerateConfig:
    customers: int
    days: int
    start: str
    seed: int
    bad_record_rate: float
    gzip: bool
    files_per_day: int


@dataclass(frozen=True)
class PrivacyConfig:
    """`key_env` names the environment variable holding the pseudonymisation key (never the key)."""

    key_env: str
    require_key: bool


@dataclass(frozen=True)
class MaintenanceConfig:
    """Table upkeep: VACUUM retention, and the small-file guard run after every write."""

    vacuum_retention_hours: int = 168
    # A partition with at least this many small files is compacted right after the write.
    small_file_threshold: int = 32
    target_file_mb: int = 128


@dataclass(frozen=True)
class GoldConfig:
    """Gold tables (docs/gold.md): label horizon, windows, thresholds and approximation accuracy."""

    # Churn label: active = any event in the `churn_active_days` before the label date; churned = a
    # subscription_cancel, or no event at all, in the `churn_horizon_days` from it.
    churn_horizon_days: int = 30
    churn_active_days: int = 30
    # The newest silver days that may still receive late records; they are not computed yet.
    settle_days: int = 0
    # percentile_approx accuracy: relative rank error at most 1 / accuracy.
    percentile_accuracy: int = 10000
    # Cost anomaly: robust z-score of log(cost per request) against the service's previous days.
    anomaly_history_days: int = 28
    anomaly_min_history_days: int = 7
    anomaly_threshold: float = 3.5
    # Emerging trends: recent days against the baseline days just before them.
    trend_recent_days: int = 7
    trend_baseline_days: int = 28
    # Promo response: trailing window of days, and the fewest sessions on each side to rank a segment.
    promo_window_days: int = 28
    promo_min_sessions: int = 20


@dataclass(frozen=True)
class ModelsConfig:
    """Churn and pricing models (docs/models.md). The churn label's horizon is `gold.churn_horizon_days`."""

    seed: int = 42
    # Hyperopt trials per model family (logistic regression, gradient-boosted trees), one nested run each.
    max_evals: int = 4
    # Upper bound of the gradient-boosted trees' number of trees in the search space.
    gbt_max_iter: int = 60
    # Labelled as-of dates used: every `as_of_every_days`-th day, counted back from the latest one
    # (consecutive days of one customer are near-duplicates).
    as_of_every_days: int = 2
    # Time-based split of the labelled date range, less the gap: the earliest part trains, then
    # `validation_fraction` validates and the latest `test_fraction` tests; at least `split_gap_days`
    # separate the last training date from the first validation date (-1: the churn horizon, so no
    # training label window overlaps a validation or test one).
    validation_fraction: float = 0.25
    test_fraction: float = 0.25
    split_gap_days: int = -1
    # Comma-separated feature columns treated as categories; every other numeric column is a feature.
    categorical_features: str = "plan,city_type,country,age_band,acquisition_channel"
    # The column the recency-only baseline ranks by (larger = longer since the last activity).
    recency_feature: str = "days_since_last_activity"
    # Fairness audit: segment columns, the smallest segment audited, the largest tolerated ROC AUC gap.
    fairness_segments: str = "country,age_band,city_type,plan"
    fairness_min_segment_size: int = 50
    fairness_max_auc_gap: float = 0.1
    # Churn risk bands on the scored probability: low < medium <= high.
    risk_band_medium: float = 0.3
    risk_band_high: float = 0.6
    # Pricing: largest price change per step (fraction), unit cost as a fraction of the product's first
    # price, trailing days for the demand baseline, latest fraction of days held out to test the fit.
    price_max_change: float = 0.1
    unit_cost_ratio: float = 0.6
    demand_baseline_days: int = 28
    demand_holdout_fraction: float = 0.2


@dataclass(frozen=True)
class ByodConfig:
    """Bring your own data: where a customer-transactions CSV is and which of its columns mean what."""

    path: str = ""
    customer_id_column: str = "customer_id"
    date_column: str = "date"
    amount_column: str = "amount"
    # A Spark datetime pattern, e.g. dd/MM/yyyy or yyyy-MM-dd HH:mm:ss.
    date_format: str = "yyyy-MM-dd"
    delimiter: str = ","


@dataclass(frozen=True)
class IngestConfig:
    """Ingestion (landing -> bronze) and refinement (bronze -> silver): docs/silver.md."""

    # Events arriving more than this many days after their day are quarantined (late_beyond_window);
    # later ones are merged into silver, and deduplication only looks this far back.
    late_window_days: int = 3
    # A timestamp later than the end of its arrival day by more than this is a future_timestamp.
    future_tolerance_minutes: int = 60
    # Streaming: files per micro-batch, and the default processing-time trigger of continuous runs.
    max_files_per_trigger: int = 1000
    trigger_interval: str = "1 minute"
    # Batch mode: new files per batch (oldest first); a backfill runs as several batches, each committed
    # once, so one run's memory and a crash's redo are bounded by the batch, not by the backlog.
    max_files_per_batch: int = 1000
    # Batch mode: a listed file modified more than this many hours before the newest file already
    # ingested is taken as ingested and not looked up (as Spark's file stream does with maxFileAge), so
    # the lookup reads only recent bookkeeping. 0: look up every listed file (`ingest --full-check`).
    max_file_age_hours: int = 168


@dataclass(frozen=True)
class Config:
    env: str
    source_file: str
    spark: SparkConfig
    paths: PathsConfig
    mlflow: MlflowConfig
    generate: GenerateConfig
    privacy: PrivacyConfig
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    gold: GoldConfig = field(default_factory=GoldConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    byod: ByodConfig = field(default_factory=ByodConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)

    def table_path(self, layer: str, table: str) -> str:
        """<lake>/<layer>/<table>: the one place that decides where a table lives."""
        if layer not in LAYERS:
            raise ConfigError(f"unknown layer {layer!r}: expected one of {', '.join(LAYERS)}")
        if not table or "/" in table:
            raise ConfigError(f"bad table name {table!r}")
        return f"{self.paths.lake.rstrip('/')}/{layer}/{table}"

    def landing_path(self, source: str) -> str:
        return f"{self.paths.landing.rstrip('/')}/{source}"

    def checkpoint_path(self, name: str) -> str:
        return f"{self.paths.checkpoints.rstrip('/')}/{name}"


def available_envs() -> list[str]:
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def config_file_for(env: str) -> Path:
    path = CONF_DIR / f"{env}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown environment {env!r}: no {path.relative_to(PROJECT_ROOT)} "
            f"(known: {', '.join(available_envs())})"
        )
    return path


def load_config(
    env: str = "local",
    path: str | os.PathLike | None = None,
    overrides: typing.Iterable[str] = (),
    environ: typing.Mapping[str, str] | None = None,
) -> Config:
    """Reads, overrides, validates and resolves one environment's configuration."""
    environ = os.environ if environ is None else environ
    file = Path(path) if path is not None else config_file_for(env)
    name = str(file)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{name}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping at the top level")
    raw = dict(raw)
    raw.setdefault("env", env)
    for key, value in _env_overrides(environ):
        _set_dotted(raw, key, value, name, origin=f"environment variable {ENV_PREFIX}…")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, for example spark.master=local[2]")
        key, value = item.split("=", 1)
        _set_dotted(raw, key.strip(), yaml.safe_load(value) if value else "", name, origin="--set")
    raw["source_file"] = name
    config = _build(Config, raw, name, prefix="")
    return _resolve_paths(config, file, environ)


def _env_overrides(environ: typing.Mapping[str, str]) -> list[tuple[str, object]]:
    out = []
    for var, value in sorted(environ.items()):
        if var.startswith(ENV_PREFIX) and len(var) > len(ENV_PREFIX):
            key = ".".join(part.lower() for part in var[len(ENV_PREFIX) :].split("__"))
            out.append((key, yaml.safe_load(value) if value else ""))
    return out


def _set_dotted(raw: dict, key: str, value: object, name: str, origin: str) -> None:
    parts = key.split(".")
    # spark.conf holds free-form Spark keys, which themselves contain dots.
    if parts[:2] == ["spark", "conf"] and len(parts) > 2:
        spark = raw.setdefault("spark", {})
        conf = spark.setdefault("conf", {}) if isinstance(spark, dict) else None
        if not isinstance(conf, dict):
            raise ConfigError(f"{name}: {origin} sets {key!r} but 'spark.conf' is not a section")
        conf[".".join(parts[2:])] = value
        return
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(
                f"{name}: {origin} sets {key!r} but {'.'.join(parts[: i + 1])!r} is not a section"
            )
        node = child
    node[parts[-1]] = value


def _build(cls: type, raw: object, name: str, prefix: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: key {prefix.rstrip('.') or '<top>'!r}: expected a section (mapping)")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{name}: unknown key {prefix + str(unknown[0])!r}")
    values = {}
    for fname, f in fields.items():
        key = prefix + fname
        if fname not in raw:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise ConfigError(f"{name}: missing key {key!r}")
        values[fname] = _coerce(hints[fname], raw[fname], name, key)
    return cls(**values)


def _coerce(hint, value, name: str, key: str):
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, name, prefix=key + ".")
    origin = typing.get_origin(hint)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: key {key!r}: expected a mapping, got {type(value).__name__}")
        return {str(k): _scalar_str(v, name, f"{key}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{name}: key {key!r}: unsupported type")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str and isinstance(value, str):
        return value
    raise ConfigError(
        f"{name}: key {key!r}: expected {hint.__name__}, got {type(value).__name__} ({value!r})"
    )


def _scalar_str(value, name: str, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigError(f"{name}: key {key!r}: expected a scalar, got {type(value).__name__}")


def _resolve_paths(config: Config, file: Path, environ: typing.Mapping[str, str]) -> Config:
    """Applies LAKEPULSE_HOME and `{home}`; relative local paths are relative to the project root."""
    home = environ.get("LAKEPULSE_HOME") or config.paths.home
    home = _absolute(home)

    def expand(value: str) -> str:
        return _absolute(value.replace("{home}", home))

    paths = PathsConfig(
        home=home,
        landing=expand(config.paths.landing),
        lake=expand(config.paths.lake),
        checkpoints=expand(config.paths.checkpoints),
        reports=expand(config.paths.reports),
    )
    mlflow = dataclasses.replace(
        config.mlflow,
        tracking_uri=_expand_uri(config.mlflow.tracking_uri, home),
        registry_uri=_expand_uri(config.mlflow.registry_uri, home),
        artifact_root=_expand_uri(config.mlflow.artifact_root, home),
    )
    return dataclasses.replace(config, paths=paths, mlflow=mlflow)


def _absolute(value: str) -> str:
    if "://" in value or value.startswith("/"):
        return value.rstrip("/") or "/"
    return str((PROJECT_ROOT / value).resolve())


def _expand_uri(value: str, home: str) -> str:
    return value.replace("{home}", home)
