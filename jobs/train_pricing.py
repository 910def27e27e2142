"""Fits price elasticity per category (log-log demand, MLflow), registers lakepulse-pricing, writes prices.

Reads gold/product_demand_daily (written by `kpis`); writes gold/price_elasticities (estimate and 95%
interval per category) and gold/price_recommendations (from the pricing champion).
"""

import sys

from lakepulse.jobs.train_pricing import main

if __name__ == "__main__":
    sys.exit(main())
