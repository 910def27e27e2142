"""Delta Lake's JVM artifacts, downloaded once from Maven Central and cached in the project.

Spark's own `--packages` resolution pulls delta-spark's whole dependency tree, including Hadoop and
Parquet jars that Spark already ships (and which fail to download here). Delta's Spark integration
needs only two jars on top of Spark: delta-spark for the pinned Spark and Scala 2.13, and
delta-storage. They are downloaded over HTTPS from Maven Central's repository layout (no Maven to
install), checked against the SHA-512 the repository publishes beside each jar, and moved into
`.cache/jars/` (ignored by git) only once complete, so later runs, tests and cluster submissions need
no network and an interrupted download never leaves half a jar. `LAKEPULSE_MAVEN_REPOSITORY` points
at a mirror.

    python -m lakepulse.runtime.jars          # fetch if missing, print the comma-separated jar paths
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lakepulse.config import PROJECT_ROOT
from lakepulse.errors import MissingJarsError

SCALA_VERSION = "2.13"
JARS_DIR_ENV = "LAKEPULSE_JARS_DIR"
DEFAULT_JARS_DIR = PROJECT_ROOT / ".cache" / "jars"
REPOSITORY_ENV = "LAKEPULSE_MAVEN_REPOSITORY"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
TIMEOUT_SECONDS = 60
RETRIES = Retry(total=4, backoff_factor=1.0, status_forcelist=(429, 500, 502, 503, 504))


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


def jar_url(coordinate: str, repository: str | None = None) -> str:
    """Where the repository layout puts the jar: group dots become folders, then artifact/version/file."""
    group, artifact, ver = coordinate.split(":")
    base = (repository or os.environ.get(REPOSITORY_ENV) or MAVEN_CENTRAL).rstrip("/")
    return f"{base}/{group.replace('.', '/')}/{artifact}/{ver}/{artifact}-{ver}.jar"


def download(coordinate: str, directory: Path, repository: str | None = None) -> Path:
    """Downloads one jar into `directory`, verified against its published SHA-512; raises MissingJarsError."""
    url, target = jar_url(coordinate, repository), jar_file(coordinate, directory)
    with requests.Session() as http:
        http.mount("https://", HTTPAdapter(max_retries=RETRIES))
        http.mount("http://", HTTPAdapter(max_retries=RETRIES))
        try:
            published = http.get(f"{url}.sha512", timeout=TIMEOUT_SECONDS)
            published.raise_for_status()
            response = http.get(url, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise MissingJarsError(f"cannot download {coordinate} from {url}: {exc}") from exc
    expected = published.text.split()[0].strip().lower() if published.text.split() else ""
    actual = hashlib.sha512(response.content).hexdigest()
    if actual != expected:
        raise MissingJarsError(f"{url}: SHA-512 {actual[:16]}… does not match the published {expected[:16]}…")
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{target.name}.", delete=False) as tmp:
        tmp.write(response.content)
    os.chmod(tmp.name, 0o644)  # workers of a cluster may run as another user
    os.replace(tmp.name, target)  # atomic: a reader sees no jar or the whole jar
    return target


def ensure_delta_jars(fetch: bool = True) -> list[Path]:
    """Returns the cached Delta jars, downloading missing ones when `fetch` is true."""
    directory = jars_dir()
    wanted = {c: jar_file(c, directory) for c in delta_artifacts()}
    missing = [c for c, path in wanted.items() if not path.is_file()]
    if missing and not fetch:
        raise MissingJarsError(
            f"Delta Lake jars missing from {directory}: {', '.join(missing)}; "
            "fetch them with: python -m lakepulse.runtime.jars"
        )
    for coordinate in missing:
        download(coordinate, directory)
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
