"""The main job, end to end on the shared sample: every step runs, the summary tells where things are,
the champions are registered, scores are written, and a second run changes nothing and costs little."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakepulse.config import load_config
from lakepulse.jobs.pipeline import STEP_NAMES
from tests.conftest import PIPELINE_SAMPLE, job_argv, load_job
from tests.delta_read import rs_count

pytestmark = pytest.mark.slow


def _tables(config) -> dict[str, int]:
    """Row counts of every Delta table of the lake, read with delta-rs (not the Spark that wrote them)."""
    counts = {}
    for layer in ("bronze", "silver", "gold"):
        root = Path(config.paths.lake) / layer
        for path in sorted(root.iterdir()) if root.is_dir() else []:
            if (path / "_delta_log").is_dir() and not path.name.startswith("_"):  # not bookkeeping
                counts[f"{layer}/{path.name}"] = rs_count(str(path))
    return counts


def test_every_step_runs_and_the_summary_names_the_results(pipeline_lake):
    out, config = pipeline_lake.output, pipeline_lake.config
    for name in STEP_NAMES:
        assert re.search(rf"^{name}\s+done\s+\S*\s+\d+\.\d$", out, re.M), f"no progress line for {name}"
    report = Path(config.paths.reports) / "index.html"
    assert report.is_file() and f"Report:      {report}" in out
    assert "make mlflow-ui" in out
    # The summary's row counts are the tables' own (read independently).
    for table, rows in _tables(config).items():
        assert re.search(rf"^  {re.escape(table)}\s+{rows}$", out, re.M), f"summary lacks {table} {rows}"
    # Quarantine counts per (source, reason), as delta-rs reads them.
    quarantine = DeltaTable(f"{config.paths.lake}/bronze/quarantine").to_pandas(columns=["source", "reason"])
    assert len(quarantine) > 0  # the sample's bad-record mix lands there
    for (source, reason), n in quarantine.groupby(["source", "reason"]).size().items():
        assert re.search(rf"^  {source}\s+{re.escape(reason)}\s+{n}$", out, re.M)


def test_champions_are_registered_and_scores_written(pipeline_lake):
    from mlflow import MlflowClient

    config = pipeline_lake.config
    client = MlflowClient(tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri)
    churn = client.get_model_version_by_alias("lakepulse-churn", "champion")
    pricing = client.get_model_version_by_alias("lakepulse-pricing", "champion")
    auc = client.get_run(churn.run_id).data.metrics["test_roc_auc"]
    assert re.search(
        rf"lakepulse-churn\s+v{churn.version} \(champion\)\s+test_roc_auc={auc:.4f}", pipeline_lake.output
    )
    assert f"lakepulse-pricing   v{pricing.version} (champion)" in pipeline_lake.output

    # Scores: one row per customer of the latest feature snapshot, by the champion's version.
    features = DeltaTable(f"{config.paths.lake}/gold/customer_features").to_pandas(
        columns=["customer_key", "as_of_date"]
    )
    latest = features[features["as_of_date"] == features["as_of_date"].max()]
    scores = DeltaTable(f"{config.paths.lake}/gold/churn_scores").to_pandas()
    assert set(scores["as_of_date"]) == {latest["as_of_date"].iloc[0]}
    assert scores["customer_key"].is_unique
    assert set(scores["customer_key"]) <= set(latest["customer_key"]) and len(scores) > 0
    assert set(scores["model_version"].astype(str)) == {str(churn.version)}
    assert scores["churn_probability"].between(0, 1).all()

    recommendations = DeltaTable(f"{config.paths.lake}/gold/price_recommendations").to_pandas()
    assert len(recommendations) > 0


RERUN_SKIPS = ("train_churn", "train_pricing", "maintain", "report")


def test_a_second_run_changes_no_table(pipeline_lake):
    """Rerunning the main job over the same landing data is safe: every table keeps its rows. (Training,
    maintenance and the report are skipped here to keep the suite short: the registry tests show a
    retraining moves the champion only for a strictly better model, test_maintain that maintenance
    keeps every row.)"""
    config = pipeline_lake.config
    before = _tables(config)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = load_job("pipeline").main(
            [*job_argv(config.paths.home, *PIPELINE_SAMPLE), *[a for s in RERUN_SKIPS for a in ("--skip", s)]]
        )
    assert code == 0, out.getvalue()[-2000:]
    assert re.search(r"^generate\s+skipped: landing data already present", out.getvalue(), re.M)
    after = _tables(config)
    # Maintenance logs one row per table and run, and the report run is recorded; nothing else grows.
    grew = {t for t in after if after[t] != before.get(t)}
    assert not grew, grew  # the bookkeeping that a run adds to (audit, expectation results) is in _ops
    assert set(after) == set(before)


def test_a_failing_step_is_named_and_stops_the_run(tmp_path, capsys):
    home = tmp_path / "home"
    code = load_job("pipeline").main([*job_argv(home), "--only", "features"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and "step 'features' failed" in err[0], err


def test_sample_data_only_where_the_config_allows_it(tmp_path, capsys):
    """`generate.when` decides: never (conf/cluster.yaml) skips the step on an empty landing folder and
    refuses --generate; asked runs it only with --generate. Nothing else runs (--only generate)."""
    cluster = load_config("cluster", environ={})
    assert (
        cluster.generate.when == "never" and load_config("local", environ={}).generate.when == "empty_landing"
    )
    tiny = ("generate.customers=20", "generate.days=3")

    never = tmp_path / "never"
    code = load_job("pipeline").main([*job_argv(never, *tiny, "generate.when=never"), "--only", "generate"])
    out = capsys.readouterr().out
    assert code == 0 and re.search(r"^generate\s+skipped: generate.when is 'never'", out, re.M), out
    assert not (never / "landing").exists() or not any((never / "landing").iterdir())

    code = load_job("pipeline").main(
        [*job_argv(never, *tiny, "generate.when=never"), "--only", "generate", "--generate"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "generate.when to 'never'" in err[0], err

    asked = tmp_path / "asked"
    argv = [*job_argv(asked, *tiny, "generate.when=asked"), "--only", "generate"]
    assert load_job("pipeline").main(argv) == 0
    assert re.search(r"^generate\s+skipped: generate.when is 'asked'", capsys.readouterr().out, re.M)
    assert load_job("pipeline").main([*argv, "--generate"]) == 0
    assert re.search(r"^generate\s+done", capsys.readouterr().out, re.M)
    assert (asked / "landing" / "_truth" / "manifest.json").is_file()


def test_the_library_pipeline_has_no_sample_step(tmp_path, capsys):
    from lakepulse.jobs import pipeline

    assert pipeline.main([*job_argv(tmp_path / "home"), "--only", "generate"]) == 0
    assert re.search(r"^generate\s+skipped: no sample kit", capsys.readouterr().out, re.M)
