"""Gold: the tables people and models read, computed incrementally by day from silver (docs/gold.md).

Every module here is a set of pure `DataFrame -> DataFrame` transforms for one gold table; `planner`
decides which days a run computes and reads only the silver partitions those days need; `runner` ties
the two together for the `features` and `kpis` jobs.
"""
