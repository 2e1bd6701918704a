#!/usr/bin/python3
"""Signals, as a daemon takes them: SIGHUP reopens the output files, SIGUSR1 prints the statistics,
SIGTERM exports every flow and exits 0; none of them loses a flow.

* reading a file: the demo capture is fed through a FIFO, so the test decides
  how far the probe has read.  After half of it the --json and --l7-log files
  are renamed (as logrotate does) and SIGHUP sent; more follows, SIGUSR1
  (under -q: the statistics were asked for), the rest, and SIGTERM while the
  probe waits for more (a read waiting on a pipe resumes after SIGHUP and
  SIGUSR1, which are acted on once it returns; SIGTERM interrupts it).  The old and
  the new files hold, together, exactly the records of a run without signals,
  and each holds some of them;
* live on lo (root only): a flow that ended before SIGHUP is in the renamed
  file, one after it in the new file, each with every packet sent; SIGUSR1
  prints a statistics line, SIGTERM exits 0 with the exit line and the
  counters.
"""
import atexit
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mcsig")
atexit.register(shutil.rmtree, work, True)


def wait_for(cond, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def text(path):
    return open(path, errors="replace").read() if os.path.exists(path) else ""


def lines(path):
    return [ln for ln in text(path).splitlines() if ln.strip()]


def pipe_drained(fd):
    """True when the probe has read everything written to the FIFO."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0] == 0


# ---- reading a file (through a FIFO) ----
demo = os.path.join(work, "demo.pcap")
subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-demo-pcap.py"), demo], check=True,
               stdout=subprocess.DEVNULL)
common = ["--stats-interval", "0", "-q", "-d", "1"]  # flows leave during the read, not all at its end
ref_json, ref_l7 = os.path.join(work, "ref.json"), os.path.join(work, "ref.l7.json")
r = subprocess.run([mctest.MCPROBE, "-i", demo, "--json", ref_json, "--l7-log", ref_l7] + common,
                   stderr=subprocess.PIPE, timeout=120)
c.check(r.returncode == 0 and len(lines(ref_json)) > 10 and lines(ref_l7),
        "reference run: exit %d, %d records, %d transactions: %s" % (
            r.returncode, len(lines(ref_json)), len(lines(ref_l7)), r.stderr.decode()[-300:]))

data = open(demo, "rb").read()


def record_start(at):
    """The first record starting at or past offset at (classic pcap: 24-octet header)."""
    pos = 24
    while pos < at:
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return pos


cut, cut2 = record_start(len(data) // 2), record_start(len(data) * 9 // 10)
fifo = os.path.join(work, "feed.pcap")
os.mkfifo(fifo)
fd = os.open(fifo, os.O_RDWR)  # a writer from the start: the probe's opens do not wait, nor see an end
out_json, out_l7, err_path = (os.path.join(work, n) for n in ("flows.json", "l7.json", "stderr.txt"))
with open(err_path, "wb") as errf:
    p = subprocess.Popen([mctest.MCPROBE, "-i", fifo, "--json", out_json, "--l7-log", out_l7] + common,
                         stderr=errf)
try:
    os.write(fd, data[:cut])
    c.check(wait_for(lambda: pipe_drained(fd), 60), "file: the probe did not read the first half")
    time.sleep(0.5)
    os.rename(out_json, out_json + ".1")
    os.rename(out_l7, out_l7 + ".1")
    # a read waiting on a pipe resumes after SIGHUP and SIGUSR1: they are acted on when more comes
    p.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    if p.poll() is None:
        os.write(fd, data[cut:cut2])
    c.check(wait_for(lambda: os.path.exists(out_json) and os.path.exists(out_l7), 20) and p.poll() is None,
            "file: after SIGHUP: exit %s, new files %s %s" % (p.poll(), os.path.exists(out_json),
                                                              os.path.exists(out_l7)))
    if p.poll() is None:
        c.check(wait_for(lambda: pipe_drained(fd), 60), "file: the probe did not read the second part")
        p.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        os.write(fd, data[cut2:])
        c.check(wait_for(lambda: "stats: packets" in text(err_path), 20) and p.poll() is None,
                "file: no statistics after SIGUSR1 under -q (exit %s): %s" % (p.poll(), text(err_path)[-300:]))
        c.check(wait_for(lambda: pipe_drained(fd), 60), "file: the probe did not read the last part")
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)  # interrupts the read waiting for more
    rc = p.wait(timeout=120)
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
    os.close(fd)
c.check(rc == 0, "file: exit %d after SIGTERM: %s" % (rc, text(err_path)[-300:]))
old, new = lines(out_json + ".1"), lines(out_json)
c.check(len(old) > 0 and len(new) > 0, "file: %d records before SIGHUP, %d after: the rotation split nothing" % (
    len(old), len(new)))
c.check(sorted(old + new) == sorted(lines(ref_json)),
        "file: the records of both files (%d + %d) differ from a run without signals (%d)" % (
            len(old), len(new), len(lines(ref_json))))
c.check(sorted(lines(out_l7 + ".1") + lines(out_l7)) == sorted(lines(ref_l7)),
        "file: the transactions of both --l7-log files (%d + %d) differ from a run without signals (%d)" % (
            len(lines(out_l7 + ".1")), len(lines(out_l7)), len(lines(ref_l7))))

# ---- live on lo ----
if os.geteuid() != 0:
    print("SKIP live capture: needs root")
    c.done()

rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
port = rx.getsockname()[1]
jl, ctr, err_live = (os.path.join(work, n) for n in ("live.json", "live.ctr", "live.stderr"))
with open(err_live, "wb") as errf:
    p = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-f", "udp and port %d" % port, "--json", jl, "--counters", ctr,
                          "--stats-interval", "0", "-d", "1"], stderr=errf)


def send(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    for _ in range(n):
        s.sendto(b"x" * 100, ("127.0.0.1", port))
        time.sleep(0.005)
    sport = s.getsockname()[1]
    s.close()
    return sport


try:
    c.check(wait_for(lambda: "capturing on lo" in text(err_live), 30), "live: the probe did not start: %s" % (
        text(err_live)[-300:]))
    time.sleep(0.5)
    before = send(10)
    time.sleep(3.0)  # idle timeout 1 s: that flow has left the cache
    os.rename(jl, jl + ".1")
    p.send_signal(signal.SIGHUP)
    c.check(wait_for(lambda: os.path.exists(jl), 20) and p.poll() is None,
            "live: after SIGHUP: exit %s, new file %s" % (p.poll(), os.path.exists(jl)))
    after = send(15)
    time.sleep(0.5)
    p.send_signal(signal.SIGUSR1)
    c.check(wait_for(lambda: "stats: packets" in text(err_live), 20) and p.poll() is None,
            "live: no statistics after SIGUSR1 (exit %s)" % p.poll())
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
c.check(rc == 0 and "exit: packets" in text(err_live), "live: exit %d after SIGTERM: %s" % (
    rc, text(err_live)[-300:]))


def mine(path):
    return [f for f in map(json.loads, lines(path)) if f.get("destinationTransportPort") == port]


old, new = mine(jl + ".1"), mine(jl)
c.check([(f["sourceTransportPort"], f["packetDeltaCount"]) for f in old] == [(before, 10)],
        "live: the renamed file should hold the flow ended before SIGHUP (port %d, 10 packets): %s" % (before, old))
c.check([(f["sourceTransportPort"], f["packetDeltaCount"]) for f in new] == [(after, 15)],
        "live: the new file should hold the flow after SIGHUP (port %d, 15 packets): %s" % (after, new))
counters = dict(ln.split() for ln in lines(ctr))
c.check(int(counters.get("capture.packets", 0)) == 25, "live: capture.packets %s, sent 25" % (
    counters.get("capture.packets")))
c.done()
