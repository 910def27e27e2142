"""Daily cloud billing in FOCUS 1.0 columns, written with the quirks of a real export.

Usage of a resource on a day = idle baseline + per_request x (that service's logged requests), with
+-2% noise; the idle baseline is provisioned capacity that scales with the customer base (so the
idle / traffic balance is the same at every size) plus a floor. Planted cost anomalies multiply a
service's usage on one day without any change in its requests. The lines are formatted here (quoted
strings, unquoted decimals, the literal NULL), which Spark's CSV writer cannot do, and written as text.
"""

from __future__ import annotations

import json

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse_sample import dims
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import py_uniform, uniform
from lakepulse_sample.scenario import Scenario

FOCUS_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "Id", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
)  # fmt: skip
FOCUS_HEADER = ",".join(f'"{c}"' for c in FOCUS_COLUMNS)
PROVIDER = "LakeCloud"
ISSUER = "LakeCloud, Inc."
ACCOUNT_ID = "482913570264"
ACCOUNT_NAME = "LakeCloud Shop"
USAGE_NOISE = 0.02
TEAMS = {
    "frontend": "web",
    "catalog": "catalog",
    "search": "discovery",
    "checkout": "payments",
    "auth": "identity",
}
NULL = "NULL"

RESOURCE_SCHEMA = T.StructType(
    [
        T.StructField(name, T.StringType())
        for name in ("service", "zone", "fixed_before", "fixed_after", "list_unit_price")
    ]
    + [
        T.StructField("resource_idx", T.IntegerType()),
        T.StructField("per_request", T.DoubleType()),
        T.StructField("idle_usage", T.DoubleType()),
        T.StructField("committed", T.BooleanType()),
    ]
)


def _q(value: str | None) -> str:
    """A string field as the export writes it: quoted with doubled inner quotes, or the bare NULL."""
    return NULL if value is None else '"' + value.replace('"', '""') + '"'


