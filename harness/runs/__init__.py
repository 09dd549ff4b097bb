"""A run: a cell's nox session, the options after ``--``, run directories, result
keys and the reuse of a previous run's cells, and the glue for CI job matrices."""
