"""The lake's bookkeeping, apart from the data: run and batch identity, audit and state tables,
table maintenance and erasure."""
