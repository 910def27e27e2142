"""Churn and pricing models: Spark ML pipelines and a log-log demand model, tracked in MLflow.

`tracking` and `registry` hold the MLflow plumbing shared by both models; `churn`, `pricing`,
`fairness` and `plots` are the modelling; `byod` maps a user's own transactions onto the pipeline.
"""
