"""Hyperparameter search for the churn model: hyperopt's TPE over each family, one MLflow run per trial.

TPE proposes all but the first quarter of a family's budget (`startup_trials`), and a family's search
stops early after `models.patience` trials without progress. Hyperopt runs with plain `Trials`, a driver-side loop in which each trial fits a distributed Spark ML
pipeline and is one nested MLflow run under the training's parent run. `SparkTrials` is not used: it
runs each trial inside a Spark task, where a Spark ML fit (itself Spark jobs) cannot run.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from lakepulse.config import Config
from lakepulse.ml.churn.features import LABEL, SCORE, FeatureSpec
from lakepulse.ml.churn.metrics import log_loss, pr_auc, roc_auc
from lakepulse.ml.churn.pipelines import FAMILIES, build_pipeline, with_score

log = logging.getLogger("lakepulse.ml")


def startup_trials(max_evals: int) -> int:
    """Random draws before TPE proposes: a quarter of the budget, at least one. Hyperopt's default (20
    draws) would make every trial of a budget of 20 or less a random draw, so TPE would never propose."""
    return max(1, math.ceil(max_evals / 4))


def algorithm(max_evals: int):
    """TPE with its start-up sized from the budget (hyperopt's `algo` argument)."""
    from hyperopt import tpe

    return functools.partial(tpe.suggest, n_startup_jobs=startup_trials(max_evals))


def early_stop(patience: int):
    """Stops a family's search after `patience` trials without a better validation ROC AUC (0: never)."""
    from hyperopt.early_stop import no_progress_loss

    return no_progress_loss(iteration_stop_count=patience) if patience > 0 else None


def search_space(family: str, gbt_max_iter: int):
    """Hyperopt's space for a family. The number of trees is capped by `models.gbt_max_iter`, since it
    is what a boosted-trees trial's cost grows with."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    if family == "logistic_regression":
        return {
            "regParam": hp.loguniform("regParam", math.log(1e-4), math.log(0.3)),
            "elasticNetParam": hp.uniform("elasticNetParam", 0.0, 1.0),
        }
    top = max(gbt_max_iter, 4)
    low = max(2, min(10, top // 2))
    return {
        "maxDepth": scope.int(hp.quniform("maxDepth", 2, 5, 1)),
        "maxIter": scope.int(hp.quniform("maxIter", low, top, 5 if top - low >= 10 else 1)),
        "stepSize": hp.loguniform("stepSize", math.log(0.03), math.log(0.3)),
        "subsamplingRate": hp.uniform("subsamplingRate", 0.6, 1.0),
        "minInstancesPerNode": scope.int(hp.quniform("minInstancesPerNode", 1, 20, 1)),
    }


@dataclass
class Trial:
    """One fitted trial; `model` is dropped for all but the best of its family, so a search holds one
    fitted pipeline per family in memory, not one per trial."""

    family: str
    params: dict
    run_id: str
    validation: dict[str, float]
    model: PipelineModel | None = field(default=None, repr=False)


def tune_family(
    family: str, train: DataFrame, validation: DataFrame, spec: FeatureSpec, config: Config
) -> list[Trial]:
    """Hyperopt TPE over one family; every trial is a nested MLflow run. Returns the trials, best first."""
    import mlflow
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin

    budget = max(config.models.max_evals, 1)
    trials: list[Trial] = []

    def objective(params: dict) -> dict:
        with mlflow.start_run(run_name=f"{family}-{len(trials) + 1}", nested=True) as run:
            mlflow.set_tags({"lakepulse.family": family, "lakepulse.trial": str(len(trials) + 1)})
            mlflow.log_params({"family": family, **params})
            model = build_pipeline(spec, family, params, config.models.seed).fit(train)
            # Scored once for the three metrics (each is its own pass), not once per metric.
            scored = with_score(model.transform(validation)).select(SCORE, LABEL).persist()
            try:
                metrics = {
                    "validation_roc_auc": roc_auc(scored),
                    "validation_pr_auc": pr_auc(scored),
                    "validation_log_loss": log_loss(scored),
                }
            finally:
                scored.unpersist()
            mlflow.log_metrics(metrics)
        trial = Trial(family, dict(params), run.info.run_id, metrics, model)
        trials.append(trial)
        best = max(trials, key=lambda t: t.validation["validation_roc_auc"])
        for t in trials:  # keep only the best model of the family in memory
            if t is not best:
                t.model = None
        how = "random draw" if len(trials) <= startup_trials(budget) else "TPE proposal"
        log.info(
            "churn search: %s trial %d of at most %d (%s): validation ROC AUC %.4f, best so far %.4f; %s",
            family, len(trials), budget, how, metrics["validation_roc_auc"],
            best.validation["validation_roc_auc"], params,
        )  # fmt: skip
        return {"loss": -metrics["validation_roc_auc"], "status": STATUS_OK}

    fmin(
        objective,
        search_space(family, config.models.gbt_max_iter),
        algo=algorithm(budget),
        max_evals=budget,
        trials=Trials(),
        rstate=np.random.default_rng(config.models.seed),
        early_stop_fn=early_stop(config.models.patience),
        show_progressbar=False,
    )
    return sorted(trials, key=lambda t: -t.validation["validation_roc_auc"])


def tune(train: DataFrame, validation: DataFrame, spec: FeatureSpec, config: Config) -> Trial:
    """Tunes every family and returns the best trial by validation ROC AUC, the one metric the families
    are compared on; each family's best and the winner's parameters go on the parent run."""
    import mlflow

    trials: list[Trial] = []
    for family in FAMILIES:
        family_trials = tune_family(family, train, validation, spec, config)
        trials += family_trials
        mlflow.log_metric(
            f"best_validation_roc_auc.{family}", family_trials[0].validation["validation_roc_auc"]
        )
    best = max(trials, key=lambda t: t.validation["validation_roc_auc"])
    mlflow.log_params({"best_family": best.family, "best_trial_run_id": best.run_id})
    mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})
    return best
