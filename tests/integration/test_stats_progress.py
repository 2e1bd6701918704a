#!/usr/bin/python3
"""Statistics rates and the progress of reading files.

1. The exit statistics line carries rates beside the totals: packets/s and
   bits/s after the packets, flows/s after the flows created, over the whole
   run.  They must agree with the totals (--counters): bit/s over pkt/s is
   8 x capture.bytes / capture.packets, flows/s over pkt/s is flow.created /
   capture.packets, and pkt/s is at least the packets over the run's wall time
   as the test measured it (the probe's own run is shorter).
2. Live on lo (root): the periodic lines give the rate over the interval since
   the previous line: a burst of datagrams shows in one line, the next line
   has the same total and 0 pkt/s, and the exit line the whole run's rate.
3. Reading files with stderr on a terminal (a pseudo-terminal here) shows a
   progress line, redrawn with \\r: percent of the bytes of all the files,
   never going back, ending in "read 100.0%"; none when stderr is a pipe, none
   with -q.
"""
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

SI = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
PKTS = re.compile(r"(stats|exit): packets (\d+) \(([\d.]+) ([kMGT]?)pkt/s, ([\d.]+) ([kMGT]?)bit/s\)")
FLOWS = re.compile(r"created (\d+) \(([\d.]+) ([kMGT]?)flows/s\)")


def rates(line):
    """(kind, packets, pkt/s, bit/s, flows created, flows/s) of a statistics line, or None."""
    m, f = PKTS.search(line), FLOWS.search(line)
    if not m or not f:
        return None
    return (m.group(1), int(m.group(2)), float(m.group(3)) * SI[m.group(4)], float(m.group(5)) * SI[m.group(6)],
            int(f.group(1)), float(f.group(2)) * SI[f.group(3)])


def near(a, b, tol):
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-9)


def check_exit_rates(chk, captures):
    wd = tempfile.mkdtemp(prefix="mctrates")
    cpath = os.path.join(wd, "counters.txt")
    args = [mctest.MCPROBE, "--stats-interval", "0", "--counters", cpath]
    for c in captures:
        args += ["-i", c]
    t0 = time.time()
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    elapsed = time.time() - t0
    chk.check(p.returncode == 0, "file run exits 0 (got %d)" % p.returncode)
    ctr = dict((n, int(v)) for n, v in (line.split() for line in open(cpath)))
    lines = [rates(line) for line in p.stderr.decode().splitlines() if " exit: packets " in line]
    chk.check(len(lines) == 1 and lines[0] is not None, "one exit line with rates: %r" % p.stderr.decode()[-400:])
    if not lines or lines[0] is None:
        return
    _, packets, pps, bps, created, fps = lines[0]
    chk.check(packets == ctr["capture.packets"] and created == ctr["flow.created"], "totals as the counters")
    chk.check(pps > 0 and bps > 0 and fps > 0, "rates are positive: %s" % (lines[0],))
    # three significant digits each: 0.5% per figure
    chk.check(near(bps / pps, 8.0 * ctr["capture.bytes"] / packets, 0.012),
              "bit/s / pkt/s = 8 x bytes / packets (%.1f vs %.1f)" % (bps / pps, 8.0 * ctr["capture.bytes"] / packets))
    chk.check(near(fps / pps, created / packets, 0.012),
              "flows/s / pkt/s = created / packets (%.4f vs %.4f)" % (fps / pps, created / packets))
    chk.check(pps >= packets / elapsed * 0.99, "pkt/s %.0f >= packets / test wall time %.0f" % (pps, packets / elapsed))


