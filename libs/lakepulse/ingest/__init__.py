"""Landing -> bronze, and bronze -> silver: the ingestion and refinement of every source."""
