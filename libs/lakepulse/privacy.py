"""Privacy by design: direct identifiers never reach silver or gold in the clear.

- Customer ids and e-mails become keyed hashes (HMAC-SHA256, computed in Spark expressions over the
  key's pads joined in as data, so no plan or event log shows them): stable for joins, useless without
  the key. The key comes only from the environment; generated sample data
  without one gets its home's own random key (`pseudonym_key`), never a key written in the source.
- IP addresses are truncated to their network, IPv4 /24 written `203.0.113.x`, IPv6 /48 written
  `2001:db8:85a3:x`: forms that no address pattern matches, so a scan of silver and gold finds none.
- Free text (search queries, log messages, user agents, billing tags) has e-mail addresses, IPv4 and
  IPv6 addresses and phone numbers replaced by `<email>`, `<ipv4>`, `<ipv6>`, `<phone>`
  (`silver.common.scrub`).
- Coordinates are coarsened to one decimal degree (about 11 km: city level).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

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
_H = "[0-9A-Fa-f]{1,4}"
# Full (eight groups) or compressed (one `::`) IPv6 forms, not inside a longer word or colon run. Times
# (10:30:00), MAC addresses and C++ names (Foo::bar) do not match.
IPV6_PATTERN = (
    r"(?<![\w:])(?:"
    + "|".join(
        [
            rf"(?:{_H}:){{7}}{_H}",
            *[rf"(?:{_H}:){{1,{7 - n}}}(?::{_H}){{1,{n}}}" for n in range(1, 7)],
            rf"(?:{_H}:){{1,7}}:",
            rf":(?::{_H}){{1,7}}",
        ]
    )
    + r")(?![\w:])"
)
# Phone numbers as people type them: `+` and 8-15 digits (single spaces, dots, dashes, brackets between);
# a bracketed area code, (555) 123-4567; or 9-15 digits in three to five groups of 2-4 with one kind of
# separator (06 12 34 56 78, 555-123-4567). Dates (2026-01-28), versions and short numbers stay.
PHONE_PATTERN = (
    r"(?<![\w+.-])(?:"
    r"\+(?:[ .()-]{0,2}\d){8,15}(?!\d)"
    r"|\(\d{2,4}\)[ .-]?\d{2,4}[ .-]\d{2,4}"
    r"|(?!\d{4}-\d{2}-\d{2}(?!\d))(?=(?:\d[ .-]?){9,15}(?!\d))\d{2,4}([ .-])\d{2,4}(?:\1\d{2,4}){1,3}"
    r")(?![\w-])"
)


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


# The key's HMAC pads as columns of the frame being pseudonymised (`with_key`), never as literals.
PAD_COLUMNS = ("_hmac_inner_pad", "_hmac_outer_pad")
_PADS_SCHEMA = T.StructType([T.StructField(c, T.BinaryType(), False) for c in PAD_COLUMNS])


def with_key(key: bytes) -> Callable[[DataFrame], DataFrame]:
    """Adds the key's HMAC pads as two columns, from a one-row broadcast frame, for `pseudonymise`.

    Why not literals: a literal is printed in every plan (explain, the Spark UI's SQL tab, event logs,
    which lakepulse's own bench keeps), and the key is a pad XOR a constant, so a plan would leak the
    key. As rows of a frame made on the driver they are data: plans name the columns, never the bytes.
    A one-row broadcast cross join costs one nested-loop probe per row.
    """

    def step(df: DataFrame) -> DataFrame:
        inner, outer = _pads(key)
        pads = df.sparkSession.createDataFrame([(bytearray(inner), bytearray(outer))], _PADS_SCHEMA)
        return df.crossJoin(F.broadcast(pads))

    return step


def pseudonymise(column: Column | str) -> Column:
    """HMAC-SHA256(key, value) as 64 hex characters; null stays null. Pure Spark expressions over the
    pad columns that `with_key` added to the frame (an AnalysisException names them if it was not)."""
    inner_pad, outer_pad = (F.col(c) for c in PAD_COLUMNS)
    value = F.col(column) if isinstance(column, str) else column
    inner = F.unhex(F.sha2(F.concat(inner_pad, value.cast("string").cast("binary")), 256))
    return F.when(value.isNull(), F.lit(None)).otherwise(F.sha2(F.concat(outer_pad, inner), 256))


def pseudonymise_value(value: str, key: bytes) -> str:
    """The same hash computed in Python, for a single id (the `forget` job, tests)."""
    import hmac

    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def truncate_ip(column: Column | str) -> Column:
    """Keeps an address's network: IPv4 /24 as `a.b.c.x`, IPv6 /48 as `a:b:c:x`; anything else is null.

    Not `a.b.c.0` or `a:b:c::`: those are valid addresses themselves, indistinguishable from clear ones
    by any scan, while the `x` forms match neither IPV4_PATTERN nor IPV6_PATTERN. An IPv6 address whose
    `::` falls inside the first three groups gets those groups back as zeros (2001:db8::1 -> 2001:db8:0:x).
    """
    value = F.col(column) if isinstance(column, str) else column
    v4 = F.regexp_extract(value, r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$", 1)
    v6 = F.lower(value)
    is_v6 = v6.rlike(rf"^{IPV6_PATTERN}$")
    h = "[0-9a-f]{1,4}"
    three = F.regexp_extract(v6, rf"^({h}:{h}:{h}):", 1)
    two = F.regexp_extract(v6, rf"^({h}:{h})::", 1)
    one = F.regexp_extract(v6, rf"^({h})::", 1)
    network = (
        F.when(three != "", three)
        .when(two != "", F.concat(two, F.lit(":0")))
        .when(one != "", F.concat(one, F.lit(":0:0")))
        .when(v6.startswith("::"), F.lit("0:0:0"))
    )
    return F.when(v4 != "", F.concat(v4, F.lit(".x"))).when(is_v6, F.concat(network, F.lit(":x")))


def truncate_ipv4(column: Column | str) -> Column:
    """Kept for callers of the IPv4-only name: the same as `truncate_ip`."""
    return truncate_ip(column)


def coarsen_coordinate(column: Column | str) -> Column:
    value = F.col(column) if isinstance(column, str) else column
    return F.round(value.cast("double"), 1)
