"""MLflow 3 conventions (issue 17, item 3): the gold tables a training read are its MLflow datasets, its
model is a LoggedModel carrying the test metrics, and each champion loads anywhere.

Both models are trained by their jobs on small synthetic lakes (tests/model_fixtures.py). Each champion
is then loaded by its registered name and alias in a fresh virtual environment that has only the
model's own requirements (its requirements.txt) installed: no lakepulse, and for pricing no Spark.
What it predicts there is compared with what lakepulse computes itself: the churn probabilities the
`score` job wrote to gold/churn_scores, and the pricing prediction lakepulse makes in-process and,
independently, from the champion's coefficients with numpy here.

The two loading tests share one virtual environment and run in file order: pricing first, while the
environment holds only its requirements (so the script can assert that Spark is absent), then churn,
which adds its own (pyspark).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from lakepulse.runtime import delta_io
from tests import model_fixtures as mf
from tests.conftest import load_job, make_config

CHURN_TRAIN = [
    *mf.CHURN_OVERRIDES,
    "models.as_of_every_days=3",
    "models.max_evals=1",
    "models.gbt_max_iter=5",
    "models.fairness_min_segment_size=20",
]
TOLERANCE = 1e-9  # relative: the same computation in another process, up to float formatting


def _store(config):
    from mlflow import MlflowClient

    from lakepulse.ml import tracking

    tracking.setup_mlflow(config)
    return MlflowClient(config.mlflow.tracking_uri, config.mlflow.registry_uri)


@pytest.fixture(scope="module")
def churn_trained(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("portable-churn") / "home"
    config = make_config(home, *CHURN_TRAIN)
    mf.write_churn_lake(spark, config, mf.churn_world(customers=300))
    assert load_job("train_churn").main(mf.job_args(home, *CHURN_TRAIN)) == 0
    assert load_job("score").main(mf.job_args(home, *CHURN_TRAIN)) == 0
    client = _store(config)
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("lakepulse.job") == "train_churn")
    return {"config": config, "client": client, "run": parent, "experiment": experiment.experiment_id}


@pytest.fixture(scope="module")
def pricing_trained(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("portable-pricing") / "home"
    config = make_config(home)
    mf.write_pricing_lake(spark, config, mf.pricing_world())
    assert load_job("train_pricing").main(mf.job_args(home)) == 0
    client = _store(config)
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    (run,) = client.search_runs([experiment.experiment_id])
    return {"config": config, "client": client, "run": run, "experiment": experiment.experiment_id}


# --------------------------------------------------------------------------------------------------
# Datasets and LoggedModels


def _datasets(run) -> list[tuple[str, str, dict]]:
    """(name, context, source) of every dataset input of a run."""
    out = []
    for d in run.inputs.dataset_inputs:
        context = next((t.value for t in d.tags if t.key == "mlflow.data.context"), None)
        out.append((d.dataset.name, context, json.loads(d.dataset.source)))
    return out


@pytest.mark.parametrize(
    ("which", "tables", "contexts"),
    [
        ("churn", ("customer_features", "churn_labels"), {"training", "validation", "test"}),
        ("pricing", ("product_demand_daily",), {"training", "test"}),
    ],
)
def test_training_inputs_are_the_pinned_gold_tables_as_mlflow_datasets(
    spark, request, which, tables, contexts
):
    trained = request.getfixturevalue(f"{which}_trained")
    config = trained["config"]
    run = trained["client"].get_run(trained["run"].info.run_id)
    logged = _datasets(run)
    for table in tables:
        path = config.table_path("gold", table)
        version = delta_io.table_version(spark, path)
        assert int(run.data.params[f"delta_version.gold.{table}"]) == version  # the params stay
        mine = [(name, context, source) for name, context, source in logged if source.get("path") == path]
        assert {context for _, context, _ in mine} == contexts, (table, logged)
        for name, _, source in mine:
            assert int(source["delta_table_version"]) == version
            assert name.startswith(f"gold.{table}@v{version}")
        # The source reads that very version back (time travel), whatever was written since.
        from mlflow.data.delta_dataset_source import DeltaDatasetSource

        reloaded = DeltaDatasetSource.from_dict(mine[0][2]).load()
        assert reloaded.count() == delta_io.read_delta(spark, path, version=version).count()
    assert len(logged) == len(tables) * len(contexts)


@pytest.mark.parametrize(
    ("which", "metric", "table", "elsewhere"),
    [
        ("churn", "test_roc_auc", "customer_features", "validation_roc_auc"),
        ("pricing", "test_rmse_log_units", "product_demand_daily", "mean_r2"),
    ],
)
def test_the_registered_model_is_a_logged_model_carrying_the_run_s_metrics(
    request, which, metric, table, elsewhere
):
    import mlflow

    trained = request.getfixturevalue(f"{which}_trained")
    client, run = _store(trained["config"]), trained["run"]
    (model,) = mlflow.search_logged_models(experiment_ids=[trained["experiment"]], output_format="list")
    assert model.name == "model" and model.source_run_id == run.info.run_id
    on_model = {m.key: m.value for m in model.metrics}
    assert on_model[metric] == pytest.approx(run.data.metrics[metric], rel=1e-12)
    assert all(m.model_id == model.model_id for m in model.metrics)
    # The test metric names the dataset it was measured on: the run's "test" input of the table.
    full = client.get_run(run.info.run_id)
    test_inputs = {
        d.dataset.name: d.dataset.digest
        for d in full.inputs.dataset_inputs
        if any(t.key == "mlflow.data.context" and t.value == "test" for t in d.tags)
    }
    linked = next(m for m in model.metrics if m.key == metric)
    assert linked.dataset_name.startswith(f"gold.{table}@v") and linked.dataset_name in test_inputs
    assert linked.dataset_digest == test_inputs[linked.dataset_name]
    assert next(m for m in model.metrics if m.key == elsewhere).dataset_name is None  # not from the test part
    # The version's source is the LoggedModel (MLflow 3.17.2's SQL registry leaves ModelVersion.model_id
    # empty, for mlflow.pyfunc.log_model's own models too).
    version = client.get_model_version(f"lakepulse-{which}", "1")
    assert version.source == f"models:/{model.model_id}"
    assert [o.model_id for o in client.get_run(run.info.run_id).outputs.model_outputs] == [model.model_id]


def test_the_churn_signature_returns_a_probability(churn_trained):
    from mlflow.models import get_model_info

    _store(churn_trained["config"])
    outputs = get_model_info("models:/lakepulse-churn@champion").signature.outputs
    assert [(c.name, c.type.name) for c in outputs.inputs] == [("churn_probability", "double")]


# --------------------------------------------------------------------------------------------------
# Each champion in a clean virtual environment


class CleanVenv:
    """A virtual environment made with `python -m venv` (no system site packages, no lakepulse), into
    which only a model's requirements are installed."""

    def __init__(self, root: Path):
        self.root = root
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, env=self.env())
        self.python = str(root / "bin" / "python")

    def env(self) -> dict[str, str]:
        """A minimal environment: no PYTHONPATH (the suite's points at lakepulse), no Spark settings."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "PIP_INDEX_URL", "PIP_CACHE_DIR")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env

    def install(self, requirements: str) -> None:
        done = subprocess.run(
            [self.python, "-m", "pip", "install", "-q", "-r", requirements],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    def run(self, script: str, *args: str) -> str:
        """Runs `script` with this environment's python; returns the tail of its output (for messages).

        From a file, not `python -c`: under -c, the churn model's predict exited with status 0 before
        the script's next line (pyspark printing "Skipping doctests: No module named 'grpc'")."""
        path = self.root / "script.py"
        path.write_text(script, encoding="utf-8")
        done = subprocess.run(
            [self.python, str(path), *args], env=self.env(), capture_output=True, text=True, timeout=600
        )
        tail = f"{done.stdout[-2000:]}\n{done.stderr[-5000:]}"
        assert done.returncode == 0, tail
        return tail


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> CleanVenv:
    return CleanVenv(tmp_path_factory.mktemp("portable-venv") / "venv")


