"""The matrix: which cells exist (the lock made from the package index, the cell
sets chosen from it) and the interpreters they run on."""
