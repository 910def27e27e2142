"""Privacy by design: direct identifiers never reach silver or gold in the clear.

- Customer ids and e-mails become keyed hashes (HMAC-SHA256, computed in Spark expressions): stable
  for joins, useless without the key, and the key comes only from the environment.
- IPv4 addresses are truncated to their /24 network, written `203.0.113.x`: a form that no IPv4
  pattern matches, so a scan for addresses in silver and gold finds none.
- Coordinates are coarsened to one decimal degree (about 11 km: city level).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import ConfigError

# Used only where the config allows it (local runs, tests); never outside local mode.
DEVELOPMENT_KEY = "lakepulse-local-development-key"
_BLOCK = 64  # SHA-256 block size in bytes

EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
IPV4_PATTERN = r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"


def pseudonym_key(config: Config, environ: Mapping[str, str] | None = None) -> bytes:
    """The key from the environment variable the config names; a clear error when it must be set."""
    environ = os.environ if environ is None else environ
    value = environ.get(config.privacy.key_env, "")
    if value:
        return value.encode("utf-8")
    if config.privacy.require_key:
        raise ConfigError(
            f"environment variable {config.privacy.key_env} is not set: the pseudonymisation key is "
            f"required in environment {config.env!r} (privacy.require_key)"
        )
    return DEVELOPMENT_KEY.encode("utf-8")


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pseudonymise(column: Column | str, key: bytes) -> Column:
    """HMAC-SHA256(key, value) as 64 hex characters; null stays null. Pure Spark expressions."""
    inner_pad, outer_pad = _pads(key)
    value = F.col(column) if isinstance(column, str) else column
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), value.cast("string").cast("binary")), 256))
    return F.when(value.isNull(), F.lit(None)).otherwise(F.sha2(F.concat(F.lit(outer_pad), inner), 256))


def pseudonymise_value(value: str, key: bytes) -> str:
    """The same hash computed in Python, for a single id (the `forget` job, tests)."""
    import hmac

    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def truncate_ipv4(column: Column | str) -> Column:
    """Keeps the /24 network of an IPv4 address as `a.b.c.x`; anything else becomes null.

    Not `a.b.c.0`: that is itself a valid address, indistinguishable from a clear one by any scan.
    """
    value = F.col(column) if isinstance(column, str) else column
    network = F.regexp_extract(value, r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$", 1)
    return F.when(network != "", F.concat(network, F.lit(".x")))


def coarsen_coordinate(column: Column | str) -> Column:
    value = F.col(column) if isinstance(column, str) else column
    return F.round(value.cast("double"), 1)
