#!/usr/bin/python3
"""--json-rotate: the --json file renamed PATH.YYYYMMDDTHHMMSSZ and started again, by time and by size.

The capture (mcpcap.py) holds 600 UDP exchanges, one starting every second
from 2026-12-03 14:55:30 UTC; with -d 1 their records leave through ten
minutes of packet time.  Against a run without rotation:

* --json-rotate 1m: a file per minute boundary of packet time, named by it
  (…T145600Z … T150500Z), each holding whole JSON lines of flows that ended
  before its boundary; together, with the current file, exactly the records
  of the run without rotation; export.json.rotations counts the files; a
  second run writes the same files (packet time: reproducible);
* --json-rotate 8k: every rotated file holds at least 8 KiB and less than
  8 KiB and a line more, whole lines, the same union;
* --json-rotate 1m,8k: both, the same union;
* a rename that fails (a name too long for the file system): a warning,
  export.json.rotate_errors, exit 0, every record in the file it had;
* SIGHUP with rotation on (the capture fed through a FIFO): the file renamed
  by hand before SIGHUP keeps what came before, rotation goes on after it,
  and all the files together hold every record once;
* --l7-log-rotate 10s,8k on the demo capture's transactions: whole lines,
  every transaction of a run without rotation once, l7.log_rotations;
* --json-rotate without a --json file, --l7-log-rotate without --l7-log, or
  a bad value: exit 2.
"""
import atexit
import calendar
import fcntl
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mcpcap  # noqa: E402
import mctest  # noqa: E402

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mcrot")
atexit.register(shutil.rmtree, work, True)
T0 = calendar.timegm((2026, 12, 3, 14, 55, 30))
capture = os.path.join(work, "flows.pcap")
frames = mcpcap.udp_exchanges(600, T0 * 1_000_000)
mcpcap.write_pcap(capture, frames)
COMMON = ["--stats-interval", "0", "-d", "1", "-t", "30"]


