"""Authorised export: gold/churn_scores mapped back to the customer ids of the user's own file.

gold/churn_scores holds keyed hashes only, so the scores alone never tell a team whom to call. The
export re-identifies them, on three conditions that keep it an authorised act rather than a side door:
- the pseudonymisation key from the environment (the one that keyed the scores): hashes cannot be
  reversed, so the ids are hashed again with it and matched; a wrong key matches nobody and fails;
- the user's own file (`byod.path`, or the file and mapping of the lake's last load): the clear ids come
  from there, nothing in the lake holds them;
- an audit row in `_ops/score_exports` before the file is released (when, the OS user, where to, how many
  rows, the as-of date and model version, the source file), holding no id.
The CSV goes outside the lake (a path under `paths.lake` is refused), so gold stays pseudonymous.
"""

from __future__ import annotations

import datetime as dt
import getpass
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakepulse.config import OPS_AREA, Config
from lakepulse.errors import LakepulseError
from lakepulse.privacy import pseudonym_key, pseudonymise, with_key
from lakepulse.runtime import delta_io
from lakepulse.silver import byod

AUDIT_TABLE = "score_exports"
COLUMNS = ("customer_id", "as_of_date", "churn_probability", "risk_band", "model_name", "model_version")


@dataclass(frozen=True)
class Exported:
    rows: int
    as_of_date: dt.date
    model_version: int
    path: str
    source_file: str


def _target(config: Config, out: str) -> Path:
    if "://" in out:
        raise LakepulseError(f"--export {out}: a local file path is expected (the export leaves the lake)")
    path = Path(out).expanduser().resolve()
    lake = Path(config.paths.lake).expanduser().resolve() if "://" not in config.paths.lake else None
    if lake is not None and path.is_relative_to(lake):
        raise LakepulseError(f"--export {path}: inside the lake {lake}; clear ids never go into the lake")
    if path.is_dir():
        raise LakepulseError(f"--export {path}: is a folder; give a file name such as scores.csv")
    return path


def export_scores(spark: SparkSession, config: Config, out: str) -> Exported:
    """The newest as-of date of gold/churn_scores with the file's ids, as one CSV at `out`."""
    target = _target(config, out)
    config = byod.recorded(spark, config)
    key = pseudonym_key(config)
    scores_path = config.table_path("gold", "churn_scores")
    if not delta_io.is_delta(spark, scores_path):
        raise LakepulseError(f"gold/churn_scores is missing at {scores_path}: run score first")
    scores = delta_io.read_delta(spark, scores_path)
    latest = scores.agg(F.max("as_of_date")).first()[0]  # bounded: one row
    if latest is None:
        raise LakepulseError("gold/churn_scores is empty: run score first")
    scores = scores.filter(F.col("as_of_date") == F.lit(latest))
    ids = (
        byod.read_transactions(spark, config)
        .filter(F.col("customer_id").isNotNull() & (F.col("customer_id") != ""))
        .select("customer_id")
        .distinct()
    )
    keyed = ids.transform(with_key(key)).select(
        "customer_id", pseudonymise("customer_id").alias("customer_key")
    )
    matched = scores.join(keyed, on="customer_key", how="left")
    # Bounded: one row.
    counts = matched.agg(
        F.count(F.lit(1)).alias("scored"),
        F.count("customer_id").alias("found"),
        F.max("model_version").alias("version"),
    ).first()
    if counts["found"] != counts["scored"]:
        raise LakepulseError(
            f"--export: {counts['scored'] - counts['found']} of {counts['scored']} scored customers as of {latest} "
            f"have no id in {config.byod.path} under the key in {config.privacy.key_env}: another file or another "
            "key than the one that scored them"
        )
    audit = spark.createDataFrame(
        [
            (
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                getpass.getuser(),
                str(target),
                int(counts["scored"]),
                latest,
                int(counts["version"]),
                config.byod.path,
            )
        ],
        "exported_at timestamp, exported_by string, path string, rows long, as_of_date date, "
        "model_version int, source_file string",
    )
    delta_io.append(audit, config.table_path(OPS_AREA, AUDIT_TABLE))
    ranked = matched.select(*COLUMNS).repartition(1).sortWithinPartitions(F.col("churn_probability").desc())
    _write_csv(ranked, target)
    return Exported(int(counts["scored"]), latest, int(counts["version"]), str(target), config.byod.path)


def _write_csv(df, target: Path) -> None:
    """One CSV file with a header at `target` from a one-partition frame: Spark writes a folder of part
    files, so it writes the one part beside the target and moves it there (atomic on one filesystem)."""
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    try:
        df.write.option("header", True).csv(str(staging))
        part = next(staging.glob("part-*.csv"))
        target.parent.mkdir(parents=True, exist_ok=True)
        part.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