# Run by the clean environment's python: argv = tracking URI, registry URI, model URI, input parquet,
# output JSON, and "no-spark" when Spark must be absent too.
LOAD_AND_PREDICT = """
import importlib.util, json, sys
assert importlib.util.find_spec("lakepulse") is None, "lakepulse is importable"
if sys.argv[6:] == ["no-spark"]:
    assert importlib.util.find_spec("pyspark") is None, "pyspark is installed"
import mlflow, numpy as np, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_registry_uri(sys.argv[2])
model = mlflow.pyfunc.load_model(sys.argv[3])
out = model.predict(pd.read_parquet(sys.argv[4]))
if isinstance(out, pd.DataFrame):
    out = {c: out[c].tolist() for c in out.columns}
else:
    out = {"prediction": [float(x) for x in np.asarray(out, dtype=float)]}
with open(sys.argv[5], "w") as handle:
    json.dump(out, handle)
"""


def _requirements(uri: str) -> tuple[str, list[str]]:
    """The model's requirements.txt (downloaded by MLflow) and its lines."""
    import mlflow.pyfunc

    path = mlflow.pyfunc.get_model_dependencies(uri)
    lines = [x.strip() for x in Path(path).read_text().splitlines() if x.strip() and not x.startswith("#")]
    return path, lines


