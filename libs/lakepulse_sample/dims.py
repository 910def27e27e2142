"""The small, fixed-size world the generator draws from: cities, categories, products, services.

These are literals because their size never grows with the data (a few dozen rows whatever the number
of customers or days); everything proportional to customers x days is built in Spark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakepulse_sample.randomness import py_uniform


@dataclass(frozen=True)
class City:
    country: str
    city: str
    city_type: str
    lat: float
    lon: float
    weight: float
    mean_temp: float
    temp_amplitude: float
    wet_days: float  # share of days with precipitation


CITIES = (
    City("FR", "Paris", "urban", 48.8566, 2.3522, 12, 12.5, 8.0, 0.35),
    City("FR", "Lyon", "urban", 45.7640, 4.8357, 6, 12.8, 9.0, 0.32),
    City("FR", "Millau", "rural", 44.0983, 3.0783, 2, 12.0, 9.0, 0.30),
    City("DE", "Berlin", "urban", 52.5200, 13.4050, 10, 10.0, 10.0, 0.33),
    City("DE", "Munich", "urban", 48.1351, 11.5820, 6, 9.0, 10.0, 0.38),
    City("DE", "Husum", "rural", 54.4858, 9.0524, 2, 8.8, 8.0, 0.45),
    City("ES", "Madrid", "urban", 40.4168, -3.7038, 8, 15.0, 10.0, 0.18),
    City("ES", "Seville", "urban", 37.3891, -5.9845, 4, 19.0, 9.0, 0.15),
    City("ES", "Teruel", "rural", 40.3457, -1.1065, 2, 12.0, 10.0, 0.20),
    City("GB", "London", "urban", 51.5074, -0.1278, 12, 11.5, 7.0, 0.42),
    City("GB", "Manchester", "urban", 53.4808, -2.2426, 5, 10.0, 6.0, 0.48),
    City("GB", "Keswick", "rural", 54.6013, -3.1347, 2, 9.0, 6.0, 0.55),
    City("US", "New York", "urban", 40.7128, -74.0060, 10, 13.0, 12.0, 0.32),
    City("US", "Austin", "urban", 30.2672, -97.7431, 5, 21.0, 9.0, 0.22),
    City("US", "Bozeman", "rural", 45.6770, -111.0429, 2, 7.0, 13.0, 0.28),
    City("IT", "Milan", "urban", 45.4642, 9.1900, 6, 13.5, 10.0, 0.27),
    City("IT", "Matera", "rural", 40.6664, 16.6043, 2, 15.0, 9.0, 0.20),
    City("NL", "Amsterdam", "urban", 52.3676, 4.9041, 6, 10.5, 7.0, 0.40),
    City("NL", "Giethoorn", "rural", 52.7400, 6.0780, 2, 10.0, 7.0, 0.40),
)
COUNTRIES = tuple(sorted({c.country for c in CITIES}))

PLANS = ("basic", "standard", "premium")
PLAN_WEIGHTS = (0.5, 0.35, 0.15)
CHANNELS = ("organic", "paid_search", "social", "referral", "email", "partner")
CHANNEL_WEIGHTS = (0.34, 0.22, 0.18, 0.11, 0.09, 0.06)
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_WEIGHTS = (0.14, 0.27, 0.23, 0.17, 0.11, 0.08)
DEVICES = ("mobile", "desktop", "tablet")
DEVICE_WEIGHTS = (0.55, 0.35, 0.10)
TICKET_TOPICS = ("billing", "delivery", "login", "refund", "product_quality")
TICKET_WEIGHTS = (0.3, 0.25, 0.15, 0.2, 0.1)
FIRST_NAMES = (
    "anna", "ben", "clara", "david", "elena", "felix", "giulia", "hugo", "ines", "jonas",
    "karin", "lucas", "maria", "noah", "olga", "pablo", "quentin", "rosa", "sven", "tara",
)  # fmt: skip
LAST_NAMES = (
    "martin", "schmidt", "garcia", "smith", "rossi", "dupont", "jansen", "muller", "lopez", "brown",
    "bianchi", "bernard", "devries", "wilson", "moreau", "fischer", "romano", "taylor", "navarro", "weber",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
# First octets of ordinary public unicast ranges, so addresses look like real clients.
IP_FIRST_OCTETS = (31, 37, 46, 62, 77, 81, 85, 88, 91, 93, 109, 145, 151, 176, 178, 185, 188, 193, 212, 217)

# Sessions per hour of the day (UTC): quiet nights, a lunch bump and an evening peak.
HOUR_WEIGHTS = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
    3.2, 3.0, 2.8, 2.8, 3.0, 3.4, 4.2, 4.8, 5.0, 4.6, 3.4, 2.0,
)  # fmt: skip
# Monday..Sunday. Activity drives the number of sessions; quantity multiplies units per purchase.
DOW_ACTIVITY = (0.95, 0.95, 0.97, 1.0, 1.05, 1.1, 0.98)
_DOW_RAW = (0.92, 0.94, 0.96, 1.0, 1.04, 1.1, 1.04)
DOW_QUANTITY = tuple(round(x / (sum(_DOW_RAW) / 7), 4) for x in _DOW_RAW)
CONDITIONS = ("sunny", "cloudy", "rain", "snow")
WEATHER_ACTIVITY = {"sunny": 0.95, "cloudy": 1.0, "rain": 1.08, "snow": 1.12}
WEATHER_QUANTITY = {"sunny": 0.97, "cloudy": 1.0, "rain": 1.04, "snow": 1.06}
PROMO_QUANTITY = 1.25
QUANTITY_NOISE = 0.05  # units per purchase vary by +-5% around the demand curve

# Prices: each product's base price is the category's base times a factor in [1/PRODUCT_SPREAD,
# PRODUCT_SPREAD]; price changes move a log level kept within +-PRICE_LEVEL_BOUND.
PRODUCTS_PER_CATEGORY = 10
PRODUCT_SPREAD = 1.25
PRICE_LEVEL_BOUND = 0.22
PRICE_STEP = (0.05, 0.18)
CHANGES_PER_PRODUCT = 5.0  # expected price changes per product over the whole period

MIN_BASE_QUANTITY = 3.0
_MIN_MULTIPLIER = min(DOW_QUANTITY) * min(WEATHER_QUANTITY.values()) * (1 - QUANTITY_NOISE)
_MAX_PRICE_RATIO = PRODUCT_SPREAD * math.exp(PRICE_LEVEL_BOUND)


@dataclass(frozen=True)
class CategorySeed:
    name: str
    elasticity: float
    base_price: float
    weight: float
    queries: tuple[str, ...]


CATEGORY_SEEDS = (
    CategorySeed("grocery", -0.5, 4.50, 3.0, ("organic coffee", "olive oil", "pasta", "dark chocolate")),
    CategorySeed("household", -0.8, 9.90, 2.0, ("dish soap", "paper towels", "laundry pods", "light bulbs")),
    CategorySeed("beauty", -1.1, 18.00, 1.5, ("face cream", "shampoo", "sunscreen", "lipstick")),
    CategorySeed("books", -1.3, 16.00, 1.5, ("crime novel", "cookbook", "travel guide", "comic")),
    CategorySeed("fashion", -1.6, 45.00, 1.5, ("running shoes", "winter jacket", "jeans", "t-shirt")),
    CategorySeed("sports", -1.9, 60.00, 1.0, ("yoga mat", "football", "bike helmet", "dumbbells")),
    CategorySeed("toys", -2.2, 28.00, 1.0, ("building blocks", "puzzle", "board game", "plush bear")),
    CategorySeed("electronics", -2.5, 150.00, 1.0, ("wireless headphones", "usb-c charger", "smart watch")),
)


@dataclass(frozen=True)
class Category:
    index: int
    name: str
    elasticity: float
    base_price: float
    base_quantity: float
    weight: float
    queries: tuple[str, ...]


def categories(seed: int) -> tuple[Category, ...]:
    """Each category's planted elasticity (its seed value +-0.1) and base demand.

    base_quantity is chosen so that even the dearest product on the quietest day keeps an expected
    quantity above one unit (purchases are at least one unit, and a floor would bend the demand curve),
    and at least MIN_BASE_QUANTITY, where rounding to whole units would drown the price signal.
    """
    out = []
    for i, c in enumerate(CATEGORY_SEEDS):
        elasticity = round(c.elasticity + (py_uniform(seed, "elasticity", c.name) - 0.5) * 0.2, 3)
        needed = math.ceil(10 * 1.1 * _MAX_PRICE_RATIO ** abs(elasticity) / _MIN_MULTIPLIER) / 10
        base_quantity = max(MIN_BASE_QUANTITY, needed)
        out.append(Category(i, c.name, elasticity, c.base_price, base_quantity, c.weight, c.queries))
    return tuple(out)


@dataclass(frozen=True)
class Service:
    name: str
    latency_ms: float  # median
    error_rate: float  # share of 5xx
    idle_requests_per_customer: float  # provisioned capacity, in requests per customer per day


SERVICES = (
    Service("frontend", 40.0, 0.004, 0.6),
    Service("catalog", 25.0, 0.003, 0.45),
    Service("search", 80.0, 0.005, 0.15),
    Service("checkout", 120.0, 0.008, 0.18),
    Service("auth", 30.0, 0.003, 0.1),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
# Which services an event's requests hit (before log sampling).
EVENT_SERVICES = {
    "page_view": ("frontend", "catalog"),
    "search": ("frontend", "search"),
    "promo_view": ("frontend",),
    "add_to_cart": ("checkout",),
    "checkout": ("checkout", "auth"),
    "purchase": ("checkout", "auth"),
    "subscription_start": ("auth", "checkout"),
    "subscription_cancel": ("auth", "checkout"),
    "support_ticket": ("frontend",),
}
EVENT_TYPES = tuple(EVENT_SERVICES)


@dataclass(frozen=True)
class Resource:
    service: str
    name: str
    resource_type: str
    service_category: str
    unit: str
    list_unit_price: str  # as exported: a short decimal string
    per_request: float  # usage per logged request
    idle_floor: float  # usage per day even with no traffic
    committed: bool
    region: str = "eu-west-1"


# Usage per day = idle_floor + per_request x (idle_requests_per_customer x customers + logged requests).
RESOURCES = (
    Resource("frontend", "fe-web-asg", "instance", "Compute", "Hours", "0.0464", 0.02, 1.0, True),
    Resource("frontend", "fe-cdn", "distribution", "Networking", "GB", "0.085", 0.002, 0.1, False),
    Resource("catalog", "catalog-api", "instance", "Compute", "Hours", "0.0928", 0.02, 1.0, True),
    Resource("catalog", "catalog-db", "db-instance", "Databases", "Hours", "0.171", 0.01, 1.0, False),
    Resource("catalog", "catalog-cache", "cache-node", "Databases", "Hours", "0.068", 0.005, 1.0, False),
    Resource("search", "search-cluster", "domain", "Analytics", "Hours", "0.245", 0.08, 1.0, False),
    Resource("search", "search-index", "bucket", "Storage", "GB-Months", "0.023", 0.05, 1.0, False),
    Resource("checkout", "checkout-api", "instance", "Compute", "Hours", "0.0928", 0.05, 1.0, True),
    Resource("checkout", "checkout-db", "db-instance", "Databases", "Hours", "0.342", 0.03, 1.0, False),
    # A disaster-recovery replica: billed every day, never serves a request (pure idle cost).
    Resource(
        "checkout",
        "checkout-db-standby",
        "db-instance",
        "Databases",
        "Hours",
        "0.342",
        0.0,
        24.0,
        False,
        "eu-central-1",
    ),
    Resource("auth", "auth-api", "instance", "Compute", "Hours", "0.0464", 0.05, 1.0, False),
    Resource("auth", "auth-kms", "key", "Security", "Requests", "0.000003", 2.0, 10.0, False),
)
IDLE_RESOURCES = tuple(r.name for r in RESOURCES if r.per_request == 0.0)
REGION_NAMES = {"eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}
COMMITMENT_DISCOUNT = 0.28
NEGOTIATED_DISCOUNT = 0.05

FLASH_PROMO_CODES = ("FLASH10", "FLASH15", "FLASH20", "FLASH25")
APP_VERSIONS = ("5.4.0", "5.4.1")

USER_AGENTS = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
    ),
}

CITY_SCHEMA = T.StructType(
    [
        T.StructField("city_idx", T.IntegerType(), False),
        T.StructField("country", T.StringType(), False),
        T.StructField("city", T.StringType(), False),
        T.StructField("city_type", T.StringType(), False),
        T.StructField("city_lat", T.DoubleType(), False),
        T.StructField("city_lon", T.DoubleType(), False),
        T.StructField("mean_temp", T.DoubleType(), False),
        T.StructField("temp_amplitude", T.DoubleType(), False),
        T.StructField("wet_days", T.DoubleType(), False),
    ]
)

PRODUCT_SCHEMA = T.StructType(
    [
        T.StructField("product_idx", T.IntegerType(), False),
        T.StructField("product_id", T.StringType(), False),
        T.StructField("category_idx", T.IntegerType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("product_base_price", T.DoubleType(), False),
    ]
)


def cities_df(spark: SparkSession) -> DataFrame:
    rows = [
        (i, c.country, c.city, c.city_type, c.lat, c.lon, c.mean_temp, c.temp_amplitude, c.wet_days)
        for i, c in enumerate(CITIES)
    ]
    return spark.createDataFrame(rows, CITY_SCHEMA)


def products(seed: int) -> list[tuple[int, str, int, str, float]]:
    """(product_idx, product_id, category_idx, category, base price): PRODUCTS_PER_CATEGORY per category."""
    out = []
    for cat in categories(seed):
        for j in range(PRODUCTS_PER_CATEGORY):
            idx = cat.index * PRODUCTS_PER_CATEGORY + j
            log_factor = (2 * py_uniform(seed, "product_price", idx) - 1) * math.log(PRODUCT_SPREAD)
            out.append(
                (idx, f"P{idx + 1:04d}", cat.index, cat.name, round(cat.base_price * math.exp(log_factor), 2))
            )
    return out


def products_df(spark: SparkSession, seed: int) -> DataFrame:
    return spark.createDataFrame(products(seed), PRODUCT_SCHEMA)
