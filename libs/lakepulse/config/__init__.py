"""Typed configuration: one pydantic model, read once per run from conf/<env>.yaml.

Why a library rather than the hand-written loader it replaces: the loader kept every key three times
(dataclass, conf/local.yaml, conf/cluster.yaml) and re-implemented type checks, nesting, environment
variables and merge order by hand. pydantic-settings does the layering (model defaults < YAML file <
`LAKEPULSE__SECTION__KEY` variables < `--set section.key=value`), the strict type checks and the
rejection of unknown keys, so the model below is the single place where a key, its type, its default
and its meaning live. The defaults are the embedded local environment; an environment file holds only
what differs (tests/test_config.py fails when a file repeats a default).

What stays ours: one-line errors that name the file and the key (pydantic's multi-line report is
folded into ConfigError), `{home}` in paths, and secrets: never in YAML, only in the environment
variables the configuration names (for example `privacy.key_env`).
"""

from __future__ import annotations

import os
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources import DefaultSettingsSource

from lakepulse.config.sections import (
    ByodConfig,
    CatalogConfig,
    DeltaConfig,
    GenerateConfig,
    GoldConfig,
    IngestConfig,
    MaintenanceConfig,
    MlflowConfig,
    ModelsConfig,
    PathsConfig,
    PrivacyConfig,
    ReferenceConfig,
    SparkConfig,
)
from lakepulse.config.sources import (
    ENV_PREFIX,
    Variables,
    YamlFile,
    check_environment,
    describe,
    set_variables,
)
from lakepulse.errors import ConfigError

# spark-submit.sh exports LAKEPULSE_ROOT: under spark-submit the library is imported from a zip archive.
PROJECT_ROOT = Path(os.environ.get("LAKEPULSE_ROOT") or Path(__file__).resolve().parents[3])
CONF_DIR = PROJECT_ROOT / "conf"
LAYERS = ("bronze", "silver", "gold")
# The lake's bookkeeping (audit, state, maintenance and erasure logs) lives apart from the data layers.
OPS_AREA = "_ops"


class Config(BaseSettings):
    """One environment's configuration. The defaults are the embedded local environment: Spark in local
    mode, everything a run writes under one folder (.lakepulse/ in the repository, or $LAKEPULSE_HOME),
    MLflow tracking to a SQLite file there. Build it with load_config, which layers the sources."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        use_attribute_docstrings=True,
        case_sensitive=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        # Merge the default spark.conf map with the entries a file, variable or --set gives rather than
        # replace it (a section's other keys come from its own field defaults anyway): each layer then
        # holds only what differs from the one below.
        nested_model_default_partial_update=True,
    )

    env: str = "local"
    """The environment's name (conf/<env>.yaml)."""
    source_file: str = ""
    """The YAML file the configuration was read from."""
    spark: SparkConfig = SparkConfig()
    paths: PathsConfig = PathsConfig()
    mlflow: MlflowConfig = MlflowConfig()
    generate: GenerateConfig = GenerateConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    gold: GoldConfig = GoldConfig()
    models: ModelsConfig = ModelsConfig()
    byod: ByodConfig = ByodConfig()
    ingest: IngestConfig = IngestConfig()
    reference: ReferenceConfig = ReferenceConfig()
    catalog: CatalogConfig = CatalogConfig()
    delta: DeltaConfig = DeltaConfig()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # Config(...) built directly is a plain model: load_config is the one place that reads files
        # and the environment.
        return (init_settings,)

    def table_path(self, layer: str, table: str) -> str:
        """<lake>/<layer>/<table>: the one place that decides where a table lives."""
        if layer not in (*LAYERS, OPS_AREA):
            raise ConfigError(f"unknown layer {layer!r}: expected one of {', '.join((*LAYERS, OPS_AREA))}")
        if not table or "/" in table:
            raise ConfigError(f"bad table name {table!r}")
        return f"{self.paths.lake.rstrip('/')}/{layer}/{table}"

    def landing_path(self, source: str) -> str:
        return f"{self.paths.landing.rstrip('/')}/{source}"

    def checkpoint_path(self, name: str) -> str:
        return f"{self.paths.checkpoints.rstrip('/')}/{name}"


SECTIONS = tuple(name for name, f in Config.model_fields.items() if isinstance(f.default, BaseModel))


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
    if not file.is_file():
        reason = "is a directory" if file.is_dir() else "no such file"
        raise ConfigError(f"{name}: cannot read config file ({reason})")
    set_vars, set_keys = set_variables(overrides, name, Config.model_fields)
    env_keys = check_environment(environ, name, Config.model_fields)
    try:
        sources = (
            InitSettingsSource(Config, {"source_file": name}),
            Variables(Config, set_vars, env_prefix="", case_sensitive=True),
            Variables(Config, environ, env_prefix=ENV_PREFIX, case_sensitive=False),
            YamlFile(Config, yaml_file=file, sections=SECTIONS),
            InitSettingsSource(Config, {"env": env}),
            DefaultSettingsSource(Config),
        )
        config = Config(_build_sources=(sources, {}))
    except ValidationError as exc:
        raise ConfigError(f"{name}: {describe(exc, set_keys, env_keys)}") from None
    except SettingsError as exc:
        raise ConfigError(f"{name}: {' '.join(str(exc).split())}") from None
    return _resolve_paths(config, environ)


def _resolve_paths(config: Config, environ: typing.Mapping[str, str]) -> Config:
    """Applies LAKEPULSE_HOME and `{home}`; relative local paths are relative to the project root."""
    home = _absolute(environ.get("LAKEPULSE_HOME") or config.paths.home)

    def expand(value: str) -> str:
        return _absolute(value.replace("{home}", home))

    paths = PathsConfig(
        home=home,
        landing=expand(config.paths.landing),
        lake=expand(config.paths.lake),
        checkpoints=expand(config.paths.checkpoints),
        reports=expand(config.paths.reports),
    )
    mlflow = config.mlflow.model_copy(
        update={
            "tracking_uri": config.mlflow.tracking_uri.replace("{home}", home),
            "registry_uri": config.mlflow.registry_uri.replace("{home}", home),
            "artifact_root": config.mlflow.artifact_root.replace("{home}", home),
        }
    )
    catalog = config.catalog.model_copy(
        update={"metastore": _absolute(config.catalog.metastore.replace("{home}", home))}
    )
    return config.model_copy(update={"paths": paths, "mlflow": mlflow, "catalog": catalog})


def _absolute(value: str) -> str:
    if "://" in value or value.startswith("/"):
        return value.rstrip("/") or "/"
    return str((PROJECT_ROOT / value).resolve())
