"""What rngdrift costs, measured (``nox -s bench``, or ``python -m benchmarks.bench``).

    bench      the command: options, then the stages in order, then the tables
    stages     Bench: each stage per cell and for the matrix, recording as it goes
    measure    timing a command, disk usage, plain downloads, PyPI's file sizes
    logs       what uv's logs and cache, a timed nox log and a cell's CSV say
    cells      which cells to measure; where nox keeps a cell's venv
    records    the JSONL measurement records (append, load, the latest wins)
    tables     every table, from records alone

Imports go one way: bench -> stages -> measure, logs, cells, records; tables -> records.
"""
