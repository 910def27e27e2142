"""Writes a self-contained HTML report with plots of KPIs, costs, market signals, promos, churn and pricing.

The report lands under the lake's reports folder (paths.reports) as index.html.
"""

import sys

from lakepulse.jobs.report import main

if __name__ == "__main__":
    sys.exit(main())
