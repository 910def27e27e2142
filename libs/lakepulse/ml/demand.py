"""The demand dataset the fit runs on: gold/product_demand_daily's product-days with a purchase.

The gold table (`lakepulse.gold.product_demand`) holds one row per product and day, the days a product
sold nothing included (for the recommendations' baseline); the fit needs only the days with a purchase,
since a log of zero units has no place in a log-log model. Those rows are bounded by products x days
(tens of thousands for a year of a few hundred products), which is why the fit may collect them.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

DEMAND_SCHEMA = T.StructType(
    [
        T.StructField("category", T.StringType(), False),
        T.StructField("product_id", T.StringType(), False),
        T.StructField("date", T.DateType(), False),
        T.StructField("day_of_week", T.IntegerType(), False),
        T.StructField("purchases", T.LongType(), False),
        T.StructField("quantity", T.LongType(), False),
        T.StructField("log_price", T.DoubleType(), False),
        T.StructField("promo_share", T.DoubleType(), False),
        T.StructField("temp_c", T.DoubleType(), True),
        T.StructField("precipitation_mm", T.DoubleType(), True),
    ]
)


def fit_rows(product_demand: DataFrame) -> DataFrame:
    """The product-days with a purchase at a known list price, in the fit's columns (DEMAND_SCHEMA)."""
    bought = product_demand.filter(
        (F.col("purchases") > 0) & (F.col("quantity") > 0) & F.col("log_price").isNotNull()
    )
    return bought.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in DEMAND_SCHEMA.fields])