def check_interval_rates(chk):
    if os.geteuid() != 0:
        print("SKIP part: live interval rates need root (capture on lo)")
        return
    port = mctest.free_port(socket.SOCK_DGRAM)
    burst = 300
    proc = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-f", "udp and port %d" % port, "--stats-interval", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = []
    try:
        if not mctest.read_lines_until(proc, r" stats: packets ", 15, seen):
            chk.check(False, "a first stats line within 15 s: %r" % "".join(seen)[-300:])
            return
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(burst):
            tx.sendto(b"x" * 100, ("127.0.0.1", port))
        tx.close()
        # the line whose interval holds the burst, then two more (quiet intervals)
        stats = []
        end = time.time() + 15
        while time.time() < end and len([s for s in stats if s[1] == burst]) < 3:
            if not mctest.read_lines_until(proc, r" stats: packets ", 5, seen):
                break
            r = rates(seen[-1])
            if r:
                stats.append(r)
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1].decode()
    exits = [rates(line) for line in err.splitlines() if " exit: packets " in line]
    full = [s for s in stats if s[1] == burst]
    chk.check(len(full) >= 2, "stats lines after the burst with its %d packets: %s" % (burst, stats))
    if len(full) < 2:
        return
    busiest = max(s[2] for s in stats)  # the burst's interval (it may straddle two: a few ms of a second)
    chk.check(full[0][2] > 0 and full[0][3] > 0, "the burst's interval has packet and bit rates: %s" % (full[0],))
    chk.check(any(s[5] > 0 for s in stats), "a flow rate in the interval that created the flow: %s" % stats)
    chk.check(full[0][2] <= burst * 1.01 / 0.5,
              "the burst's rate is over the interval (about 1 s), not an instant: %s" % (full[0],))
    later = full[1:]
    chk.check(all(s[2] == 0 and s[3] == 0 and s[5] == 0 for s in later),
              "the following intervals, without packets, show 0 rates though the totals are %d: %s" % (burst, later))
    chk.check(len(exits) == 1 and exits[0] and exits[0][1] == burst and 0 < exits[0][2] < busiest,
              "the exit line has the whole run's rate, below the burst interval's: %s" % (exits,))


def run_on_pty(args):
    """Runs mcprobe with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([mctest.MCPROBE] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the probe closed its side
            break
        if not data:
            break
        out += data
    os.close(master)
    return p.wait(timeout=60), out.decode(errors="replace")


def check_progress(chk, captures):
    args = ["--stats-interval", "0"]
    for c in captures:
        args += ["-i", c]
    rc, out = run_on_pty(args)
    chk.check(rc == 0, "exit 0 on a terminal (got %d)" % rc)
    pcts = [float(x) for x in re.findall(r"\rreading +([\d.]+)% of [\d.]+ [kMG]?B, ", out)]
    final = re.findall(r"\rread 100\.0% of ([\d.]+) ([kMG]?)B in ", out)
    chk.check(len(pcts) >= 1, "progress lines while reading: %r" % out[:300])
    chk.check(pcts == sorted(pcts), "the percent never goes back: %s" % pcts)
    chk.check(len(final) == 1, "one final progress line at 100%%: %r" % out[-500:])
    total = sum(os.path.getsize(c) for c in captures)
    if final:
        size = float(final[0][0]) * SI[final[0][1]]
        chk.check(near(size, total, 0.006), "the progress counts the bytes of every file (%.0f vs %d)" % (size, total))
    # the final line stays; log lines after it start lines of their own
    tail = out[out.rfind("\rread 100.0%"):] if final else ""
    chk.check(" info: exit: packets " in tail and "\rreading" not in tail, "the exit line after the final progress")
    p = subprocess.run([mctest.MCPROBE, "--stats-interval", "0", "-i", captures[0]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)
    chk.check("\r" not in p.stderr.decode() and "reading " not in p.stderr.decode().replace("info: reading", ""),
              "no progress when stderr is not a terminal")
    rc, quiet = run_on_pty(["-q"] + args)
    chk.check(rc == 0 and "reading" not in quiet and "read 100" not in quiet, "no progress with -q: %r" % quiet[:200])


def main():
    captures = mctest.corpus_captures("mixed")
    chk = mctest.Checker()
    check_exit_rates(chk, captures)
    check_interval_rates(chk)
    check_progress(chk, captures)
    chk.done()


main()
