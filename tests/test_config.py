"""Config: typed parsing, one-line errors naming file and key, overrides, secrets only from env."""

from __future__ import annotations

import pytest
import yaml

from lakepulse.config import PROJECT_ROOT, Config, available_envs, load_config
from lakepulse.errors import ConfigError


def write(tmp_path, text: str, name: str = "env.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def leaves(tree: dict, prefix: tuple = ()) -> dict[tuple, object]:
    """{(section, key[, spark conf key]): value} of a nested mapping."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def env_file_leaves(env: str) -> dict[tuple, object]:
    return leaves(yaml.safe_load((PROJECT_ROOT / "conf" / f"{env}.yaml").read_text(encoding="utf-8")) or {})


def test_local_is_the_embedded_default_under_one_home():
    config = load_config("local", environ={})
    home = str(PROJECT_ROOT / ".lakepulse")
    assert config.paths.home == home
    assert config.spark.master.startswith("local")
    for path in (config.paths.landing, config.paths.lake, config.paths.checkpoints, config.paths.reports):
        assert path.startswith(home + "/")
    assert config.mlflow.tracking_uri == f"sqlite:///{home}/mlflow/mlflow.db"
    assert config.table_path("silver", "events") == f"{home}/lake/silver/events"


def test_lakepulse_home_moves_everything(tmp_path):
    config = load_config("local", environ={"LAKEPULSE_HOME": str(tmp_path)})
    assert config.paths.lake == f"{tmp_path}/lake"
    assert config.mlflow.artifact_root == f"{tmp_path}/mlflow/artifacts"


def test_cluster_config_parses():
    config = load_config("cluster", environ={})
    assert config.spark.master.startswith("spark://")
    assert config.privacy.require_key is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("generate:\n  seed: 42\n  sede: 1\n", "unknown key 'generate.sede'"),
        ("generate:\n  seed: forty\n", "key 'generate.seed': expected int, got str"),
        ("generate:\n  gzip: 3\n", "key 'generate.gzip': expected bool"),
        ("generate:\n  start: 2026-01-01\n", "key 'generate.start': expected str, got date"),
        ("extra: 1\n", "unknown key 'extra'"),
        ("Generate:\n  seed: 1\n", "unknown key 'Generate'"),
        ("spark: 5\n", "key 'spark': expected a section (mapping)"),
        ("spark:\n  conf:\n    spark.x: [1]\n", "key 'spark.conf.spark.x': expected a scalar, got list"),
        ("generate: [\n", "not valid YAML at line 2"),
        ("- generate\n", "expected a mapping at the top level"),
    ],
)
def test_bad_config_fails_with_one_line_naming_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config("local", path=path, environ={})
    text = str(info.value)
    assert str(path) in text and message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("overrides", "environ", "message"),
    [
        (["nope.x=1"], {}, "unknown key 'nope.x' (from --set)"),
        (["generate.sede=1"], {}, "unknown key 'generate.sede' (from --set)"),
        ([], {"LAKEPULSE__NOPE__X": "1"}, "unknown key 'nope.x' (from environment variable"),
        ([], {"LAKEPULSE__GENERATE__SEDE": "1"}, "unknown key 'generate.sede' (from environment variable"),
        ([], {"LAKEPULSE__GENERATE__DAYS": "x"}, "key 'generate.days': expected int, got str ('x')"),
        ([], {"LAKEPULSE__PRIVACY__REQUIRE_KEY": "maybe"}, "key 'privacy.require_key': expected bool"),
    ],
)
def test_bad_override_names_the_key_and_where_it_was_set(overrides, environ, message):
    with pytest.raises(ConfigError) as info:
        load_config("local", overrides=overrides, environ=environ)
    text = str(info.value)
    assert "conf/local.yaml" in text and message in text
    assert "\n" not in text


def test_a_file_omitting_a_key_gets_the_model_default(tmp_path):
    """A key is never required: what a file leaves out comes from the model (the old `missing key`)."""
    config = load_config("local", path=write(tmp_path, "generate:\n  days: 7\n"), environ={})
    assert config.generate.days == 7
    assert config.generate.seed == Config().generate.seed == 42
    assert config.models == Config().models


def test_overrides_from_command_line_and_environment(tmp_path):
    config = load_config(
        "local",
        overrides=["generate.customers=77", "spark.conf.spark.sql.ansi.enabled=true"],
        environ={"LAKEPULSE__GENERATE__DAYS": "9", "LAKEPULSE__SPARK__MASTER": "local[1]"},
    )
    assert config.generate.customers == 77
    assert config.generate.days == 9
    assert config.spark.master == "local[1]"
    assert config.spark.conf["spark.sql.ansi.enabled"] == "true"


def test_override_of_wrong_type_is_rejected():
    with pytest.raises(ConfigError, match="generate.customers"):
        load_config("local", overrides=["generate.customers=many"], environ={})


def test_unknown_environment_names_the_file():
    with pytest.raises(ConfigError, match=r"conf/staging\.yaml"):
        load_config("staging", environ={})


def test_bad_layer_is_rejected():
    with pytest.raises(ConfigError, match="unknown layer"):
        load_config("local", environ={}).table_path("platinum", "x")


def test_defaults_live_in_the_model_and_local_yaml_adds_only_its_own_keys():
    """Loading conf/local.yaml gives the model's default for every key the file does not set."""
    config = load_config("local", environ={})
    home = config.paths.home
    assert home == str(PROJECT_ROOT / Config().paths.home)
    loaded, defaults = leaves(config.model_dump()), leaves(Config().model_dump())
    assert loaded.keys() == defaults.keys()
    in_file = env_file_leaves("local")
    for key, default in defaults.items():
        if key in in_file or key in {("env",), ("source_file",), ("paths", "home")}:
            continue
        # paths, MLflow URIs and the metastore are resolved: {home} replaced by the absolute home
        resolved = key[0] in ("paths", "mlflow", "catalog") and isinstance(default, str)
        expected = default.replace("{home}", home) if resolved else default
        assert loaded[key] == expected, key


@pytest.mark.parametrize("env", available_envs())
def test_env_files_hold_only_what_differs_from_the_model_defaults(env):
    """Copying a default into an environment file fails here: the defaults have one home, the model."""
    defaults = leaves(Config().model_dump())
    in_file = env_file_leaves(env)
    for key, raw in in_file.items():
        value = raw
        if key[:2] == ("spark", "conf"):  # entries merge into the default map; Spark values are strings
            value = str(raw).lower() if isinstance(raw, bool) else str(raw)
        assert key in defaults or key[:2] == ("spark", "conf"), f"conf/{env}.yaml: unknown key {key}"
        assert defaults.get(key) != value, (
            f"conf/{env}.yaml repeats the default of {'.'.join(key)}: {value!r}"
        )
    load_config(env, environ={})  # and it validates


def test_precedence_default_then_file_then_environment_then_set(tmp_path):
    path = write(tmp_path, "generate:\n  days: 7\n")
    var = {"LAKEPULSE__GENERATE__DAYS": "8"}
    assert (
        load_config("local", path=write(tmp_path, "", "empty.yaml"), environ={}).generate.days
        == Config().generate.days
    )
    assert load_config("local", path=path, environ={}).generate.days == 7
    assert load_config("local", path=path, environ=var).generate.days == 8
    assert load_config("local", path=path, environ=var, overrides=["generate.days=9"]).generate.days == 9


def test_spark_conf_entries_merge_through_every_layer(tmp_path):
    path = write(tmp_path, "spark:\n  conf:\n    spark.executor.memory: 8g\n    spark.driver.memory: 2g\n")
    config = load_config(
        "local",
        path=path,
        environ={"LAKEPULSE__SPARK__CONF__spark.sql.ansi.enabled": "true"},
        overrides=["spark.conf.spark.sql.adaptive.coalescePartitions.enabled=false"],
    )
    conf = config.spark.conf
    assert conf["spark.executor.memory"] == "8g" and conf["spark.driver.memory"] == "2g"  # the file
    assert conf["spark.ui.showConsoleProgress"] == Config().spark.conf["spark.ui.showConsoleProgress"]
    assert conf["spark.sql.ansi.enabled"] == "true"  # the environment
    assert conf["spark.sql.adaptive.coalescePartitions.enabled"] == "false"  # --set keeps Spark's case


def test_environment_strings_become_typed_values():
    config = load_config(
        "cluster",
        environ={
            "LAKEPULSE__PRIVACY__REQUIRE_KEY": "false",
            "LAKEPULSE__GOLD__ANOMALY_THRESHOLD": "4",
            "LAKEPULSE__MODELS__SPLIT_GAP_DAYS": "-1",
            "LAKEPULSE__SPARK__APP_NAME": "123",
        },
        overrides=["generate.gzip=false", "generate.start=2025-02-01", "byod.path="],
    )
    assert config.privacy.require_key is False
    assert config.gold.anomaly_threshold == 4.0
    assert config.models.split_gap_days == -1
    assert config.spark.app_name == "123"
    assert config.generate.gzip is False
    assert config.generate.start == "2025-02-01"
    assert config.byod.path == ""
    assert config.env == "cluster" and config.source_file.endswith("conf/cluster.yaml")


def test_config_is_frozen_and_copied_with_changes():
    config = load_config("local", environ={})
    with pytest.raises(ValueError):
        config.env = "other"  # type: ignore[misc]
    copy = config.model_copy(update={"byod": config.byod.model_copy(update={"path": "/x.csv"})})
    assert copy.byod.path == "/x.csv" and config.byod.path == ""
