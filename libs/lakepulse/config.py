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
class Config:
    env: str
    source_file: str
    spark: SparkConfig
    paths: PathsConfig
    mlflow: MlflowConfig
    generate: GenerateConfig
    privacy: PrivacyConfig

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