def _predict_in_venv(venv: CleanVenv, config, uri: str, rows: pd.DataFrame, work: Path, *flags: str) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(work / "rows.parquet", index=False)
    out = work / "out.json"
    tail = venv.run(
        LOAD_AND_PREDICT,
        config.mlflow.tracking_uri,
        config.mlflow.registry_uri,
        uri,
        str(work / "rows.parquet"),
        str(out),
        *flags,
    )
    assert out.exists(), tail
    return json.loads(out.read_text())


def _independent_pricing(fits, rows: pd.DataFrame) -> np.ndarray:
    """exp(intercept + e log p + the controls' terms) x smearing, from the coefficients, in numpy:
    the documented model written out here, not the module the model runs."""
    out = []
    for r in rows.itertuples(index=False):
        f = fits[r.category]
        values = {f"dow_{d}": float(r.day_of_week == d) for d in range(2, 8)}
        values.update(promo_share=r.promo_share, temp_c=r.temp_c, precipitation_mm=r.precipitation_mm)
        log_units = f.intercept + f.elasticity * math.log(r.price)
        log_units += sum(coef * values[name] for name, coef in f.controls.items())
        out.append(math.exp(log_units) * f.smearing)
    return np.array(out)


def test_pricing_champion_loads_and_predicts_without_lakepulse_or_spark(
    spark, pricing_trained, venv, tmp_path
):
    from lakepulse.ml import pricing

    config = pricing_trained["config"]
    _store(config)
    uri = "models:/lakepulse-pricing@champion"
    path, requirements = _requirements(uri)
    names = {r.split("==")[0].lower() for r in requirements}
    assert "pyspark" not in names and not any("lakepulse" in r for r in requirements), requirements
    venv.install(path)

    demand = delta_io.read_delta(spark, config.table_path("gold", "product_demand_daily")).toPandas()
    bought = demand[demand["purchases"] > 0].sort_values(["date", "product_id"]).tail(8)
    rows = pricing.model_input_example(bought)
    got = _predict_in_venv(venv, config, uri, rows, tmp_path, "no-spark")["expected_units_per_purchase"]

    _, champion = pricing.load_champion(config)
    project = champion.predict(None, rows)["expected_units_per_purchase"].to_numpy(float)
    independent = _independent_pricing(champion.category_fits(), rows)
    assert np.all(np.isfinite(project)) and len(got) == len(rows)
    np.testing.assert_allclose(got, project, rtol=TOLERANCE)
    np.testing.assert_allclose(got, independent, rtol=1e-9)


