"""Cell side: everything that runs inside one matrix venv.

Must stay importable on Python 3.7 with torch 1.5: no walrus, no f"{x=}", no
``dict | dict``, no pandas, no typing syntax newer than 3.7.
"""
