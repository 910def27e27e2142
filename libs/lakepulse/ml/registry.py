"""Champion/challenger: every training registers its best model; only a better one becomes champion.

Each model version carries its test metric as tags (`test_metric`, `test_metric_name`,
`higher_is_better`), written at registration. Before deciding, the current champion
(`models:/<name>@champion`) is re-scored on the challenger's own test window (same rows, same gold
snapshot) by the caller's `Challenge.rescore`, so both figures measure the same thing; only when it
cannot be scored there (missing columns, another signature, a load failure) does the gate fall back
to the champion's recorded metric, and says so. The alias `champion` moves only when the challenger
beats the champion by more than `Challenge.margin` (absolute metric units, direction-aware); the
version it moves away from gets the alias `previous_champion`, and every version stays loadable as
`models:/<name>/<version>`. The decision, both scores, the window and the margin are logged on the
challenger's run under the same keys for every run, so MLflow's run comparison lines them up.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("lakepulse.ml")

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


@dataclass(frozen=True)
class TestWindow:
    """The challenger's test rows, as the run records them: what a comparison was made on."""

    __test__ = False  # not a pytest class despite the name

    description: str  # e.g. "as-of dates 2026-03-01..2026-03-09 of gold/customer_features v3"
    start: str
    end: str
    rows: int

    def params(self) -> dict[str, str]:
        return {"test_window": self.description, "test_window_start": self.start, "test_window_end": self.end}


@dataclass(frozen=True)
class Challenge:
    """What the gate needs beyond the challenger's metric: its test window, a way to score another
    model on exactly that window (given the model's URI; raises when it cannot), and the margin."""

    window: TestWindow
    rescore: Callable[[str], float]
    margin: float = 0.0


@dataclass(frozen=True)
class Promotion:
    name: str
    version: int
    metric_name: str
    metric: float
    promoted: bool
    champion_version: int  # the champion after this decision
    previous_version: int | None  # the champion before it (None: there was none)
    previous_metric: float | None  # its metric as judged: on this test window when `rescored`
    rescored: bool = False
    margin: float = 0.0

    def summary(self) -> str:
        if self.previous_version is None:
            return f"{self.name} v{self.version} is the first champion ({self.metric_name}={self.metric:.4f})"
        verdict = (
            "becomes champion"
            if self.promoted
            else f"stays challenger; champion stays v{self.champion_version}"
        )
        judged = "re-scored on the same test window" if self.rescored else "recorded at its own training"
        return (
            f"{self.name} v{self.version} ({self.metric_name}={self.metric:.4f}) vs champion "
            f"v{self.previous_version} ({self.metric_name}={self.previous_metric:.4f}, {judged}), "
            f"margin {self.margin:g}: {verdict}"
        )


def champion_version(client, name: str):
    """The champion's ModelVersion, or None when the model or its alias does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def beats(new: float, old: float, higher_is_better: bool, margin: float = 0.0) -> bool:
    """Better by more than `margin`; a NaN metric never wins, and any number beats a NaN champion."""
    if math.isnan(new):
        return False
    if math.isnan(old):
        return True
    return new - old > margin if higher_is_better else old - new > margin


def judged_champion_metric(
    name: str, current, metric_name: str, challenge: Challenge | None
) -> tuple[float, bool]:
    """(the champion's metric, whether it was re-scored on the challenger's window). Any failure to
    score it there (a column the window lacks, another signature, a model that will not load) is one
    warning and the recorded metric, never a failed training."""
    recorded = float(current.tags.get("test_metric", "nan"))
    old_name = current.tags.get("test_metric_name", metric_name)
    if challenge is None:
        if old_name != metric_name:
            log.warning(
                "champion %s v%s was judged on %s, not %s", name, current.version, old_name, metric_name
            )
        return recorded, False
    uri = f"models:/{name}@{CHAMPION}"
    try:
        return float(challenge.rescore(uri)), True
    except Exception as exc:  # whatever keeps the champion from scoring, the gate still decides
        reason = " ".join(str(exc).split())[:300]
        log.warning(
            "champion %s v%s not re-scored on the challenger's test window (%s); judged on its recorded "
            "%s=%s instead (champion_rescored=false)",
            name,
            current.version,
            reason,
            old_name,
            recorded,
        )
        return recorded, False


def log_decision(client, run_id: str, promotion: Promotion, challenge: Challenge | None) -> None:
    """The decision on the challenger's run, under keys every run shares (comparison view columns)."""
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    metrics = {f"challenger_{promotion.metric_name}": promotion.metric, "promoted": float(promotion.promoted)}
    params = {
        "champion_version": "none" if promotion.previous_version is None else str(promotion.previous_version),
        "champion_rescored": str(promotion.rescored).lower(),
        "promotion_margin": repr(float(promotion.margin)),
    }
    if promotion.previous_metric is not None:
        metrics[f"champion_{promotion.metric_name}"] = promotion.previous_metric
    if challenge is not None:
        params.update(challenge.window.params())
        metrics["test_window_rows"] = float(challenge.window.rows)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if math.isfinite(v)],
        params=[Param(k, v) for k, v in params.items()],
    )


def register_and_promote(
    client,
    name: str,
    model_uri: str,
    run_id: str,
    metric_name: str,
    metric: float,
    higher_is_better: bool = True,
    description: str | None = None,
    challenge: Challenge | None = None,
) -> Promotion:
    """Registers `model_uri` as a new version of `name` and makes it champion only if it beats the
    champion, re-scored on `challenge`'s window when given, by more than its margin."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=description)
    # register_model resolves runs:/ and models:/ URIs to the logged model (MLflow 3 LoggedModel).
    version = mlflow.register_model(
        model_uri,
        name,
        tags={
            "test_metric_name": metric_name,
            "test_metric": repr(float(metric)),
            "higher_is_better": str(bool(higher_is_better)).lower(),
            "source_run_id": run_id,
        },
    )
    number = int(version.version)
    margin = challenge.margin if challenge is not None else 0.0
    current = champion_version(client, name)
    if current is None:
        client.set_registered_model_alias(name, CHAMPION, str(number))
        promotion = Promotion(name, number, metric_name, metric, True, number, None, None, False, margin)
    else:
        old_metric, rescored = judged_champion_metric(name, current, metric_name, challenge)
        promoted = beats(metric, old_metric, higher_is_better, margin)
        if promoted:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, str(current.version))
            client.set_registered_model_alias(name, CHAMPION, str(number))
        champion = number if promoted else int(current.version)
        promotion = Promotion(
            name,
            number,
            metric_name,
            metric,
            promoted,
            champion,
            int(current.version),
            old_metric,
            rescored,
            margin,
        )
    client.set_model_version_tag(name, str(number), "promoted", str(promotion.promoted).lower())
    log_decision(client, run_id, promotion, challenge)
    return promotion
