#!/usr/bin/python3
"""measure.py - run one command and report the CPU time and peak RSS it used.

Usage: bench/measure.py [--timeout SECONDS] [--log FILE] -- COMMAND [ARG...]

Prints one line to standard output:
    user_s sys_s maxrss_kib wall_s exit_status
taken from wait4(2) on the child itself, so the numbers cover that process
only (not this wrapper, not other background processes). The command's
stdout and stderr go to --log (default /dev/null). On --timeout the child
gets SIGTERM, then SIGKILL 5 s later, and exit_status is "timeout".
Standard library only.
"""
import os
import signal
import subprocess
import sys
import time


def main(argv):
    timeout, log = None, os.devnull
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--timeout" and argv:
            timeout = float(argv.pop(0))
        elif opt == "--log" and argv:
            log = argv.pop(0)
        else:
            sys.stderr.write(__doc__)
            return 2
    if not argv or len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1:]
    with open(log, "ab") as out:
        t0 = time.monotonic()
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        status = None
        deadline = None if timeout is None else t0 + timeout
        killed = False
        while True:
            pid, st, ru = os.wait4(child.pid, os.WNOHANG if deadline else 0)
            if pid == child.pid:
                break
            now = time.monotonic()
            if deadline and now > deadline:
                if not killed:
                    child.send_signal(signal.SIGTERM)
                    killed = True
                    deadline = now + 5
                else:
                    child.kill()
                    deadline = None  # next wait4 blocks until it is gone
            time.sleep(0.02)
        wall = time.monotonic() - t0
    child.returncode = 0  # reaped by wait4 above; keep Popen from waiting again
    if killed:
        status = "timeout"
    elif os.WIFEXITED(st):
        status = str(os.WEXITSTATUS(st))
    else:
        status = "signal%d" % os.WTERMSIG(st)
    print("%.6f %.6f %d %.3f %s" % (ru.ru_utime, ru.ru_stime, ru.ru_maxrss, wall, status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
