#!/usr/bin/python3
"""Capture files at the edges of the formats, read by mcprobe and by tshark/capinfos.

The captures come from scripts/gen-capture-edge-cases.py (see there):

* a pcapng file with 100 interfaces: every packet read and metered, as many
  as capinfos counts;
* a record longer than its SnapLen (classic pcap and pcapng): read cut to the
  SnapLen, as libpcap does, and counted (capture.over_snaplen); as many
  packets as capinfos counts;
* a classic record of 262,145 octets, and a pcapng packet on an interface
  never described: the read stops there with exit 1 and an error naming the
  offset where that record or block starts (tshark refuses both files too);
  the packets before it are metered.
"""
import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

spec = importlib.util.spec_from_file_location("edges", os.path.join(mctest.SRC, "scripts", "gen-capture-edge-cases.py"))
edges = importlib.util.module_from_spec(spec)
spec.loader.exec_module(edges)

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mccap")
atexit.register(shutil.rmtree, work, True)
have_tshark = shutil.which("tshark") and shutil.which("capinfos")
if not have_tshark:
    print("SKIP the comparisons with tshark/capinfos: not installed (run scripts/setup.sh)")


def tshark_reads(path):
    """(exit code, packets) as capinfos counts them, and whether tshark reads the file to its end."""
    r = subprocess.run(["capinfos", "-c", "-M", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    n = None
    for line in r.stdout.decode().splitlines():
        if line.startswith("Number of packets:"):
            n = int(line.split(":")[1])
    t = subprocess.run(["tshark", "-n", "-r", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return t.returncode, n


for name, (data, facts) in sorted(edges.edge_cases().items()):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    jpath, cpath = path + ".json", path + ".ctr"
    r = subprocess.run([mctest.MCPROBE, "-i", path, "--json", jpath, "--counters", cpath, "--stats-interval", "0", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    ctr = dict(line.split() for line in open(cpath)) if os.path.exists(cpath) else {}
    flows = [json.loads(line) for line in open(jpath)] if os.path.exists(jpath) else []
    packets = int(ctr.get("capture.packets", -1))
    c.check(packets == facts["packets"], "%s: %d packets read, want %d (%s)" % (name, packets, facts["packets"],
                                                                                 err[-200:]))
    for key in ("over_snaplen", "over_max_caplen"):
        want = facts.get(key, 0)
        got = int(ctr.get("capture." + key, -1))
        c.check(got == want, "%s: capture.%s %d, want %d" % (name, key, got, want))
    if "error_offset" in facts:
        want = "offset %d" % facts["error_offset"]
        c.check(r.returncode == 1 and want in err and int(ctr.get("capture.file_errors", 0)) == 1,
                "%s: exit %d, want 1 and an error naming %r: %s" % (name, r.returncode, want, err[-300:]))
        c.check(sum(mctest.flow_packets(f) for f in flows) == facts["packets"],
                "%s: the packets before the bad record are not all metered: %s" % (name, flows))
    else:
        c.check(r.returncode == 0 and not err, "%s: exit %d: %s" % (name, r.returncode, err[-300:]))
        c.check(len(flows) == facts["flows"] and sum(mctest.flow_packets(f) for f in flows) == facts["packets"],
                "%s: %d flows of %d packets, want %d of %d" % (name, len(flows), sum(map(mctest.flow_packets, flows)),
                                                               facts["flows"], facts["packets"]))
    if have_tshark:
        trc, tn = tshark_reads(path)
        if "error_offset" in facts:
            c.check(trc != 0, "%s: tshark reads it (exit 0) but mcprobe refuses it" % name)
        else:
            c.check(trc == 0 and tn == packets, "%s: tshark exit %d, capinfos counts %s packets, mcprobe %d" % (
                name, trc, tn, packets))
c.done()
