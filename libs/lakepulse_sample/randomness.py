"""Random draws as pure Spark expressions, reproducible whatever the partitioning.

`F.rand` depends on the partition a row lands in, so a different cluster size would give different
data. Every draw here is instead a hash of (seed, salt, entity keys): the same entity always gets the
same value, on one core or a thousand. Salts keep independent draws on the same keys independent.
Keys must keep one Spark type per role everywhere (customer: bigint, day: int), since the hash sees
the type.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

_MASK53 = (1 << 53) - 1
_TWO53 = float(1 << 53)

# Helpers take either Columns or SQL text. Given column names (the usual case), they build one SQL
# expression and cross into the JVM once: the Column API costs one gateway round trip per literal and
# operator, which adds up to seconds of driver time over the few thousand terms a run is made of.
# Columns stay supported for lambda variables of higher-order functions.


def _col(key: Column | str) -> Column:
    return F.col(key) if isinstance(key, str) else key


def sql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return f"CAST({float(value)!r} AS DOUBLE)"


def hash64(seed: int, salt: str, *keys: Column | str) -> Column:
    return F.xxhash64(F.lit(seed).cast("long"), F.lit(salt), *(_col(k) for k in keys))


def hash_sql(seed: int, salt: str, *keys: str) -> str:
    """The same hash as `hash64`, as SQL text over column names."""
    return f"xxhash64(CAST({seed} AS BIGINT), {sql_literal(salt)}, {', '.join(keys)})"


def uniform_sql(seed: int, salt: str, *keys: str) -> str:
    return f"((({hash_sql(seed, salt, *keys)}) & {_MASK53}) / {sql_literal(_TWO53)})"


def uniform(seed: int, salt: str, *keys: Column | str) -> Column:
    """A double in [0, 1), from the 53 low bits of the hash (a double's full mantissa)."""
    if all(isinstance(k, str) for k in keys):
        return F.expr(uniform_sql(seed, salt, *keys))
    return hash64(seed, salt, *keys).bitwiseAND(F.lit(_MASK53)) / _TWO53


def normal(seed: int, salt: str, *keys: str) -> Column:
    """A standard normal draw (Box-Muller on two independent uniforms)."""
    u1 = uniform_sql(seed, salt + ":r", *keys)
    u2 = uniform_sql(seed, salt + ":t", *keys)
    return F.expr(f"sqrt(-2.0D * ln(1.0D - {u1})) * cos({2.0 * math.pi!r}D * {u2})")


def hex_id(seed: int, salt: str, *keys: str, chars: int = 16) -> Column:
    """Lower-case hex of the hash: random-looking identifiers that are stable for the same keys."""
    digits = f"lpad(lower(hex({hash_sql(seed, salt, *keys)})), 16, '0')"
    return F.expr(digits if chars == 16 else f"substring({digits}, 1, {chars})")


def count(u: str, mean: str | float, cap: int) -> Column:
    """A count with the given mean (geometric: P(n) = (1 - q) q^n, q = mean / (1 + mean)), at most `cap`.

    One closed-form expression, so it compiles into Spark's generated code at no cost (an inverse-CDF
    Poisson needs a term per value). Its tail is heavier than Poisson's, as counts of web activity are.
    `u` and `mean` are SQL text (a number for a constant mean).
    """
    m = sql_literal(mean) if isinstance(mean, float | int) else f"({mean})"
    draw = f"floor(ln(1.0D - {u}) / ln({m} / (1.0D + {m})))"
    return F.expr(f"CAST(CASE WHEN {m} > 0 THEN least({draw}, {cap}) ELSE 0 END AS INT)")


def weighted_index_sql(u: str, weights: Sequence[float]) -> str:
    """SQL text of the index i drawn with probability weights[i] / sum(weights), for a uniform `u`."""
    total = float(sum(weights))
    cumulative, terms = 0.0, []
    for w in weights[:-1]:
        cumulative += w / total
        terms.append(f"CAST({u} >= {sql_literal(cumulative)} AS INT)")
    return "(" + " + ".join(terms or ["0"]) + ")"


def weighted_index(u: str, weights: Sequence[float]) -> Column:
    return F.expr(weighted_index_sql(u, weights))


def index_sql(u: str, n: int) -> str:
    """SQL text of an index drawn uniformly from 0 .. n-1."""
    return f"CAST(floor({u} * {n}) AS INT)"


def pick(values: Sequence, index: str) -> Column:
    """values[index] for a 0-based index given as SQL text; `values` is a small literal list."""
    return F.expr(f"element_at(array({', '.join(sql_literal(v) for v in values)}), ({index}) + 1)")


def py_uniform(seed: int, salt: str, *keys: object) -> float:
    """The driver-side twin of `uniform` for small literal dimensions (categories, products, services)."""
    digest = hashlib.blake2b(repr((seed, salt, *keys)).encode("utf-8"), digest_size=8).digest()
    return (struct.unpack(">Q", digest)[0] & _MASK53) / _TWO53
