"""The canonical scenarios. Each module registers scenarios with
``harness.cell.registry.scenario`` (public name: ``rngdrift.scenario``); modules starting with ``_`` are helpers.

Everything here runs inside matrix cells: Python 3.7+, torch 1.5+.
"""