def test_churn_champion_loads_and_gives_the_scored_probabilities_without_lakepulse(
    spark, churn_trained, venv, tmp_path
):
    from mlflow.models import get_model_info

    config = churn_trained["config"]
    _store(config)
    uri = "models:/lakepulse-churn@champion"
    path, requirements = _requirements(uri)
    assert "pyspark==4.2.0" in requirements and not any("lakepulse" in r for r in requirements)
    venv.install(path)

    # The project's own scores (the score job, already run) of a few customers, and their features as
    # of the same date, fed as scoring feeds them: the signature's columns, numbers as doubles.
    scores = delta_io.read_delta(spark, config.table_path("gold", "churn_scores"))
    sample = scores.orderBy("customer_key").limit(8)
    inputs = get_model_info(uri).signature.inputs.input_names()
    features = delta_io.read_delta(spark, config.table_path("gold", "customer_features"))
    kinds = dict(features.dtypes)
    joined = (
        sample.join(features, on=["customer_key", "as_of_date"])
        .orderBy("customer_key")
        .select(
            "churn_probability",
            *[(F.col(c) if kinds[c] == "string" else F.col(c).cast("double")).alias(c) for c in inputs],
        )
        .toPandas()
    )
    assert len(joined) == 8
    got = _predict_in_venv(venv, config, uri, joined[inputs], tmp_path)["prediction"]
    expected = joined["churn_probability"].to_numpy(float)
    assert not set(got) <= {0.0, 1.0}, got  # probabilities, not the 0/1 decision
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=1e-12)


LOG_FROM_ZIP = """
import sys, tempfile
import lakepulse
assert ".zip" in lakepulse.__file__, lakepulse.__file__
import mlflow, numpy as np, pandas as pd
from lakepulse.ml.demand_model import CategoryFit
from lakepulse.ml.pricing_tracking import log_model
mlflow.set_tracking_uri(sys.argv[1])
fit = CategoryFit("toys", -1.5, 0.1, -1.7, -1.3, 0.9, 10, 10, None, None, 2.0, {"promo_share": 0.2}, {}, 1.1)
frame = pd.DataFrame({"category": ["toys"] * 2, "log_price": [3.0, 3.2], "day_of_week": [2, 5],
                      "promo_share": [0.0, 0.5], "temp_c": [10.0, 12.0], "precipitation_mm": [0.0, 1.0]})
with mlflow.start_run(), tempfile.TemporaryDirectory() as work:
    info = log_model(frame, {"toys": fit}, work)
rows = pd.DataFrame({"category": ["toys"], "price": [20.0], "day_of_week": np.array([2], dtype="int32"),
                     "promo_share": [0.5], "temp_c": [10.0], "precipitation_mm": [0.0]})
got = mlflow.pyfunc.load_model(info.model_uri).predict(rows)["expected_units_per_purchase"][0]
print(repr(float(got)))
"""


def test_the_pricing_model_is_logged_when_lakepulse_is_imported_from_a_zip(tmp_path):
    """Under spark-submit the driver imports lakepulse from build/lakepulse.zip (--py-files), where
    demand_pyfunc's __file__ is no file MLflow can copy: the model's code is written out first."""
    import zipfile

    libs = Path(__file__).resolve().parents[1] / "libs"
    archive = tmp_path / "lakepulse.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for p in sorted((libs / "lakepulse").rglob("*.py")):
            out.write(p, p.relative_to(libs))
    # No MLFLOW_* either: the suite's own experiment id (set by earlier tests) names no experiment there.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(archive)
    done = subprocess.run(
        [sys.executable, "-c", LOG_FROM_ZIP, f"sqlite:///{tmp_path / 'mlflow.db'}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # exp(2.0 - 1.5 log 20 + 0.2 x 0.5) x 1.1, the fit written out by hand.
    assert float(done.stdout.strip().splitlines()[-1]) == pytest.approx(
        math.exp(2.0 - 1.5 * math.log(20.0) + 0.2 * 0.5) * 1.1, rel=1e-12
    )