def run(args, out_dir, name="flows.json"):
    os.makedirs(out_dir, exist_ok=True)
    jpath, cpath = os.path.join(out_dir, name), os.path.join(out_dir, "counters.txt")
    r = subprocess.run([mctest.MCPROBE, "-i", capture, "--json", jpath, "--counters", cpath] + COMMON + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    ctr = dict((ln.split()[0], int(ln.split()[1])) for ln in open(cpath)) if os.path.exists(cpath) else {}
    return r.returncode, r.stderr.decode(errors="replace"), jpath, ctr


def outputs(jpath):
    """{file name: its text} of the current file and every rotated one"""
    return dict((os.path.basename(p), open(p).read()) for p in sorted(glob.glob(jpath + "*")))


def whole_lines(name, text):
    """The file's lines; a check that it ends with a newline and every line is a JSON object."""
    ok = text == "" or text.endswith("\n")
    lines = text.splitlines()
    for ln in lines:
        try:
            ok = ok and isinstance(json.loads(ln), dict)
        except ValueError:
            ok = False
    c.check(ok, "%s: not whole JSON lines (a line split or cut): ...%r" % (name, text[-120:]))
    return lines


rc, err, ref_path, _ = run(["-q"], os.path.join(work, "ref"))
ref = sorted(open(ref_path).read().splitlines()) if os.path.exists(ref_path) else []
c.check(rc == 0 and len(ref) == 600, "reference run: exit %d, %d records: %s" % (rc, len(ref), err[-300:]))


def check_union(tag, files):
    got = []
    for name, text in files.items():
        got += whole_lines(name, text)
    c.check(sorted(got) == ref, "%s: the %d files hold %d records, the run without rotation %d (or they differ)" % (
        tag, len(files), len(got), len(ref)))


# by time: minute boundaries of packet time
rc, err, jpath, ctr = run(["--json-rotate", "1m"], os.path.join(work, "time"))
files = outputs(jpath)
rotated = sorted(n for n in files if n != "flows.json")
want = ["flows.json.20261203T%02d%02d00Z" % divmod(m, 60) for m in range(14 * 60 + 56, 15 * 60 + 6)]
c.check(rc == 0 and rotated == want, "1m: exit %d, rotated files %s, want %s: %s" % (rc, rotated, want, err[-300:]))
c.check(ctr.get("export.json.rotations") == len(rotated) and ctr.get("export.json.rotate_errors") == 0,
        "1m: export.json.rotations %s for %d files, rotate_errors %s" % (
            ctr.get("export.json.rotations"), len(rotated), ctr.get("export.json.rotate_errors")))
check_union("1m", files)
for name in rotated:
    boundary_ms = calendar.timegm(time.strptime(name[-16:], "%Y%m%dT%H%M%SZ")) * 1000
    ends = [json.loads(ln)["flowEndMilliseconds"] for ln in files[name].splitlines()]
    c.check(ends and max(ends) < boundary_ms, "1m: %s holds flows ending at or after its boundary: %s" % (
        name, max(ends) if ends else "no record"))
c.check("JSON output rotated: " + os.path.join(os.path.dirname(jpath), want[0]) in err,
        "1m: no info line for the rotation: %s" % err[-300:])
rc, err, jpath2, _ = run(["--json-rotate", "1m", "-q"], os.path.join(work, "time2"))
c.check(outputs(jpath2) == files, "1m: a second run wrote other files (packet time should make it reproducible)")

# by size
rc, err, jpath, ctr = run(["--json-rotate", "8k", "-q"], os.path.join(work, "size"))
files = outputs(jpath)
rotated = [n for n in files if n != "flows.json"]
longest = max(len(ln) + 1 for ln in ref)
c.check(rc == 0 and len(rotated) >= 5, "8k: exit %d, %d rotated files: %s" % (rc, len(rotated), err[-300:]))
for name in rotated:
    size = len(files[name])
    c.check(8192 <= size < 8192 + longest, "8k: %s holds %d bytes, want 8192..%d" % (name, size, 8192 + longest))
c.check(len(files.get("flows.json", "")) < 8192 + longest, "8k: the current file holds %d bytes" % (
    len(files.get("flows.json", ""))))
c.check(ctr.get("export.json.rotations") == len(rotated), "8k: export.json.rotations %s for %d files" % (
    ctr.get("export.json.rotations"), len(rotated)))
check_union("8k", files)

# both
rc, err, jpath, ctr = run(["--json-rotate", "1m,8k", "-q"], os.path.join(work, "both"))
files = outputs(jpath)
c.check(rc == 0 and len(files) > 11, "1m,8k: exit %d, %d files: %s" % (rc, len(files), err[-300:]))
check_union("1m,8k", files)

# a rename that fails: the old file goes on
long_name = "f" * 250  # PATH.YYYYMMDDTHHMMSSZ is longer than a file name may be
rc, err, jpath, ctr = run(["--json-rotate", "8k", "-q"], os.path.join(work, "fail"), long_name)
files = outputs(jpath)
c.check(rc == 0 and list(files) == [long_name], "failed rename: exit %d, files %s: %s" % (
    rc, [n[:12] + "..." for n in files], err[-300:]))
c.check(ctr.get("export.json.rotate_errors", 0) > 0 and ctr.get("export.json.rotations") == 0,
        "failed rename: export.json.rotate_errors %s, rotations %s" % (
            ctr.get("export.json.rotate_errors"), ctr.get("export.json.rotations")))
c.check("cannot rename" in err and "File name too long" in err, "failed rename: no warning saying why: %s" % (
    err[-300:]))
check_union("failed rename", files)

# --l7-log-rotate: the transactions of the demo capture
demo = os.path.join(work, "demo.pcap")
subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-demo-pcap.py"), demo], check=True,
               stdout=subprocess.DEVNULL)
l7_dir = os.path.join(work, "l7")
os.mkdir(l7_dir)
l7_ref, l7_out, l7_ctr = (os.path.join(l7_dir, n) for n in ("ref.json", "l7.json", "counters.txt"))
r1 = subprocess.run([mctest.MCPROBE, "-i", demo, "--l7-log", l7_ref, "-q"] + COMMON, stderr=subprocess.PIPE)
r2 = subprocess.run([mctest.MCPROBE, "-i", demo, "--l7-log", l7_out, "--l7-log-rotate", "10s,8k", "--counters",
                     l7_ctr, "-q"] + COMMON, stderr=subprocess.PIPE)
