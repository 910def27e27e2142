"""Two real job processes on one lake at the same time: `forget` while `maintain` compacts every table.

Both commit to the same tables (forget's DELETE and purge, maintain's OPTIMIZE, ALTER and VACUUM), so
Delta refuses whichever commits second when they overlap; the loser must retry, not die midway. Both
must exit 0, and afterwards delta-rs (independent of Spark) must find the customer in no table, every
other row where it was, and one erasure record that counts exactly the rows that were erased.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys

import pytest
from deltalake import DeltaTable as RustDeltaTable

from lakepulse.runtime import delta_io
from tests.conftest import TEST_PSEUDONYM_KEY, make_config
from tests.ingest_fixtures import JOBS, job_args

pytestmark = pytest.mark.slow

TARGET, OTHERS = "C00000042", ("C0000004", "C00000007", "C00000099")
TIMEOUT = 900
FILES = 24  # small files per table: OPTIMIZE has work on every table while forget deletes from it


def key_of(customer_id: str) -> str:
    return hmac.new(TEST_PSEUDONYM_KEY.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


# layer/table -> (schema, a row for (customer id, row number)); the customer column decides how forget
# finds the rows (customer_key, customer_id or the raw record), as in ops/erasure.
TABLES = {
    "bronze/events": ("raw STRING, n INT", lambda c, n: (json.dumps({"customer_id": c, "n": n}), n)),
    "bronze/quarantine": (
        "source STRING, raw STRING, n INT",
        lambda c, n: ("events", f'{{"customer_id": "{c}"', n),
    ),
    "silver/events": ("customer_key STRING, event_type STRING, n INT", lambda c, n: (key_of(c), "view", n)),
    "silver/customers": ("customer_key STRING, plan STRING, n INT", lambda c, n: (key_of(c), "basic", n)),
    "silver/orders": ("customer_id STRING, amount DOUBLE, n INT", lambda c, n: (c, 1.5, n)),
    "gold/customer_features": ("customer_key STRING, purchases INT, n INT", lambda c, n: (key_of(c), 3, n)),
    "gold/churn_scores": ("customer_key STRING, score DOUBLE, n INT", lambda c, n: (key_of(c), 0.5, n)),
    "gold/cost_kpis_daily": ("service STRING, requests INT, n INT", lambda c, n: ("frontend", 10, n)),
}
ROWS_PER_CUSTOMER = 3 * FILES


def plant(spark, config) -> None:
    customers = (TARGET, *OTHERS)
    for name, (schema, row) in TABLES.items():
        rows = [row(c, n) for c in customers for n in range(ROWS_PER_CUSTOMER)]
        frame = spark.createDataFrame(rows, schema).repartition(FILES)
        delta_io.append(frame, config.table_path(*name.split("/")))


def spawn(job: str, home, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "LAKEPULSE_HOME"}
    return subprocess.Popen(
        [sys.executable, str(JOBS / f"{job}.py"), *job_args(home, *extra)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str]:
    """The exit code and everything the job printed (stdout, then stderr with its logs)."""
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out + err


def holds_target(frame) -> bool:
    text = frame.astype(str).to_json()
    return TARGET in text.replace(OTHERS[0] + '\\"', "") or key_of(TARGET) in text


@pytest.fixture(scope="module")
def collided(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("collide") / "home"
    config = make_config(home)
    plant(spark, config)
    lake = home / "lake"
    before = {name: len(RustDeltaTable(str(lake / name)).to_pandas()) for name in TABLES}
    maintain = spawn("maintain", home)
    forget = spawn("forget", home, "--customer", TARGET)
    results = {"maintain": finish(maintain), "forget": finish(forget)}
    return config, before, results


def test_forget_and_maintain_at_once_both_succeed(collided):
    _, _, results = collided
    for job, (code, output) in results.items():
        assert code == 0, f"{job} exited {code}: {output[-3000:]}"
        assert TARGET not in output, f"{job} printed the customer id"
    retried = sum(
        "retry" in line and "conflicts" in line for _, err in results.values() for line in err.splitlines()
    )
    print(f"conflicts retried: {retried}")  # how often the two runs collided (timing decides)


def test_customer_gone_and_every_other_row_kept(collided):
    config, before, _ = collided
    lake = config.paths.lake
    for name in TABLES:
        frame = RustDeltaTable(f"{lake}/{name}").to_pandas()
        assert not holds_target(frame), name
        erased = 0 if name == "gold/cost_kpis_daily" else ROWS_PER_CUSTOMER
        assert len(frame) == before[name] - erased, name


def test_one_erasure_record_counting_what_was_erased(collided):
    config, _, _ = collided
    audit = RustDeltaTable(config.table_path("_ops", "erasure_requests")).to_pandas()
    assert len(audit) == 1
    row = audit.iloc[0]
    assert row["customer_key"] == key_of(TARGET)
    touched = sorted(n for n in TABLES if n != "gold/cost_kpis_daily")
    assert sorted(row["tables"]) == touched
    assert row["rows_erased"] == ROWS_PER_CUSTOMER * len(touched)


def test_maintain_logged_every_table_once(collided):
    config, _, _ = collided
    log = RustDeltaTable(config.table_path("_ops", "maintenance_log")).to_pandas()
    assert sorted(log["table"]) == sorted(log["table"].unique())
    assert set(TABLES) <= set(log["table"])


# --- two refines at once ---------------------------------------------------------------------------------

# Read by delta-rs; silver's customers and prices use deletion vectors, which delta-rs 1.6 cannot read
# yet: Spark counts those.
SILVER = ("events", "requests", "app_logs", "billing", "customer_history", "weather")
SILVER_WITH_DELETION_VECTORS = ("customers", "prices")


def silver_counts(spark, home) -> dict[str, int]:
    counts = {t: len(RustDeltaTable(str(home / "lake" / "silver" / t)).to_pandas()) for t in SILVER}
    for name in SILVER_WITH_DELETION_VECTORS:
        counts[name] = spark.read.format("delta").load(str(home / "lake" / "silver" / name)).count()
    return counts


def test_two_refines_at_once_refine_every_batch_once(spark, tmp_path_factory):
    """Both exit 0; each ingest batch is claimed by one version; silver, after yet another refine, holds
    what one uninterrupted refine of the same landing holds (the shared fixture lake), checked by delta-rs."""
    from tests.ingest_fixtures import fixture_lake, run, write_landing

    reference, _ = fixture_lake(tmp_path_factory, refined=True)
    home = tmp_path_factory.mktemp("two-refines") / "home"
    write_landing(home / "landing")
    assert run("ingest", home) == 0
    first, second = spawn("refine", home), spawn("refine", home)
    results = [finish(first), finish(second)]
    for code, output in results:
        assert code == 0, output[-3000:]
    claimed = sum("is claimed by run" in output for _, output in results)
    print(f"refine runs that found their version claimed: {claimed}")
    assert run("refine", home) == 0  # what one run left unclaimed, never what the other refined

    state = RustDeltaTable(str(home / "lake/_ops/_refine_state")).to_pandas()
    planned = state[state["state"] == "planned"]
    assert not planned.duplicated(["table", "ingest_batch_id"]).any()
    assert set(planned["refine_version"]) == set(state[state["state"] == "done"]["refine_version"])
    assert silver_counts(spark, home) == silver_counts(spark, reference)
