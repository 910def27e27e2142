"""spark-submit.sh: the one launcher, its help, and its one-line errors with exit code 2."""

from __future__ import annotations

import subprocess

import pytest

from lakepulse.config import PROJECT_ROOT

SUBMIT = str(PROJECT_ROOT / "spark-submit.sh")


def submit(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([SUBMIT, *args], capture_output=True, text=True, timeout=300, env=env)


def test_help_lists_every_job_with_one_line():
    result = submit("--help")
    assert result.returncode == 0
    jobs = sorted(p.stem for p in (PROJECT_ROOT / "jobs").glob("*.py"))
    listed = [
        line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and line.split()
    ]
    assert sorted(listed) == jobs
    for line in result.stdout.splitlines():
        if line.startswith("  ") and line.split()[0] in jobs:
            assert len(line.split()) > 2, f"job without a description: {line!r}"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("no_such_job",), "unknown job 'no_such_job'"),
        (("--env", "staging", "pipeline"), "unknown environment 'staging'"),
        (("--remote", "sc://127.0.0.1:1", "--master", "local[1]", "kpis"), "--master and --remote exclude"),
        (
            ("--remote", "sc://127.0.0.1:1", "--executor-memory", "1g", "kpis"),
            "with --remote the Connect server",
        ),
    ],
)
def test_unknown_job_or_environment_is_one_line_and_exit_2(args, needle):
    result = submit(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0]


def test_a_submission_keeps_its_own_settings_and_delta_is_added_to_its_extensions():
    from lakepulse.errors import ConfigError
    from lakepulse.runtime.session import missing_from_submission
    from lakepulse.runtime.spark_conf import DELTA_CONF

    ours = {**DELTA_CONF, "spark.sql.shuffle.partitions": "8", "spark.sql.session.timeZone": "UTC"}
    submitted = {"spark.sql.shuffle.partitions": "7", "spark.sql.extensions": "com.example.Ext"}
    assert missing_from_submission(ours, submitted) == {
        "spark.sql.catalog.spark_catalog": DELTA_CONF["spark.sql.catalog.spark_catalog"],
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.extensions": f"com.example.Ext,{DELTA_CONF['spark.sql.extensions']}",
    }
    with pytest.raises(ConfigError, match="spark_catalog is com.example.Catalog from the submission"):
        missing_from_submission(ours, {"spark.sql.catalog.spark_catalog": "com.example.Catalog"})


@pytest.mark.slow
def test_a_users_spark_submit_options_win_over_the_environment_and_their_jars_are_added(tmp_path):
    """A real submission: the user's --conf and --driver-memory against conf/local.yaml's values, and a
    user --jars beside the Delta jars (the ingest writing a Delta table proves those are still there)."""
    import json
    import os
    import zipfile

    from deltalake import DeltaTable

    home, logs = tmp_path / "home", tmp_path / "eventlogs"
    logs.mkdir()
    weather = tmp_path / "weather.csv"
    weather.write_text(
        "date,country,city,temp_c,precipitation_mm,condition\n2026-01-01,FR,Paris,4.5,0.0,cloudy\n"
    )
    user_jar = tmp_path / "user-own.jar"
    with zipfile.ZipFile(user_jar, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    env = {k: v for k, v in os.environ.items() if k != "LAKEPULSE_HOME"}
    result = submit(
        *("--conf", "spark.sql.shuffle.partitions=7", "--driver-memory", "1234m", "--jars", str(user_jar)),
        *("--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir=file://{logs}"),
        *("--conf", "spark.eventLog.compress=false", "--conf", "spark.eventLog.rolling.enabled=false"),
        *("ingest", "--source", "weather", "--path", str(weather), "--set", f"paths.home={home}"),
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # One plain JSON-lines file (Spark 4 would otherwise roll and compress it with zstd).
    files = [path for path in logs.rglob("*") if path.is_file() and not path.name.startswith(".")]
    events = [json.loads(line) for path in files for line in path.read_text().splitlines() if line.strip()]
    (props,) = [e["Spark Properties"] for e in events if e["Event"] == "SparkListenerEnvironmentUpdate"]
    assert (props["spark.sql.shuffle.partitions"], props["spark.driver.memory"]) == ("7", "1234m")
    jars = props["spark.jars"].split(",")
    assert any(j.endswith("/user-own.jar") for j in jars) and any("/delta-spark_" in j for j in jars), jars
    assert DeltaTable(str(home / "lake" / "bronze" / "weather")).to_pyarrow_table().num_rows == 1
