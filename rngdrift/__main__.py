"""``python -m rngdrift``: the ``rngdrift`` command (from a checkout without installing it)."""
import sys

from _rngdrift.harness.cli import main

sys.exit(main())
