"""harness.cell.processes: how a child ended and where it was."""
from _rngdrift.harness.cell import processes

def test_describe_exit():
    assert processes.describe_exit(-11) == "killed by SIGSEGV"
    assert processes.describe_exit(-9) == "killed by SIGKILL"
    assert processes.describe_exit(3) == "exited with code 3"


DUMP = """\
Thread 0x00007feb1a7fe6c0 (most recent call first):
  File "/usr/lib/python3.8/threading.py", line 302 in wait

Current thread 0x00007feb6e814b80 (most recent call first):
  File "/usr/lib/python3.8/selectors.py", line 415 in select
  File "/usr/lib/python3.8/multiprocessing/connection.py", line 931 in wait
  File "/v/lib/python3.8/site-packages/torch/utils/data/dataloader.py", line 345 in __next__
  File "/work/scenarios/faults.py", line 62 in hang_worker
  File "/work/harness/cell/worker.py", line 84 in run_one
  File "/usr/lib/python3.8/runpy.py", line 87 in _run_code
"""


def test_stack_summary_names_the_innermost_frame_and_the_scenario_code():
    assert processes.stack_summary(DUMP) == (
        "selectors.py:415 in select < ... < faults.py:62 in hang_worker")
    own = 'Current thread 0x1 (most recent call first):\n  File "/w/f.py", line 3 in g\n' \
          '  File "/w/f.py", line 9 in h\n'
    assert processes.stack_summary(own) == "f.py:3 in g < f.py:9 in h"
    assert processes.stack_summary("no dump here") == ""
    frozen = ('Current thread 0x1 (most recent call first):\n  File "/w/faults.py", line 91 in oom\n'
              '  File "<frozen runpy>", line 88 in _run_code\n')
    assert processes.stack_summary(frozen) == "faults.py:91 in oom"
