"""A stop keeps its deadline: graceful while it can be, then killed, then the process ends."""
import subprocess
import sys
import textwrap
import time

import eventlet

from campaign import runner


class Services:
    """A runner whose stop takes ``stopping`` seconds (green: it yields while it waits)."""

    def __init__(self, stopping):
        self.stopping = stopping
        self.stopped = self.killed = False

    def stop(self):
        eventlet.sleep(self.stopping)
        self.stopped = True

    def kill(self):
        self.killed = True


def test_a_stop_that_finishes_in_time_is_graceful_and_nothing_is_killed():
    services = Services(stopping=0.05)
    assert runner.stop(services, grace=2, exit_after=5) is True
    assert services.stopped and not services.killed


def test_a_stop_that_hangs_is_killed_after_the_grace_period():
    services = Services(stopping=60)
    started = time.monotonic()
    assert runner.stop(services, grace=0.3, exit_after=5) is False
    assert services.killed and not services.stopped
    assert time.monotonic() - started < 2


def test_a_worker_stuck_where_no_green_thread_can_interrupt_it_does_not_hold_the_exit():
    # The stop and the kill both block the whole process in a C call (an unpatched sleep).
    script = textwrap.dedent("""
        import eventlet
        eventlet.monkey_patch()
        from eventlet import patcher
        from campaign import runner

        class Stuck:
            def stop(self):
                patcher.original("time").sleep(60)
            kill = stop

        runner.stop(Stuck(), grace=0.5, exit_after=1.5)
        print("returned")
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=30)
    assert time.monotonic() - started < 10
    assert done.returncode == 1
    assert "still stopping after 1.5 s; exiting now" in done.stderr
    assert "returned" not in done.stdout
