"""``--pytest "tests/test_model.py -k loss"``: a user's pytest tests as scenarios.

One option value is one pytest command line: a path (file or folder) and pytest's
own arguments, quoted as one shell word after ``nox -s matrix --`` (so nothing in
it can be taken for an option of rngdrift's or nox's). The runner collects the
tests once (``pytest --collect-only`` in a fork) and hands the node ids to every
child; each test is then one scenario, run alone in a fork of the scenario's
process (``forked.py``): ``pytest <path>::<test> ARGS``, so every test starts from
what a fresh ``pytest`` process seeded by the mode would see, whatever ran before
it, and its test module is imported after the seeding, as pytest would.

Rows, one event per test: ``passed`` (1 when the test did what it should: passed,
xfailed or xpassed; 0 when it failed or errored in setup or teardown; the
scenario's goal, so a test that passes in one cell and fails in the next is
*broken* in the report) and, when 0, ``failure`` (text, the why of that 0, never a
result of its own): ``KIND (FILE:LINE): MESSAGE``, where FILE:LINE is the deepest
line of the test's own file in the traceback (the ``assert``, not the
``contextlib.py`` line inside NumPy it was raised from), FILE relative to where the
tests run, and MESSAGE the assertion's message on one line (pytest's rewritten
``assert a == b`` with its values, NumPy's ``assert_allclose`` mismatched elements and
max differences, ``torch.testing``'s greatest differences), cut at
``FAILURE_LIMIT`` characters; ``error in setup``/``error in teardown`` before it for
an error outside the test body. A skipped test is ``n/a`` with pytest's reason; a
file that cannot be collected in a cell (an API the version lacks) is one ``error``
scenario named after the file. Values recorded with the ``rngdrift_record`` fixture
or ``rngdrift.record`` (with their goals) come along.
"""
import os
import shlex

from . import forked
from .adopt import add
from .loader import UserCodeError
from .metrics import Metrics
from .registry import NotApplicable, ScenarioFailed
from .schema import PYTEST_PREFIX, TEST_FAILURE_METRIC, TEST_PASSED_METRIC

# The plugin by its private module, once: where rngdrift is installed (or its egg-info is
# on the path) pytest would also load the public one by its entry point; and a team's own
# `rngdrift` package would stand in for rngdrift's public name.
PLUGIN_ARGS = ["-p", "no:cacheprovider", "-p", "no:rngdrift",
               "-p", "_rngdrift.harness.cell.pytest_plugin"]
MAX_NAME = 200
# ``passed`` (the goal of a test scenario): 1 when the test did what it should, 0 when
# not; a skipped test is n/a, so skipped -> passed is 'newly available'.
PASSED = {"passed": 1, "xfailed": 1, "xpassed": 1, "failed": 0, "error": 0}
FAILURE_LIMIT = 400


def scenario_name(nodeid):
    """``pytest.`` + the node id with '/' and '::' as '.', '.py' dropped; characters a
    name may not hold replaced; a long one cut and suffixed with a hash."""
    path, sep, rest = nodeid.partition("::")
    path = path[:-3] if path.endswith(".py") else path
    name = PYTEST_PREFIX + path.replace("/", ".").replace(os.sep, ".")
    if sep:
        name += "." + rest.replace("::", ".")
    name = "".join(c if c.isprintable() and c not in ",\t" else "_" for c in name).strip()
    if len(name) > MAX_NAME:
        import hashlib
        digest = hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:8]
        name = name[:MAX_NAME - 9] + "~" + digest
    return name


class _Collected(object):
    """pytest plugin: the collected items and the collectors that failed."""

    def __init__(self):
        self.items = []
        self.errors = []
        self.paths = []

    def pytest_collection_finish(self, session):
        self.paths = [str(a) for a in session.config.args]
        for item in session.items:
            path = getattr(item, "path", None) or item.fspath  # pytest < 7: fspath only
            self.items.append([item.nodeid, str(path)])

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append([report.nodeid, _error_line(report.longreprtext)])


