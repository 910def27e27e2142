"""The cluster path: spark-submit.sh against a real standalone master and two workers on 127.0.0.1.

The cluster is started from the installed pyspark and stopped by its pids. Jobs run through the same
launcher users call; what they wrote is read back with an independent Delta reader (delta-rs).
"""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest
from deltalake import DeltaTable as RustDeltaTable

from lakepulse.config import PROJECT_ROOT
from lakepulse.runtime import standalone

pytestmark = pytest.mark.cluster
SUBMIT = str(PROJECT_ROOT / "spark-submit.sh")
ARCHIVE = PROJECT_ROOT / "build" / "lakepulse.zip"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = standalone.start(tmp_path_factory.mktemp("standalone"), workers=2, cores=1, memory="1g")
    yield running
    standalone.stop(running)
    assert not any(standalone._alive(pid) for pid in running.pids)


def submit(master: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEPULSE_HOME": str(home)}
    # Small executors: two workers of one core each share this machine with the test session.
    options = ["--master", master, "--executor-memory", "768m", "--conf", "spark.cores.max=2"]
    return subprocess.run([SUBMIT, *options, *args], capture_output=True, text=True, timeout=900, env=env)


def csv_records(folder: Path) -> int:
    total = 0
    for file in sorted(folder.rglob("*.csv")):
        with file.open(newline="", encoding="utf-8") as handle:
            total += sum(1 for _ in csv.DictReader(handle))
    return total


def write_weather(landing: Path) -> None:
    """A few days of weather as a source sends it (docs/landing.md), one folder per day."""
    cities = [("FR", "Paris"), ("DE", "Berlin"), ("ES", "Madrid")]
    for day in range(1, 5):
        folder = landing / f"date=2026-01-0{day}"
        folder.mkdir(parents=True)
        with (folder / "part-00000.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["date", "country", "city", "temp_c", "precipitation_mm", "condition"])
            for i, (country, city) in enumerate(cities):
                writer.writerow(
                    [f"2026-01-0{day}", country, city, f"{day + i * 1.5:.1f}", f"{i * 0.4:.1f}", "cloudy"]
                )


def test_ingest_on_standalone_cluster_writes_delta(cluster, tmp_path):
    home = tmp_path / "home"
    landing = home / "landing" / "weather"
    write_weather(landing)
    expected = csv_records(landing)

    first = submit(cluster.master_url, home, "ingest", "--source", "weather")
    assert first.returncode == 0, first.stderr[-3000:]
    assert ARCHIVE.is_file()
    built = ARCHIVE.stat().st_mtime_ns

    bronze = RustDeltaTable(str(home / "lake" / "bronze" / "weather")).to_pandas()
    assert len(bronze) == expected
    app_logs = list((Path(cluster.state_dir)).glob("work-*/app-*"))
    assert app_logs, "the job did not run on the cluster's executors"

    # A second submission reuses the archive as it is (no source changed). A --help run goes through the
    # same launcher and spark-submit without starting executors; rerunning ingest is idempotent by the
    # local tests (test_ingest), which share this code path.
    second = submit(cluster.master_url, home, "ingest", "--help")
    assert second.returncode == 0 and "--source" in second.stdout, second.stderr[-3000:]
    assert ARCHIVE.stat().st_mtime_ns == built
