"""A team's own environments, for ``rngdrift check``: their declarations at a git ref
or in a file (``declared``, ``specs``), one Python both sides can run (``pythons``),
resolved and installed with uv (``uvtool``, ``build``), and the steps of a check
(``checkrun``). rngdrift's matrix (``harness.matrix``) is not involved: its held pins
are for its canonical cells, not for a team's environment."""
