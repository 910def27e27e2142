"""The planted truth, written under landing/_truth/ for tests, benchmarks and model evaluation.

Small files (a few dozen rows) are written from the driver; churn.csv has one row per customer and is
written by Spark into a single file.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import DataFrame

from lakepulse_sample import dims
from lakepulse_sample.params import WEEKDAYS, GenerateParams
from lakepulse_sample.scenario import PROMO_CONVERSION, PROMO_LIFT, Scenario


def write_churn(churn: DataFrame, truth_dir: Path) -> None:
    tmp = truth_dir / "_churn_tmp"
    (
        churn.repartition(1)
        .sortWithinPartitions("customer_id")
        .write.mode("overwrite")
        .option("header", True)
        .option("lineSep", "\n")
        .csv(str(tmp))
    )
    (part,) = tmp.glob("part-*.csv")
    shutil.move(str(part), truth_dir / "churn.csv")
    shutil.rmtree(tmp)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_planted(truth_dir: Path, p: GenerateParams, scenario: Scenario) -> None:
    _write_csv(
        truth_dir / "elasticities.csv",
        ["category", "elasticity", "base_price", "base_quantity"],
        [[c.name, c.elasticity, f"{c.base_price:.2f}", c.base_quantity] for c in dims.categories(p.seed)],
    )
    _write_csv(
        truth_dir / "cost_anomalies.csv",
        ["service", "date", "factor"],
        [[a.service, p.date(a.day).isoformat(), a.factor] for a in scenario.anomalies],
    )
    t = scenario.trend
    _write_csv(
        truth_dir / "trends.csv",
        ["category", "country", "start_date", "factor"],
        [[t.category, t.country, p.date(t.start_day).isoformat(), t.factor]],
    )
    promo = scenario.promo
    _write_json(
        truth_dir / "promo_segment.json",
        {
            "city_type": promo.city_type,
            "weekday": WEEKDAYS[promo.weekday],
            "hour_band": f"{promo.hours[0]}-{promo.hours[1]}",
            "hours_utc": list(range(*promo.hours)),
            "lift": PROMO_LIFT,
            "base_conversion": PROMO_CONVERSION,
            "promo_codes": list(dims.FLASH_PROMO_CODES),
            "meaning": (
                "a promo_view converts into a purchase with its promo_code in the same session with probability "
                "base_conversion, times lift for customers of this city_type in sessions starting on this weekday "
                "within hours_utc"
            ),
        },
    )


def write_json(truth_dir: Path, name: str, value: dict) -> None:
    _write_json(truth_dir / name, value)


def planted_elasticities(landing: str | Path) -> dict[str, float] | None:
    """The planted elasticity per category of generated data (landing/_truth), None for real data.

    Read here, in the kit, and never by the product: the model and its job know nothing of the truth;
    tests, demos and the bench compare its estimates (gold/price_elasticities) with these.
    """
    path = Path(str(landing).removeprefix("file:")) / "_truth" / "elasticities.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8", newline="") as f:
        return {row["category"]: float(row["elasticity"]) for row in csv.DictReader(f)}


def elasticity_errors(estimates: Mapping[str, float], planted: Mapping[str, float]) -> dict[str, float]:
    """|estimate - planted| / |planted| per planted category.

    NaN when the category got no estimate, so a missing fit shows up as missing instead of as a
    small error.
    """
    out = {}
    for category, truth in sorted(planted.items()):
        estimate = estimates.get(category, float("nan"))
        out[category] = abs(estimate - truth) / abs(truth) if truth else float("nan")
    return out
