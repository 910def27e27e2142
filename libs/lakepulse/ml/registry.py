"""Champion/challenger: every training registers its best model; only a better one becomes champion.

Each model version carries its test metric as tags (`test_metric`, `test_metric_name`,
`higher_is_better`), written at registration, so the comparison needs no run lookups and survives
runs being deleted. The alias `champion` moves only when the new version's test metric strictly beats
the current champion's; the version it moves away from gets the alias `previous_champion`, and every
version stays loadable as `models:/<name>/<version>`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

log = logging.getLogger("lakepulse.ml")

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


@dataclass(frozen=True)
class Promotion:
    name: str
    version: int
    metric_name: str
    metric: float
    promoted: bool
    champion_version: int  # the champion after this decision
    previous_version: int | None  # the champion before it (None: there was none)
    previous_metric: float | None

    def summary(self) -> str:
        if self.previous_version is None:
            return f"{self.name} v{self.version} is the first champion ({self.metric_name}={self.metric:.4f})"
        verdict = (
            "becomes champion"
            if self.promoted
            else f"stays challenger; champion stays v{self.champion_version}"
        )
        return (
            f"{self.name} v{self.version} ({self.metric_name}={self.metric:.4f}) vs champion "
            f"v{self.previous_version} ({self.metric_name}={self.previous_metric:.4f}): {verdict}"
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


def beats(new: float, old: float, higher_is_better: bool) -> bool:
    """Strictly better; a NaN metric never wins, and any number beats a NaN champion."""
    if math.isnan(new):
        return False
    if math.isnan(old):
        return True
    return new > old if higher_is_better else new < old


def register_and_promote(
    client,
    name: str,
    model_uri: str,
    run_id: str,
    metric_name: str,
    metric: float,
    higher_is_better: bool = True,
    description: str | None = None,
) -> Promotion:
    """Registers `model_uri` as a new version of `name` and makes it champion only if it is better."""
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
    current = champion_version(client, name)
    if current is None:
        client.set_registered_model_alias(name, CHAMPION, str(number))
        client.set_model_version_tag(name, str(number), "promoted", "true")
        return Promotion(name, number, metric_name, metric, True, number, None, None)
    old_metric = float(current.tags.get("test_metric", "nan"))
    old_name = current.tags.get("test_metric_name", metric_name)
    if old_name != metric_name:
        log.warning("champion %s v%s was judged on %s, not %s", name, current.version, old_name, metric_name)
    promoted = beats(metric, old_metric, higher_is_better)
    if promoted:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, str(current.version))
        client.set_registered_model_alias(name, CHAMPION, str(number))
    client.set_model_version_tag(name, str(number), "promoted", str(promoted).lower())
    return Promotion(
        name,
        number,
        metric_name,
        metric,
        promoted,
        number if promoted else int(current.version),
        int(current.version),
        old_metric,
    )
