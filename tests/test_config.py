"""Config: typed parsing, one-line errors naming file and key, overrides, secrets only from env."""

from __future__ import annotations

import pytest

from lakepulse.config import PROJECT_ROOT, load_config
from lakepulse.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def base_yaml() -> str:
    return (PROJECT_ROOT / "conf" / "local.yaml").read_text(encoding="utf-8")


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
    ("edit", "message"),
    [
        (lambda t: t.replace("  seed: 42\n", "  seed: 42\n  sede: 1\n"), "unknown key 'generate.sede'"),
        (lambda t: t.replace("  seed: 42\n", ""), "missing key 'generate.seed'"),
        (
            lambda t: t.replace("  seed: 42\n", "  seed: forty\n"),
            "key 'generate.seed': expected int, got str",
        ),
        (lambda t: t.replace("  gzip: true\n", "  gzip: 3\n"), "key 'generate.gzip': expected bool"),
        (lambda t: t + "extra: 1\n", "unknown key 'extra'"),
    ],
)
def test_bad_config_fails_with_one_line_naming_file_and_key(tmp_path, edit, message):
    path = write(tmp_path, edit(base_yaml()))
    with pytest.raises(ConfigError) as info:
        load_config("local", path=path, environ={})
    text = str(info.value)
    assert str(path) in text and message in text
    assert "\n" not in text


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
