"""``python -m harness COMMAND ...``: the ``rngdrift`` command without installing it."""
import sys

from harness.cli import main

sys.exit(main())
