#!/usr/bin/python3
"""Log lines: ISO 8601 UTC times, and --syslog.

1. Every line mcprobe logs on stderr starts with the time in ISO 8601 UTC with
   milliseconds and a Z ("2026-12-03T14:51:00.123Z"), whatever TZ says, and
   that time is the run's (the clock mcquery prints).
2. --syslog: the same lines go to syslog instead of stderr, facility daemon,
   ident mcprobe[pid], each level at its priority (error LOG_ERR, warning
   LOG_WARNING, info LOG_INFO, debug LOG_DEBUG).

How 2 reads syslog without a daemon and without touching the machine's:
glibc's syslog(3) always writes to /dev/log.  The test binds its own unix
datagram socket (the receiver) in a temporary directory, then runs mcprobe
under `unshare --mount` (a private mount namespace) in which that directory,
holding the receiver's socket and bind mounts of /dev/null, zero, random and
urandom, is mounted over /dev.  Only mcprobe sees the substitute /dev/log; a
syslog daemon on the machine, or its absence, changes nothing, and nothing is
left behind.  Part 2 is skipped (77, with the reason) when the namespace
cannot be made: not root, or no unshare(1).
"""
import calendar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z \[(\d+)\] (error|warning|notice|info|debug): ")
SYSLOG = re.compile(r"^<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) mcprobe\[(\d+)\]: (error|warning|notice|info|debug): ")
SEVERITY = {"error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
LOG_DAEMON = 3


def utc_ms(day, ms):
    return calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(ms)


def check_stderr_times(chk, capture):
    env = dict(os.environ, TZ="America/New_York")  # 5 hours from UTC: localtime would show
    start = int(time.time() * 1000)
    # a missing file among two is a warning; a counters file that cannot be written an error (exit 1)
    p = subprocess.Popen([mctest.MCPROBE, "-v", "--stats-interval", "0", "-i", capture, "-i", "/no/such/file.pcap",
                          "--counters", "/no/such/dir/counters.txt"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = p.communicate(timeout=120)[1].decode()
    end = int(time.time() * 1000)
    lines = [line for line in err.splitlines() if re.match(r"^\d{4}-", line)]
    chk.check(len(lines) >= 4, "at least 4 log lines on stderr (got %d)" % len(lines))
    levels = set()
    for line in lines:
        m = LINE.match(line)
        chk.check(m is not None, "ISO 8601 UTC time with milliseconds and Z: %r" % line[:80])
        if not m:
            continue
        t = utc_ms(m.group(1), m.group(2))
        chk.check(start - 1 <= t <= end + 1, "time %s.%sZ within the run (UTC)" % (m.group(1), m.group(2)))
        chk.check(int(m.group(3)) == p.pid, "the pid is the probe's")
        levels.add(m.group(4))
    chk.check({"error", "warning", "info", "debug"} <= levels, "every level seen on stderr: %s" % sorted(levels))


def check_syslog(chk, capture):
    if os.geteuid() != 0:
        print("SKIP part: --syslog needs a private mount namespace (root) to stand in for /dev/log")
        return
    if not shutil.which("unshare"):
        print("SKIP part: no unshare(1) to make a private /dev/log")
        return
    wd = tempfile.mkdtemp(prefix="mctsyslog")
    dev = os.path.join(wd, "dev")
    os.mkdir(dev)
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(os.path.join(dev, "log"))
    rx.settimeout(0.2)
    if subprocess.run(["unshare", "--mount", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        print("SKIP part: unshare --mount is refused here: no private /dev/log")
        return
    # 77 from the script: a mount was refused (no mcprobe ran)
    script = ("for n in null zero random urandom; do : > \"$D/$n\" && mount --bind /dev/$n \"$D/$n\" || exit 77; "
              "done; mount --rbind \"$D\" /dev || exit 77; exec \"$@\"")
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
           mctest.MCPROBE, "--syslog", "-v", "--stats-interval", "0", "-i", capture, "-i", "/no/such/file.pcap",
           "--counters", "/no/such/dir/counters.txt"]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, D=dev),
                       timeout=120)
    err = p.stderr.decode()
    if p.returncode == 77:
        print("SKIP part: a mount in the private namespace was refused: " + err[-300:])
        rx.close()
        shutil.rmtree(wd, ignore_errors=True)
        return
    msgs = []
    try:
        while True:
            msgs.append(rx.recv(65536).decode())
    except socket.timeout:
        pass
    rx.close()
    shutil.rmtree(wd, ignore_errors=True)
    # the counters file that cannot be written makes it exit 1, as without --syslog
    chk.check(p.returncode == 1, "exit 1 with a counters file it cannot write (got %d)" % p.returncode)
    chk.check(not re.search(r"^\d{4}-\d\d-\d\dT", err, re.M), "no log line on stderr with --syslog: %r" % err[:200])
    chk.check(len(msgs) >= 4, "at least 4 messages reached /dev/log (got %d)" % len(msgs))
    levels = set()
    pids = set()
    for msg in msgs:
        m = SYSLOG.match(msg)
        chk.check(m is not None, "syslog message <PRI>TIMESTAMP mcprobe[pid]: level: text: %r" % msg[:80])
        if not m:
            continue
        pri, level = int(m.group(1)), m.group(4)
        chk.check(pri >> 3 == LOG_DAEMON, "facility daemon: %r" % msg[:60])
        chk.check(pri & 7 == SEVERITY[level], "%s at severity %d: %r" % (level, SEVERITY[level], msg[:60]))
        levels.add(level)
        pids.add(m.group(3))
    chk.check({"error", "warning", "info", "debug"} <= levels, "every level through syslog: %s" % sorted(levels))
    chk.check(len(pids) == 1, "one ident[pid] for the run: %s" % sorted(pids))
    chk.check(any("/no/such/file.pcap" in m and m.startswith("<28>") for m in msgs),
              "the missing file among two as a warning (<28>)")
    chk.check(any("/no/such/dir/counters.txt" in m and m.startswith("<27>") for m in msgs),
              "the counters file as an error (<27>)")
    chk.check(any(": info: exit: packets " in m for m in msgs), "the exit statistics line through syslog")


def main():
    capture = os.path.join(mctest.CORPUS, "dns", "ndpi_dns.pcap")
    if not os.path.exists(capture):
        mctest.skip("../shared/corpus/dns/ndpi_dns.pcap is absent")
    chk = mctest.Checker()
    check_stderr_times(chk, capture)
    check_syslog(chk, capture)
    chk.done()


main()
