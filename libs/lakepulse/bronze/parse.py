"""From raw lines to a validation frame: each field as received (`_s_<f>`), typed (`<f>`), and the rules.

Every line stays a row, whatever is wrong with it, so nothing is lost and every record is counted.
Types are checked without ever silently nulling a value: a value present as text whose typed parse
is null breaks `bad_type:<f>`. Decimals must fit their declared scale exactly (a cost is never rounded)
and are parsed from text, never through a double.

JSON is parsed once into a VARIANT (`try_parse_json`), which keeps each value's JSON type: a number sent
as a string ("quantity": "2") or a string sent as an object is a type change and is quarantined, while
`from_json` would coerce the first and stringify the second. An unknown extra field changes nothing
(it stays in `raw`, and a later release can add it as a column: bronze appends merge new columns).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakepulse.config import ReferenceConfig
from lakepulse.contracts import sources as S
from lakepulse.contracts.expectations import Expectation

FIELD_SEP = "\x01"
# Spark's text reader decodes bytes that are not UTF-8 as U+FFFD, so a record holding one lost bytes on
# the way in (or was sent with the character itself, equally unusable): it is quarantined, never loaded.
BAD_ENCODING = "bad_encoding"
REPLACEMENT_CHARACTER = "\ufffd"

# Apache Combined Log Format + response time (ms) + service; strict, so a line that does not have this
# exact shape is an unparseable_log_line rather than a row of half-filled fields.
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
ACCESS_LOG_PATTERN = (
    r"^(\S+) (\S+) (\S+) \[(\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"([A-Z]+) (\S+) (HTTP/\d(?:\.\d)?)" (\d{3}) (\d+|-) ' + _QUOTED + " " + _QUOTED + r" (\d+) (\S+)$"
)

_NUMERIC_JSON = r"^(TINYINT|SMALLINT|INT|BIGINT|DECIMAL.*|FLOAT|DOUBLE)$"
_INTEGRAL_JSON = r"^(TINYINT|SMALLINT|INT|BIGINT)$"
_TS_ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]00:?00)$"
_TS_FOCUS = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]00:?00)?$"
_DECIMAL_KIND = re.compile(r"^decimal\((\d+),(\d+)\)$")


def string_col(name: str) -> str:
    return f"_s_{name}"


def json_type_col(name: str) -> str:
    return f"_j_{name}"


def _decimal(precision: int, scale: int, text: Column) -> Column:
    # At most `scale` significant fractional digits (trailing zeros are fine): exact, never rounded.
    pattern = rf"^[+-]?0*\d{{1,{precision - scale}}}(\.\d{{0,{scale}}}0*)?$"
    return F.when(text.rlike(pattern), text.try_cast(f"decimal({precision},{scale})"))


def _clf_bytes(text: Column) -> Column:
    return F.when(text == F.lit("-"), F.lit(0).cast("bigint")).when(
        text.rlike(r"^\d{1,19}$"), text.try_cast("bigint")
    )


_KINDS: dict[str, Callable[[Column], Column]] = {
    S.STRING: lambda t: t,
    S.INT: lambda t: F.when(t.rlike(r"^[+-]?\d{1,10}$"), t.try_cast("int")),
    S.LONG: lambda t: F.when(t.rlike(r"^[+-]?\d{1,19}$"), t.try_cast("bigint")),
    S.DOUBLE: lambda t: F.when(t.rlike(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), t.try_cast("double")),
    S.TS_ISO: lambda t: F.when(t.rlike(_TS_ISO), F.try_to_timestamp(t)),
    S.TS_FOCUS: lambda t: F.when(t.rlike(_TS_FOCUS), F.try_to_timestamp(t)),
    S.TS_CLF: lambda t: F.try_to_timestamp(t, F.lit("dd/MMM/yyyy:HH:mm:ss Z")),
    S.DATE: lambda t: F.when(t.rlike(r"^\d{4}-\d{2}-\d{2}$"), t.try_cast("date")),
    S.CLF_BYTES: _clf_bytes,
    S.JSON_OBJECT: lambda t: F.try_variant_get(F.try_parse_json(t), "$", "map<string,string>"),
}


def typed_value(kind: str, text: Column) -> Column:
    """The typed value of `text` for a field kind, or null when the text is not of that type."""
    match = _DECIMAL_KIND.match(kind)
    if match:
        return _decimal(int(match.group(1)), int(match.group(2)), text)
    if kind not in _KINDS:
        raise ValueError(f"unknown field kind {kind!r}")
    return _KINDS[kind](text)


def _json_type_ok(kind: str, json_type: Column) -> Column:
    if kind in (S.INT, S.LONG):
        return json_type.rlike(_INTEGRAL_JSON)
    if kind == S.DOUBLE or _DECIMAL_KIND.match(kind):
        return json_type.rlike(_NUMERIC_JSON)
    if kind == S.JSON_OBJECT:
        return json_type.startswith("OBJECT")
    return json_type == F.lit("STRING")


def schema_rules(source: S.Source) -> list[Expectation]:
    """The rules every record and declared field implies: text that is UTF-8, a well-formed record,
    required fields, declared types."""
    rules = [
        Expectation(BAD_ENCODING, f"NOT contains(raw, '{REPLACEMENT_CHARACTER}')"),
        Expectation(source.malformed_reason, "NOT _malformed"),
    ]
    for f in source.fields:
        if f.required:
            rules.append(Expectation(f"missing_field:{f.name}", f"length(trim({string_col(f.name)})) > 0"))
    for f in source.fields:
        present = f"{string_col(f.name)} IS NULL OR ({f.name} IS NOT NULL"
        if source.format == "json":
            rules.append(Expectation(f"bad_type:{f.name}", f"{present} AND {json_type_col(f.name)}_ok)"))
        elif f.kind != S.STRING:
            rules.append(Expectation(f"bad_type:{f.name}", f"{present})"))
    return rules


def all_rules(source: S.Source, reference: ReferenceConfig) -> list[Expectation]:
    """The schema's rules, then the source's own in their declared order (the first broken names the
    reason), reference checks resolved against the configured lists and the source's unknown-value
    action."""
    keep = reference.unknown_values.get(source.name, "quarantine") == "keep"
    rules = [
        S.reference_expectation(r, getattr(reference, r.values), keep)
        if isinstance(r, S.ReferenceCheck)
        else r
        for r in source.rules
    ]
    return [*schema_rules(source), *rules]


def _typed_columns(source: S.Source, df: DataFrame, with_json_types: bool) -> DataFrame:
    columns = []
    for f in source.fields:
        text = F.col(string_col(f.name))
        columns.append(typed_value(f.kind, text).alias(f.name))
        if with_json_types:
            columns.append(
                _json_type_ok(f.kind, F.col(json_type_col(f.name))).alias(f"{json_type_col(f.name)}_ok")
            )
    return df.select("*", *columns)


def parse_json(source: S.Source, lines: DataFrame) -> DataFrame:
    value = F.try_parse_json(F.col("raw"))
    with_variant = lines.select("*", value.alias("_v"))
    v = F.col("_v")
    columns = [(v.isNull() | ~F.ltrim(F.col("raw")).startswith("{")).alias("_malformed")]
    for f in source.fields:
        path = f"$.{f.name}"
        # A JSON object or array in a field becomes its JSON text, so the type rule sees it as present.
        columns.append(F.try_variant_get(v, path, "string").alias(string_col(f.name)))
        columns.append(F.schema_of_variant(F.variant_get(v, path, "variant")).alias(json_type_col(f.name)))
    parsed = with_variant.select(*lines.columns, *columns)
    return _typed_columns(source, parsed, with_json_types=True)


def parse_csv(
    source: S.Source, lines: DataFrame, header: tuple[str, ...], from_path: tuple[str, ...] = ()
) -> DataFrame:
    """Parses lines in the column order of their file's `header`; declared fields are taken by name.

    A declared field missing from the header but named by a Hive-style folder (`date=2026-01-03/`) takes
    its value from the path, as Spark's own partitioned writers leave it.
    """
    # Positional names: a header's own text (a backtick, a repeated or empty name, `_corrupt`) never
    # reaches the DDL. Declared fields are found by their first position (classify refuses a file that
    # names one twice).
    ddl = ", ".join(f"`_c{i}` string" for i in range(len(header))) + ", `_corrupt` string"
    options = {"escape": '"', "mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}
    if source.csv_null is not None:
        # Then an unquoted empty field is null too, and a quoted "" stays an empty string.
        options["nullValue"] = source.csv_null
    record = F.from_csv(F.col("raw"), ddl, options)
    parsed = lines.select("*", record.alias("_r"))
    columns = [(F.col("_r._corrupt").isNotNull() | (F.trim(F.col("raw")) == F.lit(""))).alias("_malformed")]
    for name in source.field_names:
        if name in from_path:
            value = F.regexp_extract(F.col("source_file"), rf"/{re.escape(name)}=([^/]+)/", 1)
            columns.append(F.when(F.col("_r._corrupt").isNull(), value).alias(string_col(name)))
        else:
            columns.append(F.col(f"_r._c{header.index(name)}").alias(string_col(name)))
    return _typed_columns(source, parsed.select(*lines.columns, *columns), with_json_types=False)


def parse_access_log(source: S.Source, lines: DataFrame) -> DataFrame:
    # One regex evaluation per line: the groups are joined by a separator and split again.
    replacement = FIELD_SEP.join(f"${i}" for i in range(1, len(source.fields) + 1))
    joined = F.regexp_replace(F.col("raw"), ACCESS_LOG_PATTERN, replacement)
    parts = F.split(joined, FIELD_SEP)
    matched = (joined != F.col("raw")) & (F.size(parts) == F.lit(len(source.fields)))
    columns = [(~matched).alias("_malformed")]
    for i, f in enumerate(source.fields):
        value = F.when(matched, parts.getItem(i))
        if f.name in ("referer", "user_agent"):
            value = F.regexp_replace(value, r'\\(["\\])', "$1")  # unescape \" and \\ of the log format
        columns.append(value.alias(string_col(f.name)))
    return _typed_columns(source, lines.select(*lines.columns, *columns), with_json_types=False)


def with_helpers(lines: DataFrame, late_window_days: int, future_tolerance_minutes: int) -> DataFrame:
    """Adds `_max_ts` and `_min_event_date`, the bounds rules compare timestamps with (see sources)."""
    arrival_end = F.to_timestamp(F.date_add(F.col("ingest_date"), 1))
    latest = F.least(F.col("ingested_at"), F.coalesce(arrival_end, F.col("ingested_at")))
    tolerance = F.make_dt_interval(F.lit(0), F.lit(0), F.lit(future_tolerance_minutes))
    return lines.select(
        "*",
        (latest + tolerance).alias("_max_ts"),
        F.date_sub(F.col("ingest_date"), late_window_days).alias("_min_event_date"),
    )
