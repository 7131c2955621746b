"""Ending a process as soon as another one ends: a study worker when its run dies, even by SIGKILL, so that no
orphan goes on writing into the cache a resumed run reads (see `cnnlab.studies.runner`). Torch-free."""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time


def end_with(run: int) -> None:
    """End this process (exit status 1) once process `run` ends.

    Linux: a thread waits on `run`'s pidfd, which the kernel makes readable the moment `run` ends, even by SIGKILL
    (on kernels before 5.3, which have no pidfd, the thread polls `run`'s pid every second); and the kernel sends this
    process SIGKILL when the process it was forked from ends (PR_SET_PDEATHSIG), in case that one is not `run` (a
    fork server, which outlives the run while its workers live). Elsewhere `run` must be this process's parent: a
    thread polls the parent pid every second.
    """
    if not sys.platform.startswith("linux"):
        threading.Thread(target=_watch_parent, args=(run,), daemon=True, name="watch-parent").start()
        return
    import ctypes

    pr_set_pdeathsig = 1  # from <linux/prctl.h>
    forked_by = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != forked_by:  # the process this one was forked from ended before the request was made
        os._exit(1)
    try:
        pidfd = os.pidfd_open(run)
    except ProcessLookupError:  # `run` has ended already
        os._exit(1)
    except OSError:  # no pidfd (Linux before 5.3)
        threading.Thread(target=_poll, args=(run,), daemon=True, name="watch-run").start()
        return
    threading.Thread(target=_wait, args=(pidfd,), daemon=True, name="watch-run").start()


def _wait(pidfd: int) -> None:
    select.select([pidfd], [], [])  # readable once the process has ended
    os._exit(1)


def _poll(run: int) -> None:
    while True:
        try:
            os.kill(run, 0)
        except ProcessLookupError:
            os._exit(1)
        time.sleep(1.0)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