def _code(seed: int, salt: str, length: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(alphabet[int(py_uniform(seed, salt, i) * len(alphabet))] for i in range(length))


def _commitment(p: GenerateParams, r) -> list[str]:
    """CommitmentDiscountCategory .. CommitmentDiscountType: a savings plan for committed resources."""
    if not r.committed:
        return [NULL] * 5
    return [
        _q("Spend"),
        _q(f"lakecloud:savingsplans::{ACCOUNT_ID}:savingsplan/{_code(p.seed, 'plan', 12).lower()}"),
        _q("compute-savings-plan-1y"),
        _q("Used"),
        _q("Savings Plan"),
    ]


def _fixed_after(p: GenerateParams, r) -> str:
    """CommitmentDiscountCategory .. Tags, with {placeholders} for the day's numbers (see `_line`)."""
    sku = _code(p.seed, f"sku:{r.name}", 16)
    tags = json.dumps(
        {"service": r.service, "environment": "prod", "team": TEAMS[r.service]}, separators=(", ", ": ")
    )
    region = dims.REGION_NAMES[r.region]
    resource_id = f"lakecloud:{r.service_category.lower()}:{r.region}:{ACCOUNT_ID}:{r.resource_type}/{r.name}"
    return ",".join(
        [
            *_commitment(p, r),
            "{consumed}",
            _q(r.unit),
            "{contracted_cost}",
            "{contracted_unit_price}",
            "{effective_cost}",
            _q(ISSUER),
            "{list_cost}",
            _q(r.list_unit_price),
            _q("Committed" if r.committed else "Standard"),
            "{pricing_quantity}",
            _q(r.unit),
            _q(PROVIDER),
            _q(ISSUER),
            _q(r.region),
            _q(region),
            _q(resource_id),
            _q(r.name),
            _q(r.resource_type),
            _q(r.service_category),
            "{id}",
            _q(r.service),
            _q(sku),
            _q(f"{sku}.{_code(p.seed, f'price:{r.name}', 10)}.{_code(p.seed, 'offer', 10)}"),
            _q(f"21{dims.SERVICE_NAMES.index(r.service) + 1:010d}"),
            _q(f"shop-{r.service}"),
            _q(tags),
        ]
    )


def _resource_rows(p: GenerateParams) -> list[tuple]:
    """Per resource, the text of the columns that do not change by day, already quoted.

    The day-dependent columns sit between ChargeFrequency and ChargePeriodEnd and in the cost block, so
    each row is split into pieces around them; `_line` stitches the pieces together.
    """
    services = {s.name: s for s in dims.SERVICES}
    rows = []
    for idx, r in enumerate(dims.RESOURCES):
        idle = r.idle_floor + r.per_request * services[r.service].idle_requests_per_customer * p.customers
        description = (
            f"${r.list_unit_price} per {r.unit} - {r.resource_type} {r.name} in {dims.REGION_NAMES[r.region]}"
        )
        # Columns 8..10 (ChargeClass, ChargeDescription, ChargeFrequency) are fixed; then periods (day).
        fixed_before = ",".join([NULL, _q(description), _q("Usage-Based")])
        zone = _q(f"{r.region}a") if r.committed else NULL
        row = (r.service, zone, fixed_before, _fixed_after(p, r), r.list_unit_price, idx, r.per_request, idle)
        rows.append((*row, r.committed))
    return rows


def billing_lines(
    spark: SparkSession, p: GenerateParams, scenario: Scenario, requests: DataFrame
) -> DataFrame:
    """(day, resource) lines: `requests` holds (service, day, requests) counted from the access logs."""
    resources = spark.createDataFrame(_resource_rows(p), RESOURCE_SCHEMA)
    days = spark.range(p.days).select(F.col("id").cast("int").alias("day"))
    factor = F.lit(1.0)
    for a in scenario.anomalies:
        factor = F.when((F.col("service") == a.service) & (F.col("day") == a.day), F.lit(a.factor)).otherwise(
            factor
        )
    noise = 1.0 + USAGE_NOISE * (2.0 * uniform(p.seed, "usage_noise", "resource_idx", "day") - 1.0)
    usage = (F.col("idle_usage") + F.col("per_request") * F.col("requests")) * noise * factor
    list_price = F.col("list_unit_price").cast("decimal(20,11)").cast("double")
    contracted_price = list_price * (1.0 - dims.NEGOTIATED_DISCOUNT)
    effective_share = F.when(F.col("committed"), 1.0 - dims.COMMITMENT_DISCOUNT).otherwise(1.0)
    grid = (
        resources.crossJoin(days)
        .join(requests, on=["service", "day"], how="left")
        .withColumn("requests", F.coalesce(F.col("requests"), F.lit(0)).cast("double"))
        .withColumn("usage", usage)
        .withColumn("list_cost", F.col("usage") * list_price)
        .withColumn("contracted_cost", F.col("usage") * contracted_price)
        .withColumn("effective_cost", F.col("contracted_cost") * effective_share)
    )
    return grid.select(
        "service",
        "day",
        "resource_idx",
        F.col("usage").alias("consumed_quantity"),
        F.col("list_cost"),
        F.col("effective_cost"),
        _line(p, contracted_price).alias("line"),
    )


def _dec(column: Column, digits: int) -> Column:
    return column.cast(f"decimal(38,{digits})").cast("string")


def _line(p: GenerateParams, contracted_price: Column) -> Column:
    day = F.date_add(F.lit(p.start), F.col("day"))
    stamp = lambda d: F.concat(F.lit('"'), F.date_format(d, "yyyy-MM-dd"), F.lit(' 00:00:00"'))  # noqa: E731
    month = F.trunc(day, "month")
    after = F.col("fixed_after")
    for key, value in {
        "{consumed}": _dec(F.col("usage"), 15),
        "{contracted_cost}": _dec(F.col("contracted_cost"), 11),
        "{contracted_unit_price}": _dec(contracted_price, 11),
        "{effective_cost}": _dec(F.col("effective_cost"), 11),
        "{list_cost}": _dec(F.col("list_cost"), 11),
        "{pricing_quantity}": _dec(F.col("usage"), 11),
        "{id}": (F.lit(10_000_000) + F.col("day") * 100 + F.col("resource_idx")).cast("string"),
    }.items():
        after = F.replace(after, F.lit(key), value)
    return F.concat_ws(
        ",",
        F.col("zone"),
        _dec(F.col("effective_cost"), 11),  # BilledCost
        F.lit(_q(ACCOUNT_ID)),
        F.lit(_q(ACCOUNT_NAME)),
        F.lit(_q("USD")),
        stamp(F.add_months(month, 1)),
        stamp(month),
        F.lit(_q("Usage")),
        F.col("fixed_before"),
        stamp(F.date_add(day, 1)),
        stamp(day),
        after,
    )
