"""Right to erasure: removes one customer from every bronze, silver and gold table and from quarantine.

The request is recorded, pseudonymised, in bronze/erasure_requests. With --vacuum the tables are then
vacuumed so that earlier table versions cannot be read back with the customer in them.
"""

import sys

from lakepulse.jobs.forget import main

if __name__ == "__main__":
    sys.exit(main())
