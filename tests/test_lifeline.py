"""A study worker ends as soon as its run ends, even by SIGKILL (cnnlab._lifeline): through the run's pidfd, and
through a poll of its pid on kernels without pidfd."""

import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pidfd and poll paths are Linux's")

# A process that watches `run` (argv[1]); "poll" takes the path of a kernel without pidfd.
WATCHER = """
import os, sys, time
from cnnlab import _lifeline
if sys.argv[2] == "poll":
    def no_pidfd(pid, flags=0):
        raise OSError(38, "Function not implemented")
    os.pidfd_open = no_pidfd
_lifeline.end_with(int(sys.argv[1]))
print("watching", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["pidfd", "poll"])
def test_a_process_ends_when_the_one_it_watches_is_killed(how):
    run = subprocess.Popen(["sleep", "60"])
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, str(run.pid), how], stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout.readline() == "watching\n"
        time.sleep(0.5)
        assert watcher.poll() is None  # it lives while the run does
        run.kill()
        run.wait()
        started = time.monotonic()
        assert watcher.wait(timeout=10) == 1
        assert time.monotonic() - started < (0.5 if how == "pidfd" else 2.0)  # at once; within a poll's second
    finally:
        for process in (run, watcher):
            process.kill()
            process.wait()
        watcher.stdout.close()


def test_a_run_that_has_ended_already_ends_the_watcher_at_once():
    run = subprocess.Popen(["true"])
    run.wait()
    watcher = subprocess.run([sys.executable, "-c", WATCHER, str(run.pid), "pidfd"], capture_output=True, text=True,
                             timeout=30)  # fmt: skip
    assert watcher.returncode == 1 and watcher.stdout == ""
