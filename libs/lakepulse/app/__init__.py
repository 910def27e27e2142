"""What a person runs end to end: the pipeline (every job in order), the run report and the MLflow UI."""
