"""rngdrift: a cross-version regression harness for PyTorch/torchvision randomness.

The package has two sides. ``harness.cell`` runs inside a matrix venv (Python 3.7+,
torch 1.5+, stdlib only besides torch/torchvision/numpy/Pillow). Everything else in
``harness`` is the host side (nox, pandas, modern Python). Keep this file free of
imports so the cell side can import ``harness.cell`` on any interpreter.
"""
