"""One churn training: the steps of the other churn modules in order, under one MLflow parent run.

Kept as a short composition so that the order the run logs things in (inputs, trials, test metrics,
fairness, plots, model) reads in one place, and each step can be tested and changed on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.ml.churn import evaluation, promotion, search
from lakepulse.ml.churn.data import Split, SplitRows, TrainingData, load_training_data
from lakepulse.ml.churn.features import with_missing_indicators
from lakepulse.ml.churn.pipelines import with_score

# MLflow's dataset context of each part of the time split.
FEATURES_DATASET = "gold.customer_features@"  # the name `tracking.delta_dataset` gives the features table
CONTEXTS = {"training": "train", "validation": "validation", "test": "test"}


@dataclass(frozen=True)
class ChurnRun:
    """What train_churn prints, returned rather than read back from MLflow, so printing needs no run
    lookups against a tracking server."""

    run_id: str
    promotion: object  # registry.Promotion
    best_family: str
    metrics: dict[str, float]
    fairness_flags: tuple[str, ...]
    fairness_lines: tuple[str, ...]
    split: Split


def train(spark: SparkSession, config: Config) -> ChurnRun:
    """Everything one train_churn run does (tune both families, test the best, audit fairness, register
    and promote) under one MLflow parent run, so that its trials, metrics, plots and model version are
    all found from one run id."""
    import mlflow

    from lakepulse.ml import tracking

    tracking.setup_mlflow(config)
    data = load_training_data(spark, config)
    rows = SplitRows.cache(data.rows, data.split)
    try:
        sizes = rows.sizes()
        rows.labelled.unpersist()
        data = dataclasses.replace(data, spec=with_missing_indicators(rows.train, data.spec))
        if min(sizes.values()) == 0:
            raise LakepulseError(
                f"churn: an empty split ({sizes}); the features have no customer on those dates"
            )
        with mlflow.start_run(run_name="train_churn") as parent:
            return _train_in_run(config, data, rows, sizes, parent.info.run_id)
    finally:
        rows.unpersist()


def _train_in_run(config: Config, data: TrainingData, rows: SplitRows, sizes: dict, run_id: str) -> ChurnRun:
    """The steps inside the parent run, apart from `train` so that the cached splits are released
    there whatever fails here."""
    from lakepulse.ml import tracking

    test_dataset = _log_inputs(config, data, sizes)
    best = search.tune(rows.train, rows.validation, data.spec, config)
    scored = with_score(best.model.transform(rows.test)).persist()
    metrics, baseline = evaluation.test_metrics(config, best, scored)
    report, fairness_metrics = evaluation.audit_fairness(scored, config)
    metrics.update(fairness_metrics)
    model = promotion.log_model(config, best, rows.test, data.spec, run_id)
    # Linked to the LoggedModel as well as the run (the model's own page and search_logged_models show
    # them), and all but the validation AUC to the test part's dataset they were computed on.
    tracking.log_model_metrics(model.model_id, metrics, set(metrics) - {"validation_roc_auc"}, test_dataset)
    evaluation.log_plots(best, scored, baseline)
    window = promotion.window_of(data.split, data.versions, int(sizes["test_rows"]))
    result = promotion.register(config, model, rows.test, run_id, metrics, window)
    scored.unpersist()
    return ChurnRun(run_id, result, best.family, metrics, report.flagged, tuple(report.lines()), data.split)


def _active(active_days: int) -> str:
    if active_days == 0:
        return "active = any event before the as-of date"
    return f"active in the {active_days} days before the as-of date"


def _log_inputs(config: Config, data: TrainingData, sizes: dict[str, float]):
    """What the run trained on, logged before any trial, so that a run which fails in the search still
    says which data, label settings and split it had; returns the test part's features dataset."""
    import mlflow

    from lakepulse.ml import tracking

    spec, split = data.spec, data.split
    mlflow.set_tags({"lakepulse.job": "train_churn", "lakepulse.env": config.env})
    mlflow.log_params(
        {
            "label": (
                f"{_active(config.gold.churn_active_days)}; churned = "
                f"cancel or no event in the {config.gold.churn_horizon_days} days from it"
            ),
            "churn_horizon_days": config.gold.churn_horizon_days,
            "churn_active_days": config.gold.churn_active_days,
            "as_of_every_days": config.models.as_of_every_days,
            "max_evals": config.models.max_evals,
            "startup_trials": search.startup_trials(config.models.max_evals),
            "patience": config.models.patience,
            "gbt_max_iter": config.models.gbt_max_iter,
            "seed": config.models.seed,
            "numeric_features": len(spec.numeric),
            "categorical_features": ",".join(spec.categorical),
            "missing_indicators": len(spec.with_missing),
            **split.describe(),
        }
    )
    tracking.log_table_versions(config, data.versions)
    # The gold tables as MLflow datasets (Delta path and version), once per part of the time split.
    spans = split.describe()
    parts = {c: f"as-of dates {spans['split_' + p]}" for c, p in CONTEXTS.items()}
    logged = tracking.log_delta_inputs(config, data.tables, data.versions, parts)
    mlflow.log_dict(
        {name: [d.isoformat() for d in getattr(split, name)] for name in ("train", "validation", "test")},
        "split.json",
    )
    mlflow.log_metrics(sizes)
    return next(d for d in logged["test"] if d.name.startswith(FEATURES_DATASET))
