"""Privacy by design: direct identifiers never reach silver or gold in the clear.

- Customer ids and e-mails become keyed hashes (HMAC-SHA256, computed in Spark expressions): stable
  for joins, useless without the key. The key comes only from the environment; generated sample data
  without one gets its home's own random key (`pseudonym_key`), never a key written in the source.
- IPv4 addresses are truncated to their /24 network, written `203.0.113.x`: a form that no IPv4
  pattern matches, so a scan for addresses in silver and gold finds none.
- Coordinates are coarsened to one decimal degree (about 11 km: city level).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import ConfigError
from lakepulse.runtime import paths

log = logging.getLogger("lakepulse.privacy")
_BLOCK = 64  # SHA-256 block size in bytes
# `generate` writes this manifest beside its truth files: the landing folder holds generated sample data.
SAMPLE_MARKER = ("_truth", "manifest.json")
# Generated sample data without a key set: this home's own random key, readable by its owner only.
SAMPLE_KEY_FILE = "sample-pseudonym.key"

EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
IPV4_PATTERN = r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"


def pseudonym_key(config: Config, environ: Mapping[str, str] | None = None) -> bytes:
    """The key from the environment variable the config names; never a key written in the source.

    Unset, it is a one-line error, except for generated sample data (a local landing folder holding
    `generate`'s manifest) where `privacy.require_key` is false: then the key is this home's own random
    key (created once, mode 0600, under paths.home), and a warning says so. A known fallback key would let
    anyone re-identify a lake by hashing candidate ids; a per-home key needs access to the home itself,
    whose bronze layer holds the clear ids anyway.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(config.privacy.key_env, "")
    if value:
        return value.encode("utf-8")
    if not config.privacy.require_key and _holds_generated_sample(config.paths.landing):
        path = Path(config.paths.home) / SAMPLE_KEY_FILE
        log.warning(
            "%s is not set: generated sample data is pseudonymised with this home's own random key (%s); "
            "set the variable for real data",
            config.privacy.key_env,
            path,
        )
        return _sample_key(path)
    required = "required" if config.privacy.require_key else "required for data not made by `generate`"
    raise ConfigError(
        f"environment variable {config.privacy.key_env} is not set: the pseudonymisation key is {required} "
        f"in environment {config.env!r} (landing {config.paths.landing})"
    )


def _holds_generated_sample(landing: str) -> bool:
    # Sample data is a local trial: a landing folder on a shared store always needs the key.
    return paths.is_local(landing) and Path(paths.local_path(landing), *SAMPLE_MARKER).is_file()


def _sample_key(path: Path) -> bytes:
    """Reads the key file, or creates it atomically (a hard link never replaces a key another run made)."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_hex(32))
            os.link(tmp, path)
        except FileExistsError:
            pass  # another run created it first: use theirs
        finally:
            os.unlink(tmp)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


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
