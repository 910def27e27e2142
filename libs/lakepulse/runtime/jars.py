"""Delta Lake's JVM artifacts, resolved once from Maven Central and cached in the project.

Spark's own `--packages` resolution pulls delta-spark's whole dependency tree, including Hadoop and
Parquet jars that Spark already ships (and which fail to download here). Delta's Spark integration
needs only two jars on top of Spark: delta-spark for the pinned Spark and Scala 2.13, and
delta-storage. They are fetched with Maven (`mvn dependency:copy`, non-transitive) into
`.cache/jars/` (ignored by git), so later runs, tests and cluster submissions need no network.

    python -m lakepulse.runtime.jars          # fetch if missing, print the comma-separated jar paths
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from lakepulse.config import PROJECT_ROOT
from lakepulse.errors import MissingJarsError

SCALA_VERSION = "2.13"
JARS_DIR_ENV = "LAKEPULSE_JARS_DIR"
DEFAULT_JARS_DIR = PROJECT_ROOT / ".cache" / "jars"


def delta_artifacts() -> list[str]:
    """Maven coordinates matching the installed pyspark and delta-spark (one source of truth: setup.py)."""
    spark_mm = ".".join(version("pyspark").split(".")[:2])
    delta = version("delta-spark")
    return [
        f"io.delta:delta-spark_{spark_mm}_{SCALA_VERSION}:{delta}",
        f"io.delta:delta-storage:{delta}",
    ]


def jars_dir() -> Path:
    return Path(os.environ.get(JARS_DIR_ENV) or DEFAULT_JARS_DIR)


def jar_file(coordinate: str, directory: Path) -> Path:
    _, artifact, ver = coordinate.split(":")
    return directory / f"{artifact}-{ver}.jar"


def fetch_command(coordinate: str, directory: Path) -> list[str]:
    return [
        "mvn",
        "-B",
        "-q",
        "dependency:copy",
        f"-Dartifact={coordinate}",
        f"-DoutputDirectory={directory}",
    ]


def ensure_delta_jars(fetch: bool = True) -> list[Path]:
    """Returns the cached Delta jars, fetching missing ones with Maven when `fetch` is true."""
    directory = jars_dir()
    wanted = {c: jar_file(c, directory) for c in delta_artifacts()}
    missing = [c for c, path in wanted.items() if not path.is_file()]
    if missing and fetch and shutil.which("mvn"):
        directory.mkdir(parents=True, exist_ok=True)
        for coordinate in missing:
            subprocess.run(fetch_command(coordinate, directory), check=False, capture_output=True)
        missing = [c for c, path in wanted.items() if not path.is_file()]
    if missing:
        how = " && ".join(" ".join(fetch_command(c, directory)) for c in missing)
        raise MissingJarsError(
            f"Delta Lake jars missing from {directory}: {', '.join(missing)}; "
            f"fetch them from Maven Central with: {how}"
        )
    return list(wanted.values())


def main() -> int:
    try:
        print(",".join(str(p) for p in ensure_delta_jars()))
    except MissingJarsError as exc:
        print(f"lakepulse.runtime.jars: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
