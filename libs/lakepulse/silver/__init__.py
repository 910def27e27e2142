"""Silver (the `refine` job): bronze -> silver, one small module per silver table (docs/silver.md).

Each module turns the new bronze rows of one source into its silver table(s) with pure DataFrame
transforms plus one idempotent write; `runner` decides which bronze rows are new and makes every step
exactly-once (see lakepulse.silver.runner).
"""
