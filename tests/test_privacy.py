"""Pseudonymisation is a real HMAC-SHA256 (checked against Python's hmac), IPs and places coarsened."""

from __future__ import annotations

import hashlib
import hmac
import re
import stat
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakepulse import privacy
from lakepulse.errors import ConfigError
from tests.conftest import make_config


@pytest.mark.parametrize("key", [b"k", b"a-longer-secret-key", b"x" * 100])
def test_hmac_in_spark_matches_python_hmac(spark, key):
    ids = ["C00000001", "C00000042", "someone@example.com", ""]
    df = spark.createDataFrame([(i,) for i in ids] + [(None,)], "v STRING")
    hashed = df.transform(privacy.with_key(key)).select("v", privacy.pseudonymise("v").alias("h"))
    got = {r.v: r.h for r in hashed.collect()}
    for value in ids:
        assert got[value] == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    assert got[None] is None


def test_no_plan_shows_the_key_or_its_pads(spark, capsys):
    key = b"plan-secret-0123456789"
    padded = key.ljust(64, b"\0")
    secrets = [key.hex(), bytes(b ^ 0x36 for b in padded).hex(), bytes(b ^ 0x5C for b in padded).hex()]
    df = spark.createDataFrame([("C1",)], "v STRING")
    hashed = df.transform(privacy.with_key(key)).select(privacy.pseudonymise("v").alias("h"))
    hashed.explain(mode="extended")
    hashed.collect()
    plan = capsys.readouterr().out.lower().replace(" ", "")
    assert "sha2" in plan and "_hmac_inner_pad" in plan  # the plan was captured
    assert not [s for s in secrets if s[:24] in plan]
    # The same pads as literals do show (what this test guards against).
    df.select(
        F.sha2(F.concat(F.lit(bytes(b ^ 0x36 for b in padded)), F.col("v").cast("binary")), 256)
    ).explain(True)
    assert secrets[1][:24] in capsys.readouterr().out.lower()


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


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.97", "203.0.113.x"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3:x"),
        ("2001:0DB8:85A3:0000:0000:8A2E:0370:7334", "2001:0db8:85a3:x"),
        ("2001:db8::1", "2001:db8:0:x"),
        ("fe80::1", "fe80:0:0:x"),
        ("::1", "0:0:0:x"),
        ("not-an-ip", None),
        ("2001:db8:85a3:x", None),
        ("10:30:00", None),
        ("", None),
        (None, None),
    ],
)
def test_ip_networks_of_both_families(spark, address, network):
    (row,) = (
        spark.createDataFrame([(address,)], "ip STRING")
        .select(privacy.truncate_ip("ip").alias("n"))
        .collect()
    )
    assert row.n == network
    if network:  # the kept form must not look like an address to a PII scan
        assert not re.search(privacy.IPV4_PATTERN, network) and not re.search(privacy.IPV6_PATTERN, network)


SCRUBBED = [
    ("call me on +44 20 7946 0958 please", "call me on <phone> please"),
    ("tel 06 12 34 56 78 or 555-123-4567", "tel <phone> or <phone>"),
    ("from 2001:db8:85a3::8a2e:370:7334 and fe80::1", "from <ipv6> and <ipv6>"),
    ("login failed for anna.b@example.com from 203.0.113.7", "login failed for <email> from <ipv4>"),
    ("(555) 123-4567 / +1 (555) 123-4567", "<phone> / <phone>"),
    # Not personal: dates, times, versions, prices, ids, counts, C++ names stay as they are.
    ("2026-01-28 10:30:00 build 10.15.7 took 1 299 ms", "2026-01-28 10:30:00 build 10.15.7 took 1 299 ms"),
    ("usb-c charger 65w order 123456 std::vector", "usb-c charger 65w order 123456 std::vector"),
    (None, None),
]


def test_scrub_replaces_contact_details_in_free_text(spark):
    from lakepulse.silver.common import scrub

    df = spark.createDataFrame([(i, text) for i, (text, _) in enumerate(SCRUBBED)], "i INT, t STRING")
    got = {r.i: r.s for r in df.select("i", scrub("t").alias("s")).collect()}
    assert got == {i: expected for i, (_, expected) in enumerate(SCRUBBED)}


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
