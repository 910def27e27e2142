"""lakepulse: product events, logs and cloud bills into trustworthy Delta tables, KPIs and models."""

__version__ = "0.1.0"
