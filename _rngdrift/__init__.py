"""rngdrift's own code, under a name no project of yours uses.

``harness/`` (the host side and the cell side) and ``scenarios/`` (the canonical
scenarios) import as ``_rngdrift.harness`` and ``_rngdrift.scenarios``, and import
each other relatively. In a checkout they sit beside this folder; a wheel installs
them inside it. Either way rngdrift has one private importable name besides its
small public API (``rngdrift``), so in a matrix cell your own ``harness``,
``scenarios``, ``results`` or ``tests`` always import as yours. Standard library
only, Python 3.7+: the cells import it too.
"""
import os

_HERE = os.path.dirname(os.path.realpath(__file__))
if not os.path.isdir(os.path.join(_HERE, "harness")):
    # A checkout: the code sits beside this folder, not inside it.
    __path__ = [os.path.dirname(_HERE)]

__version__ = "0.3.0"
