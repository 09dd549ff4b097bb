"""The ``rngdrift`` subcommands, one module each (asv's ``commands/``): ``HELP``,
``add_arguments(parser)`` and ``run(args) -> exit status``. They parse, call the
library modules and print; the logic lives in ``matrix``, ``runs``, ``results`` and
``report``."""