def _error_line(text):
    lines = [l[1:].strip() for l in text.splitlines() if l.startswith("E ")]
    kept = [l for l in lines if l]
    return kept[-1] if kept else (text.strip().splitlines() or ["collection failed"])[-1]


class _Outcome(object):
    """pytest plugin: the outcome of the one test run, from its reports, and where and
    why it failed, from the exception itself (whatever ``--tb`` style the user chose)."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.outcome = None
        self.failure = ""
        self.skipped = ""

    def pytest_runtest_logreport(self, report):
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if report.passed:
                self.outcome = "xpassed" if xfail else "passed"
            elif report.skipped:
                self.outcome = "xfailed" if xfail else "skipped"
                self.skipped = self.skipped or _skip_reason(report)
            else:
                self.outcome = "failed"
                self.failure = self.failure or _error_line(report.longreprtext)
        elif report.failed:  # setup or teardown: an error, not a failure
            self.outcome = "error"
            self.failure = self.failure or "error in %s: %s" % (
                report.when, _error_line(report.longreprtext))
        elif report.skipped and report.when == "setup":
            self.outcome = "xfailed" if xfail else "skipped"
            self.skipped = _skip_reason(report)

    def pytest_exception_interact(self, node, call, report):
        """After the report of a failed phase: describe it from its exception (the first
        one counts; teardown's after a failed call does not replace it)."""
        if call.excinfo is None or getattr(self, "described", False):
            return
        self.described = True
        text = describe_failure(call.excinfo, node, self.workdir, report)
        self.failure = text if report.when == "call" else "error in %s: %s" % (report.when, text)


def _skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: why")
        reason = str(longrepr[2])
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    return _error_line(getattr(report, "longreprtext", "") or "") or "skipped"


def _shown(path, workdir):
    path = os.path.abspath(path)
    inside = os.path.relpath(path, workdir)
    return os.path.basename(path) if inside.startswith(os.pardir) else inside


def _where(traceback, node, workdir):
    """'FILE:LINE' of the deepest traceback line in the test's file; else in the user's
    code (under ``workdir``, outside installed packages); else the test's own line."""
    entries = [(os.path.abspath(str(entry.path)), entry.lineno + 1)  # lineno: 0-based
               for entry in traceback]
    test_file = os.path.abspath(str(getattr(node, "path", None) or node.fspath))
    root = os.path.abspath(workdir) + os.sep
    own = [e for e in entries if e[0] == test_file]
    users = [e for e in entries if e[0].startswith(root) and "site-packages" not in e[0]]
    if own or users:
        path, line = (own or users)[-1]
    else:  # a fixture that does not exist, an error inside pytest: the test's definition
        path, line = test_file, (node.location[1] or 0) + 1
    return "%s:%d" % (_shown(path, workdir), line)


def one_line(text, limit=FAILURE_LIMIT):
    """The non-empty lines of ``text`` joined by ' | ', cut at ``limit`` characters."""
    text = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_failure(excinfo, node, workdir, report=None):
    """'KIND (FILE:LINE): MESSAGE' of a test's exception (see the module doc)."""
    message = one_line(excinfo.value)
    if not message or excinfo.typename == "FixtureLookupError":  # said in the report only
        message = _error_line(getattr(report, "longreprtext", "") or "") or message
    where = _where(excinfo.traceback, node, workdir)
    return "%s (%s)%s" % (excinfo.typename, where, ": " + message if message else "")


def _pytest_main(args, plugin):
    import pytest
    return int(pytest.main(args + PLUGIN_ARGS, plugins=[plugin]))


def collect(text, workdir):
    """([(scenario name, argument to run it, node id, collection error or None)], the
    arguments to run one test with: pytest's own options, without the paths it
    collected from)."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UserCodeError("--pytest %r: %s" % (text, exc))
    try:
        import pytest  # noqa: F401
    except ImportError:
        raise UserCodeError("--pytest %r: pytest is not installed in this cell (nox -s matrix "
                            "installs it; by hand: pip install pytest)" % text)

    def body():
        os.chdir(workdir)
        grab = _Collected()
        code = _pytest_main(["--collect-only", "-q"] + argv, grab)
        return {"code": code, "items": grab.items, "errors": grab.errors, "paths": grab.paths}
    outcome = forked.run(body, title="pytest --collect-only", echo=False)
    result = outcome.result or {}
    if outcome.result is None or result.get("code") in (3, 4):
        raise UserCodeError("--pytest %r: pytest could not collect (%s): %s" % (
            text, "exit code %s" % result.get("code", outcome.code),
            forked.tail(outcome.output, lines=2)))
    tests = []
    for nodeid, path in result["items"]:
        rest = nodeid.partition("::")[2]
        tests.append([scenario_name(nodeid), path + ("::" + rest if rest else ""), nodeid, None])
    for nodeid, error in result["errors"]:
        tests.append([scenario_name(nodeid or text), None, nodeid, error])
    if not tests:
        raise UserCodeError("--pytest %r: pytest collected no tests (exit code %s)"
                            % (text, result.get("code")))
    options = list(argv)
    for path in result.get("paths", ()):
        if path in options:
            options.remove(path)
    return tests, options


def scenario_func(text, arg, nodeid, error, workdir, args):
    def run(ctx):
        if error is not None:
            raise ScenarioFailed("pytest could not collect %s: %s" % (nodeid or text, error))

        def body():
            os.chdir(workdir)
            grab = _Outcome(workdir)
            code = _pytest_main([arg, "-q"] + args, grab)
            return {"code": code, "outcome": grab.outcome, "failure": grab.failure,
                    "skipped": grab.skipped}
        outcome = forked.run(body, title="pytest " + nodeid)
        result = outcome.result
        if result is None or not result.get("outcome"):
            raise ScenarioFailed(forked.failure(outcome, "pytest") or "pytest ran no test %s (exit "
                                 "code %s): %s" % (nodeid, (result or {}).get("code"),
                                                   forked.tail(outcome.output)))
        if result["outcome"] == "skipped":
            raise NotApplicable("skipped: %s" % (result.get("skipped") or "no reason given"))
        found = Metrics(outcome.recorded)  # with the goals they were recorded with
        found[TEST_PASSED_METRIC] = PASSED[result["outcome"]]
        if not found[TEST_PASSED_METRIC]:
            found[TEST_FAILURE_METRIC] = result.get("failure") or result["outcome"]
        return found
    return run


def register(spec, collect_now):
    """Collect (the runner) or take the collected tests from ``spec``, and register them."""
    workdir = spec["workdir"]
    if collect_now:
        spec["tests"] = [[text] + list(collect(text, workdir)) for text in spec["pytest"]]
    else:
        import pytest  # noqa: F401  (imported once here: every fork gets it for free)
    for text, tests, options in spec.get("tests", ()):
        for name, arg, nodeid, error in tests:
            where = arg.split("::")[0] if arg else None
            search = [os.path.dirname(where)] if where else []
            conftests = _conftests(where, workdir) if where else []
            add(name, scenario_func(text, arg, nodeid, error, workdir, options), "--pytest", text,
                where, 0, [where] + conftests if where else [], search, forks=True,
                goals={TEST_PASSED_METRIC: "up"})


def _conftests(path, workdir):
    """conftest.py files pytest loads for ``path``: its folder and those above it, up to
    the filesystem root (pytest stops at its rootdir; more is harmless here)."""
    found, folder = [], os.path.dirname(os.path.abspath(path))
    while True:
        candidate = os.path.join(folder, "conftest.py")
        if os.path.isfile(candidate):
            found.append(candidate)
        parent = os.path.dirname(folder)
        if parent == folder:
            return found
        folder = parent
