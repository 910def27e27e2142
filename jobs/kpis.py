"""Gold KPIs: daily KPIs, retention cohorts, market signals, promo response and cost KPIs, incrementally.

Writes gold/kpi_daily, gold/retention_cohorts, gold/market_signals, gold/promo_response and
gold/cost_kpis_daily from silver, each reading only the days its windows need and replacing the days
it computes. Default: every complete silver day not yet computed. See docs/gold.md.
"""

import sys

from lakepulse.jobs.kpis import main

if __name__ == "__main__":
    sys.exit(main())
