"""Results: reading and checking cell CSVs, folding repeats, CPU classes, and the
comparison of two runs or two cells."""
