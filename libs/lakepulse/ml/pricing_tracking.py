"""What a pricing run records in MLflow: its parameters, metrics, plots and the registered model.

Kept apart from the training's flow (`pricing.train`) so the run's record can be read in one place;
everything here runs inside the active MLflow run the training opened.
"""

from __future__ import annotations

import importlib.resources
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lakepulse.config import Config
from lakepulse.ml.demand_fit import demand_panel, holdout_rmse
from lakepulse.ml.demand_model import CONTROL_COLUMNS, CategoryFit, fits_of, model_input_example

if TYPE_CHECKING:
    from collections.abc import Callable

    from lakepulse.ml.registry import Challenge, Promotion, TestWindow

log = logging.getLogger("lakepulse.ml")

MODEL_NAME = "lakepulse-pricing"
TEST_METRIC = "test_rmse_log_units"  # weighted holdout RMSE of log units per purchase line; lower is better
MODEL_DESCRIPTION = (
    "per category, WLS over product-days: log(units per purchase line) ~ log(price) "
    "+ day of week + promo share + weather, weighted by purchase lines"
)


def metric_key(text: str) -> str:
    """MLflow keys allow letters, digits, `_-./ `; category names may hold anything else."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)


def run_metrics(fits: Mapping[str, CategoryFit], test_rmse: float) -> dict[str, float]:
    """Every figure a run logs, by name; a NaN (a category without an estimate) is left out, so the
    run's metrics hold only figures that exist and a comparison across runs never averages a NaN."""
    finite_r2 = [f.r2 for f in fits.values() if math.isfinite(f.r2)]
    metrics = {TEST_METRIC: test_rmse, "mean_r2": float(np.mean(finite_r2)) if finite_r2 else float("nan")}
    for c, f in fits.items():
        key = metric_key(c)
        metrics[f"elasticity.{key}"] = f.elasticity
        metrics[f"elasticity_ci_low.{key}"] = f.ci_low
        metrics[f"elasticity_ci_high.{key}"] = f.ci_high
        metrics[f"elasticity_std_error.{key}"] = f.std_error
        metrics[f"r2.{key}"] = f.r2
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def run_params(config: Config, frame: pd.DataFrame, fits: Mapping[str, CategoryFit]) -> dict[str, object]:
    """The model's definition, its settings and the data's extent: what two runs differ by."""
    return {
        "model": MODEL_DESCRIPTION,
        "controls": ",".join(CONTROL_COLUMNS),
        "price_max_change": config.models.price_max_change,
        "unit_cost_ratio": config.models.unit_cost_ratio,
        "demand_holdout_fraction": config.models.demand_holdout_fraction,
        "demand_baseline_days": config.models.demand_baseline_days,
        "categories": len(fits),
        "days": int(frame["date"].nunique()),
        "product_days": len(frame),
        "first_date": str(frame["date"].min()),
        "last_date": str(frame["date"].max()),
    }


def log_plots(frame: pd.DataFrame, fits: Mapping[str, CategoryFit]) -> None:
    """Estimates with their intervals, the fitted curves, and the data behind them."""
    import mlflow

    from lakepulse.ml import plots

    order = sorted(fits)
    fig = plots.elasticity_figure(
        order,
        [fits[c].elasticity for c in order],
        [fits[c].ci_low for c in order],
        [fits[c].ci_high for c in order],
    )
    mlflow.log_figure(fig, "plots/elasticities.png")
    plots.close(fig)
    fig = plots.demand_curves_figure(
        [demand_panel(frame, fits[c]) for c in order if math.isfinite(fits[c].elasticity)]
    )
    mlflow.log_figure(fig, "plots/demand_curves.png")
    plots.close(fig)
    mlflow.log_text(frame.to_csv(index=False), "data/demand_by_product_day.csv")


def window_of(test: pd.DataFrame, versions: Mapping[str, int], fraction: float) -> TestWindow:
    """The holdout days, the gold version they were read at, and their product-days."""
    from lakepulse.ml.registry import TestWindow

    snapshot = ", ".join(f"{name} v{v}" for name, v in sorted(versions.items()))
    first, last = str(test["date"].min()), str(test["date"].max())
    days = int(test["date"].nunique())
    return TestWindow(
        f"holdout days {first}..{last} (latest {days} days, demand_holdout_fraction={fraction}) of {snapshot}",
        first,
        last,
        len(test),
    )


