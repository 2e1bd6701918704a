#!/usr/bin/python3
"""Many capture files as one run: -i DIR, more than 64 files, a missing file among many.

A capture of 300 UDP exchanges (1,200 packets, flows crossing file borders) is
written whole and cut into 100 files of 12 packets (mcpcap.py):

* -i DIR reads the pcap files directly in the directory, in name order (they
  are written in reverse order, one without an extension), and skips what is
  not a capture: a text file, a JSON file, a hidden capture and a
  subdirectory holding a capture (capture.dir_entries_skipped 4, a note for
  each): its flows are exactly those of the whole capture; so are those of
  the 100 files given as one comma-separated -i and as 100 repeated -i;
* a missing file and a file that is not a capture among the 100: each
  skipped with a warning naming it and why, capture.sources_skipped 2, exit
  0, the flows of the 100 files; the same with the missing file first (the
  mode is still files);
* alone, a missing file is an error (exit 1), as before; so is a directory
  without a capture, and a list of which no file can be read;
* more than 64 interfaces captured together is refused (exit 2).
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mcpcap  # noqa: E402
import mctest  # noqa: E402

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mcsrc")
atexit.register(shutil.rmtree, work, True)

frames = mcpcap.udp_exchanges(300, 1796308200 * 1_000_000, gap_us=100_000)
whole = os.path.join(work, "whole.pcap")
mcpcap.write_pcap(whole, frames)
cap_dir = os.path.join(work, "caps")
os.mkdir(cap_dir)
parts = []
for k in reversed(range(100)):  # created last to first: the order read must come from the names
    name = "part-%03d.pcap" % k if k != 50 else "part-050"  # a capture is known by its magic number
    path = os.path.join(cap_dir, name)
    mcpcap.write_pcap(path, frames[k * 12:(k + 1) * 12])
    parts.insert(0, path)
with open(os.path.join(cap_dir, "README.txt"), "w") as f:
    f.write("captures of the test\n")
with open(os.path.join(cap_dir, "flows.json"), "w") as f:
    f.write("{}\n")
mcpcap.write_pcap(os.path.join(cap_dir, ".part-999.pcap"), frames[:12])  # hidden: not read
os.mkdir(os.path.join(cap_dir, "sub"))
mcpcap.write_pcap(os.path.join(cap_dir, "sub", "part-000.pcap"), frames[:12])  # not descended into


def run(args, tag):
    """(exit code, stderr, sorted JSON lines, counters)"""
    jpath, cpath = os.path.join(work, tag + ".json"), os.path.join(work, tag + ".ctr")
    for p in (jpath, cpath):
        if os.path.exists(p):
            os.unlink(p)
    r = subprocess.run([mctest.MCPROBE, "--stats-interval", "0", "--json", jpath, "--counters", cpath] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    lines = sorted(open(jpath).read().splitlines()) if os.path.exists(jpath) else []
    ctr = dict((ln.split()[0], int(ln.split()[1])) for ln in open(cpath)) if os.path.exists(cpath) else {}
    return r.returncode, r.stderr.decode(errors="replace"), lines, ctr


rc, err, ref, ref_ctr = run(["-i", whole, "-q"], "whole")
c.check(rc == 0 and len(ref) == 300 and ref_ctr.get("capture.packets") == 1200,
        "the whole capture: exit %d, %d flows, %s packets: %s" % (rc, len(ref), ref_ctr.get("capture.packets"),
                                                                  err[-300:]))

# -i DIR
rc, err, got, ctr = run(["-i", cap_dir], "dir")
c.check(rc == 0, "-i DIR: exit %d: %s" % (rc, err[-300:]))
c.check(got == ref, "-i DIR: %d flows differ from the whole capture's %d" % (len(got), len(ref)))
c.check(ctr.get("capture.files") == 100 and ctr.get("capture.packets") == 1200,
        "-i DIR: capture.files %s (want 100), capture.packets %s (want 1200)" % (
            ctr.get("capture.files"), ctr.get("capture.packets")))
c.check(ctr.get("capture.dir_entries_skipped") == 4 and ctr.get("capture.sources_skipped") == 0,
        "-i DIR: capture.dir_entries_skipped %s (want 4: text, JSON, hidden, subdirectory), sources_skipped %s" % (
            ctr.get("capture.dir_entries_skipped"), ctr.get("capture.sources_skipped")))
for name in ("README.txt", "flows.json", ".part-999.pcap", "sub"):
    c.check(os.path.join(cap_dir, name) + ": skipped" in err, "-i DIR: no note for %s: %s" % (name, err[-600:]))
order = [ln.split("reading ", 1)[1].split(" (")[0] for ln in err.splitlines() if "reading " in ln]
c.check(order == parts, "-i DIR: read in the order %s..., want %s..." % (order[:3], parts[:3]))
rc, err, got, ctr = run(["-i", cap_dir + "/", "-q"], "dir-slash")
c.check(rc == 0 and got == ref and ctr.get("capture.files") == 100, "-i DIR/: exit %d, %d flows: %s" % (
    rc, len(got), err[-300:]))

# more than 64 files, comma-separated and repeated
rc, err, got, ctr = run(["-i", ",".join(parts), "-q"], "comma")
c.check(rc == 0 and got == ref and ctr.get("capture.files") == 100,
        "-i with 100 comma-separated files: exit %d, %d flows, %s files: %s" % (
            rc, len(got), ctr.get("capture.files"), err[-300:]))
repeated = []
for p in parts:
    repeated += ["-i", p]
rc, err, got, ctr = run(repeated + ["-q"], "repeated")
c.check(rc == 0 and got == ref, "100 repeated -i: exit %d, %d flows: %s" % (rc, len(got), err[-300:]))

# a missing file and a file that is not a capture among many: skipped with a warning, counted
missing = os.path.join(work, "missing.pcap")
readme = os.path.join(cap_dir, "README.txt")
rc, err, got, ctr = run(["-i", ",".join(parts[:50] + [missing] + parts[50:] + [readme]), "-q"], "missing")
c.check(rc == 0, "a missing file among many: exit %d (want 0): %s" % (rc, err[-300:]))
c.check(got == ref, "a missing file among many: %d flows, want the %d of the others" % (len(got), len(ref)))
c.check(ctr.get("capture.sources_skipped") == 2 and ctr.get("capture.files") == 100,
        "a missing file among many: capture.sources_skipped %s (want 2), files %s" % (
            ctr.get("capture.sources_skipped"), ctr.get("capture.files")))
warn = [ln for ln in err.splitlines() if "WARN" in ln.upper() and "missing.pcap" in ln]
c.check(len(warn) == 1 and "No such file" in warn[0] and "skipped" in warn[0],
        "a missing file among many: want one warning naming it and why: %s" % err[-600:])
c.check(any("README.txt" in ln and "skipped" in ln for ln in err.splitlines()),
        "a non-capture among many: no warning naming it: %s" % err[-600:])
rc, err, got, ctr = run(["-i", ",".join([missing] + parts), "-q"], "missing-first")
c.check(rc == 0 and got == ref and ctr.get("capture.sources_skipped") == 1,
        "a missing file first among many: exit %d, %d flows, skipped %s: %s" % (
            rc, len(got), ctr.get("capture.sources_skipped"), err[-300:]))

# alone, or nothing readable: an error
rc, err, got, ctr = run(["-i", missing, "-q"], "alone")
c.check(rc == 1 and "missing.pcap" in err and "No such file" in err and "skipped" not in err,
        "a missing file alone: exit %d (want 1), error naming it: %s" % (rc, err[-300:]))
empty = os.path.join(work, "empty")
os.mkdir(empty)
rc, err, got, ctr = run(["-i", empty, "-q"], "empty")
c.check(rc == 1 and "no pcap or pcapng file" in err, "an empty directory: exit %d (want 1): %s" % (rc, err[-300:]))
rc, err, got, ctr = run(["-i", ",".join([missing, missing + "2", readme]), "-q"], "none")
c.check(rc == 1 and "none of the 3 capture files could be read" in err and ctr.get("capture.sources_skipped") == 3,
        "no file readable: exit %d (want 1): %s" % (rc, err[-300:]))

# interfaces keep their cap
rc, err, got, ctr = run(["-i", ",".join(["lo"] * 65), "-q"], "ifaces")
c.check(rc == 2 and "at most 64" in err, "65 interfaces: exit %d (want 2): %s" % (rc, err[-300:]))
c.done()
