"""How a checkout becomes a wheel (the metadata is in pyproject.toml).

A checkout keeps the card's layout (``harness/``, ``scenarios/``, ``noxfile.py`` and
``matrix.lock.json`` at its root); a wheel puts all of it under the one private name
``_rngdrift`` (``_rngdrift.harness``, ``_rngdrift.scenarios``, ``_rngdrift/noxfile.py``,
``_rngdrift/matrix.lock.json``) beside the public ``rngdrift`` package, so installing
rngdrift never adds a ``harness`` or ``scenarios`` that a project's own would clash with.
"""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

MAPPED = {"_rngdrift.harness": "harness", "_rngdrift.scenarios": "scenarios"}
SHIPPED = ("noxfile.py", "matrix.lock.json")  # read next to the code: harness/paths.py


def packages():
    found = ["rngdrift", "_rngdrift"]
    for name, folder in MAPPED.items():
        found += [name] + ["%s.%s" % (name, sub) for sub in find_packages(folder)]
    return found


class BuildWithSessions(build_py):
    """build_py, plus the sessions and the lock copied into _rngdrift."""

    def run(self):
        super().run()
        for name in SHIPPED:
            self.copy_file(name, os.path.join(self.build_lib, "_rngdrift", name))


setup(packages=packages(),
      package_dir={"rngdrift": "rngdrift", "_rngdrift": "_rngdrift", **MAPPED},
      cmdclass={"build_py": BuildWithSessions})
