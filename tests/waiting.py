"""The one way a test waits for something another process does: ``wait_until``.

Never write a bare ``while ...: time.sleep()`` loop in a test. ``wait_until`` polls a condition
and fails the test with a message when it has not held within ``timeout`` seconds: a bound on a
hung test, never a timing assertion (pick a timeout far above the normal time).

    from waiting import wait_until

    wait_until(lambda: (root / "started").exists(), what="the step to start")
    done = wait_until(lambda: resumed_or_none(), interval=0.2, what="the lease to expire")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 20.0, *, interval: float = 0.02, what: str = ""
) -> T:
    """Call ``condition`` until it returns something truthy, and return that value.

    On an overloaded machine (load average above the core count) the bound stretches by
    load / cores, as the tests' time limit does (conftest.py): a bound on a hang, not a speed.
    """
    timeout *= max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {timeout:g}s for {what or 'a condition'}; it never held")
        time.sleep(interval)
