"""Pseudonymisation is a real HMAC-SHA256 (checked against Python's hmac), IPs and places coarsened."""

from __future__ import annotations

import hashlib
import hmac
import re
import stat
from pathlib import Path

import pytest

from lakepulse import privacy
from lakepulse.errors import ConfigError
from tests.conftest import make_config


@pytest.mark.parametrize("key", [b"k", b"a-longer-secret-key", b"x" * 100])
def test_hmac_in_spark_matches_python_hmac(spark, key):
    ids = ["C00000001", "C00000042", "someone@example.com", ""]
    df = spark.createDataFrame([(i,) for i in ids] + [(None,)], "v STRING")
    got = {r.v: r.h for r in df.select("v", privacy.pseudonymise("v", key).alias("h")).collect()}
    for value in ids:
        assert got[value] == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    assert got[None] is None


def test_ip_truncation_and_coordinates(spark):
    df = spark.createDataFrame(
        [("203.0.113.97", 48.85661), ("not-an-ip", -0.04), (None, None)], "ip STRING, lat DOUBLE"
    )
    rows = df.select(
        privacy.truncate_ipv4("ip").alias("ip"), privacy.coarsen_coordinate("lat").alias("lat")
    ).collect()
    assert [r.ip for r in rows] == ["203.0.113.x", None, None]
    # The truncated form must not look like an address to the PII scan.
    assert not re.search(privacy.IPV4_PATTERN, rows[0].ip)
    assert [r.lat for r in rows] == [48.9, -0.0, None]


def test_key_required_outside_local(tmp_path):
    cluster = make_config(tmp_path, env="cluster")
    with pytest.raises(ConfigError, match="LAKEPULSE_PSEUDONYM_KEY"):
        privacy.pseudonym_key(cluster, environ={})
    assert privacy.pseudonym_key(cluster, environ={"LAKEPULSE_PSEUDONYM_KEY": "s3cret"}) == b"s3cret"


def test_no_fallback_key_for_real_data_and_a_home_own_key_for_generated_samples(tmp_path):
    own = make_config(tmp_path / "own")
    with pytest.raises(ConfigError, match=r"LAKEPULSE_PSEUDONYM_KEY is not set.*not made by `generate`"):
        privacy.pseudonym_key(own, environ={})  # landing files that `generate` did not write

    homes = [make_config(tmp_path / name) for name in ("a", "b")]
    for config in homes:
        marker = Path(config.paths.landing, *privacy.SAMPLE_MARKER)
        marker.parent.mkdir(parents=True)
        marker.write_text("{}", encoding="utf-8")
        with pytest.raises(ConfigError):  # a cluster never falls back, sample data or not
            privacy.pseudonym_key(make_config(Path(config.paths.home), env="cluster"), environ={})
    first = privacy.pseudonym_key(homes[0], environ={})
    assert privacy.pseudonym_key(homes[0], environ={}) == first  # stable: silver keys keep joining
    assert privacy.pseudonym_key(homes[1], environ={}) != first  # nobody else's lake shares it
    key_file = Path(homes[0].paths.home, privacy.SAMPLE_KEY_FILE)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 64
    assert privacy.pseudonym_key(homes[0], environ={"LAKEPULSE_PSEUDONYM_KEY": "s3cret"}) == b"s3cret"
