"""Churn and pricing models: Spark ML pipelines and a log-log demand model, tracked in MLflow.

`tracking` and `registry` hold the MLflow plumbing shared by both models; `churn`, `fairness` and
`plots` are the churn modelling; `pricing` trains the demand model from `demand` (the dataset),
`demand_fit` (the fit), `demand_model` (the logged model), `pricing_tracking` (what a run logs) and
`pricing_recommend` (the prices); `byod` maps a user's own transactions onto the pipeline.
"""
