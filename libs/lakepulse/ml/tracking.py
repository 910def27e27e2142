"""MLflow set up from the configuration, and the lineage every training run records.

Tracking and registry URIs come from `config.mlflow` (locally a SQLite file under the run's home); the
experiment is created with `artifact_location=config.mlflow.artifact_root`, so nothing ever lands in a
./mlruns folder of whatever directory a job happens to start in. Each run logs the Delta version of
every table it read, and reads exactly that version, so a run can be reproduced with time travel.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.runtime import delta_io

log = logging.getLogger("lakepulse.ml")

# Libraries a logged model needs at load time, pinned like setup.py. Given explicitly because MLflow's
# own inference of requirements loads the model in a subprocess, which costs a Spark start per model.
# The pricing pyfunc (`demand_pyfunc`) needs no Spark; the churn model is a Spark ML pipeline.
PYFUNC_REQUIREMENTS = ("mlflow==3.17.2", "pandas==2.3.3", "numpy==2.4.6")
MODEL_REQUIREMENTS = ("pyspark==4.2.0", *PYFUNC_REQUIREMENTS)


def _local_path(uri: str) -> str | None:
    if uri.startswith("sqlite:///"):
        return uri[len("sqlite:///") - 1 :] if uri.startswith("sqlite:////") else uri[len("sqlite:///") :]
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if "://" not in uri:
        return uri
    return None


def ensure_local_dirs(config: Config) -> None:
    """Creates the SQLite store's folder and a local artifact root; remote stores are left alone."""
    for uri in (config.mlflow.tracking_uri, config.mlflow.registry_uri):
        path = _local_path(uri) if uri.startswith("sqlite:") else None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    root = _local_path(config.mlflow.artifact_root)
    if root:
        Path(root).mkdir(parents=True, exist_ok=True)


def setup_mlflow(config: Config) -> str:
    """Points MLflow at the configured stores and returns the experiment id (created on first use)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow import MlflowClient

    ensure_local_dirs(config)
    mlflow.set_tracking_uri(config.mlflow.tracking_uri)
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    if experiment is None:
        experiment_id = client.create_experiment(
            config.mlflow.experiment, artifact_location=config.mlflow.artifact_root
        )
    else:
        if experiment.lifecycle_stage != "active":
            raise LakepulseError(
                f"MLflow experiment {config.mlflow.experiment!r} is deleted in {config.mlflow.tracking_uri}: "
                "restore it or set mlflow.experiment to another name"
            )
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def dfs_tmpdir(config: Config) -> str:
    """Where Spark ML models are staged on their way into and out of MLflow (shared storage on a cluster)."""
    return f"{config.paths.home.rstrip('/')}/mlflow/dfs_tmp"


def read_pinned(spark: SparkSession, config: Config, layer: str, table: str) -> tuple[DataFrame, int]:
    """The table at its current version, and that version: a run trains on exactly what it logs."""
    path = config.table_path(layer, table)
    version = delta_io.table_version(spark, path)
    if version is None:
        raise LakepulseError(f"no Delta table {layer}/{table} at {path}: run the job that writes it first")
    return delta_io.read_delta(spark, path, version=version), version


def log_table_versions(config: Config, versions: Mapping[str, int]) -> None:
    """Logs `{"silver/events": 3, ...}` as params `delta_version.<layer>.<table>` and the paths as tags."""
    import mlflow

    mlflow.log_params({f"delta_version.{name.replace('/', '.')}": int(v) for name, v in versions.items()})
    mlflow.set_tags(
        {f"delta_path.{name.replace('/', '.')}": config.table_path(*name.split("/", 1)) for name in versions}
    )


def delta_dataset(config: Config, name: str, version: int, df: DataFrame, part: str | None = None):
    """An MLflow dataset for a gold table read at `version`: its source is the Delta path and version
    (`DeltaDatasetSource`, so `dataset.source.load()` time-travels to exactly those rows), its schema
    the table's. Only metadata (`MetaDataset`): `mlflow.data.from_spark` would also profile the rows
    with a Python pass over the RDD when logged, and nothing here needs the rows. `part` (e.g. "as-of
    dates 2026-03-01..2026-03-15") names the slice of the table a context used."""
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.spark_dataset import SparkDataset

    # The version as text: MLflow 3.17.2's DeltaDatasetSource.to_dict drops a falsy version, so a table's
    # version 0 would be logged as no version and `source.load()` would read the latest one instead;
    # Spark's versionAsOf takes "0" as it takes 0.
    source = DeltaDatasetSource(path=config.table_path(*name.split("/", 1)), delta_table_version=str(version))
    # SparkDataset.schema reads the DataFrame's schema only (no job).
    schema = SparkDataset(df=df, source=source).schema
    label = f"{name.replace('/', '.')}@v{version}" + (f" [{part}]" if part else "")
    return MetaDataset(source=source, name=label, schema=schema)


def log_delta_inputs(
    config: Config,
    frames: Mapping[str, DataFrame],
    versions: Mapping[str, int],
    parts: Mapping[str, str | None],
) -> dict[str, list]:
    """Logs every pinned table as an input of the active run once per context ("training",
    "validation", "test": `parts` maps each to the slice it used) and returns the datasets by context,
    so metrics can name the dataset they were computed on."""
    import mlflow

    logged: dict[str, list] = {}
    for context, part in parts.items():
        datasets = [
            delta_dataset(config, name, versions[name], frames[name], part) for name in sorted(frames)
        ]
        mlflow.log_inputs(
            datasets=datasets, contexts=[context] * len(datasets), tags_list=[None] * len(datasets)
        )
        logged[context] = datasets
    return logged


def log_model_metrics(model_id: str, metrics: Mapping[str, float], tested: set[str], dataset=None) -> None:
    """Logs `metrics` on the run and its LoggedModel; those named in `tested` (computed on the test part)
    also linked to `dataset`, the test part's MLflow dataset, so the model's page in the UI says on
    which table version and slice each was measured."""
    import math

    import mlflow

    finite = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}
    on_test = {k: v for k, v in finite.items() if k in tested}
    if on_test:
        mlflow.log_metrics(on_test, model_id=model_id, dataset=dataset)
    rest = {k: v for k, v in finite.items() if k not in tested}
    if rest:
        mlflow.log_metrics(rest, model_id=model_id)
