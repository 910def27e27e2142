"""Pseudonymisation is a real HMAC-SHA256 (checked against Python's hmac), IPs and places coarsened."""

from __future__ import annotations

import hashlib
import hmac
import re

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
    assert privacy.pseudonym_key(make_config(tmp_path), environ={}) == privacy.DEVELOPMENT_KEY.encode()