def champion_scorer(test: pd.DataFrame) -> Callable[[str], float]:
    """Scores a registered pricing model (by URI) on the holdout `test`: the weighted RMSE of log units
    per purchase line, the run's own `test_rmse_log_units`. A model whose signature asks for a column
    the holdout lacks, or that is no lakepulse pricing model, is an error naming why."""

    def score(uri: str) -> float:
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(uri)
        schema = model.metadata.get_input_schema()
        have = set(model_input_example(test.head(1)).columns)
        missing = [c for c in (schema.input_names() if schema is not None else []) if c not in have]
        if missing:
            raise ValueError(f"the holdout lacks column(s) {', '.join(missing)} that {uri} needs")
        fits = fits_of(model.unwrap_python_model())
        seen = max((f.last_date for f in fits.values() if f.last_date is not None), default=None)
        if seen is not None and pd.Timestamp(seen) >= pd.Timestamp(test["date"].min()):
            log.warning(
                "pricing: %s was fitted on days through %s, inside this holdout (from %s): its score there "
                "is partly in-sample, which favours keeping it",
                uri,
                seen,
                test["date"].min(),
            )
        return holdout_rmse(fits, test)

    return score


def log_model(frame: pd.DataFrame, fits: Mapping[str, CategoryFit], work_dir: str):
    """Logs the fits into the active run as a LoggedModel named "model" and returns its ModelInfo.

    The model is `demand_pyfunc` logged as code, its fits a JSON artifact: nothing pickled, no lakepulse
    import, requirements numpy, pandas and MLflow only, so it loads anywhere (docs/models.md).
    """
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    from lakepulse.ml import demand_pyfunc, tracking
    from lakepulse.ml.demand_model import fit_dicts

    fits_path = Path(work_dir) / "fits.json"
    fits_path.write_text(demand_pyfunc.dumps(fit_dicts(fits)), encoding="utf-8")
    # Copied out as a file of its own: under spark-submit lakepulse is imported from build/lakepulse.zip
    # (--py-files), where the module's __file__ is no path MLflow can copy.
    code_path = Path(work_dir) / "demand_pyfunc.py"
    code_path.write_text(
        importlib.resources.files("lakepulse.ml").joinpath("demand_pyfunc.py").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    example = model_input_example(frame.head(5))
    output = demand_pyfunc.expected_units(fit_dicts(fits), example)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(code_path),
        artifacts={"fits": str(fits_path)},
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=list(tracking.PYFUNC_REQUIREMENTS),
    )


def log_and_register(
    frame: pd.DataFrame,
    fits: Mapping[str, CategoryFit],
    run_id: str,
    metrics: Mapping[str, float],
    challenge: Challenge,
    test_dataset=None,
) -> Promotion:
    """Logs the pyfunc model into the active run, the run's metrics linked to it, and registers it as a
    new version.

    Logging the metrics with the LoggedModel's id makes them the model's own (`search_logged_models`,
    the model's page in the UI) as well as the run's. Every run is registered, a worse one too, so any
    run's model stays loadable by version; the champion alias moves only if the holdout error beats
    the champion's, re-scored on this run's holdout, by more than the challenge's margin (ml.registry).
    """
    import tempfile

    import mlflow
    from mlflow import MlflowClient

    from lakepulse.ml import registry, tracking

    with tempfile.TemporaryDirectory(prefix="lakepulse-pricing-") as work_dir:
        info = log_model(frame, fits, work_dir)
    # The holdout error linked to the holdout's dataset as well; the fit figures come from every day.
    tracking.log_model_metrics(info.model_id, metrics, {TEST_METRIC}, test_dataset)
    promotion = registry.register_and_promote(
        MlflowClient(),
        MODEL_NAME,
        info.model_uri,
        run_id,
        TEST_METRIC,
        metrics[TEST_METRIC],
        higher_is_better=False,
        challenge=challenge,
    )
    mlflow.set_tags(
        {
            "registered_model": MODEL_NAME,
            "registered_version": str(promotion.version),
            "promoted_to_champion": str(promotion.promoted).lower(),
        }
    )
    log.info(promotion.summary())
    return promotion