ref_tx = sorted(open(l7_ref).read().splitlines()) if os.path.exists(l7_ref) else []
files = outputs(l7_out)
ctr = dict((ln.split()[0], int(ln.split()[1])) for ln in open(l7_ctr)) if os.path.exists(l7_ctr) else {}
c.check(r1.returncode == 0 and r2.returncode == 0 and len(ref_tx) > 50 and len(files) > 5,
        "--l7-log-rotate: exit %d/%d, %d transactions, %d files: %s" % (
            r1.returncode, r2.returncode, len(ref_tx), len(files), r2.stderr.decode()[-300:]))
c.check(ctr.get("l7.log_rotations") == len(files) - 1 and ctr.get("l7.log_rotate_errors") == 0,
        "--l7-log-rotate: l7.log_rotations %s for %d files" % (ctr.get("l7.log_rotations"), len(files)))
got = []
for name, text in files.items():
    got += whole_lines(name, text)
c.check(sorted(got) == ref_tx, "--l7-log-rotate: the files hold %d transactions, a run without rotation %d" % (
    len(got), len(ref_tx)))

# refused
for args, word in ((["-i", capture, "--l7-log-rotate", "1h"], "--l7-log-rotate needs --l7-log"),
                   (["-i", capture, "--json-rotate", "1h"], "--json-rotate needs --json"),
                   (["-i", capture, "--json", "-", "--json-rotate", "1h"], "--json-rotate needs --json"),
                   (["-i", capture, "--json", os.path.join(work, "x.json"), "--json-rotate", "1y"], "1y")):
    r = subprocess.run([mctest.MCPROBE, "-q"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    c.check(r.returncode == 2 and word in r.stderr.decode(), "%s: exit %d, want 2 and %r: %s" % (
        args[2:], r.returncode, word, r.stderr.decode()[-300:]))


# SIGHUP with rotation on: the capture through a FIFO, so the test decides how far the probe has read
def pipe_drained(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0)))[0] == 0


def wait_for(cond, timeout):
    end = time.time() + timeout
    while time.time() < end and not cond():
        time.sleep(0.05)
    return cond()


data = open(capture, "rb").read()
cut = 24
while cut < len(data) // 2:
    cut += 16 + struct.unpack_from("<I", data, cut + 8)[0]
hup_dir = os.path.join(work, "hup")
os.mkdir(hup_dir)
fifo, jpath = os.path.join(hup_dir, "feed.pcap"), os.path.join(hup_dir, "flows.json")
os.mkfifo(fifo)
fd = os.open(fifo, os.O_RDWR)
errf = open(os.path.join(work, "hup.stderr"), "wb")
p = subprocess.Popen([mctest.MCPROBE, "-i", fifo, "--json", jpath, "--json-rotate", "50k"] + COMMON, stderr=errf)
rc = None
try:
    os.write(fd, data[:cut])
    c.check(wait_for(lambda: pipe_drained(fd), 60), "SIGHUP: the probe did not read the first half")
    time.sleep(0.5)
    os.rename(jpath, jpath + ".hup")
    p.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    os.write(fd, data[cut:])
    c.check(wait_for(lambda: pipe_drained(fd), 60), "SIGHUP: the probe did not read the second half")
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=120)
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
    os.close(fd)
    errf.close()
err = open(os.path.join(work, "hup.stderr"), errors="replace").read()
c.check(rc == 0 and "SIGHUP" in err, "SIGHUP: exit %s: %s" % (rc, err[-300:]))
files = outputs(jpath)
rotated = [n for n in files if n not in ("flows.json", "flows.json.hup")]


def ends(name):
    return [json.loads(ln)["flowEndMilliseconds"] for ln in files.get(name, "").splitlines()] or [0]


hup_ends = ends("flows.json.hup")
before = [n for n in rotated if max(ends(n)) <= min(hup_ends)]
after = [n for n in rotated if min(ends(n)) >= max(hup_ends)]
c.check(files.get("flows.json.hup") and files.get("flows.json") and before and after and
        len(before) + len(after) == len(rotated),
        "SIGHUP: want rotated files before and after the one renamed by hand: %d before, %d after, of %s" % (
            len(before), len(after), sorted(files)))
check_union("SIGHUP", files)
c.done()
