#!/usr/bin/python3
"""bench/ndpi.py - what nDPI classification costs in mcprobe, next to ndpiReader.

Usage: bench/ndpi.py [MCPROBE] (default build/release/mcprobe)

In one invocation, on:
  * mixed.pcap from scripts/gen-bench-pcap.py (1,000,000 packets, ~92k TCP
    and UDP flows, ~49k open at once; generated into BENCH_WORK when
    missing).  Its payloads are zeros: nDPI never decides, so every flow
    keeps its nDPI state and is inspected up to --dpi-max-packets: the
    worst case for both time and memory;
  * l7.pcap from scripts/gen-l7-bench-pcap.py (real DNS, HTTP and MySQL
    payloads: nDPI decides within a few packets), when bench/l7.py made it;
  * every capture of ../shared/corpus/mixed/ (real traffic), when present.
For each, the lowest user+system CPU time of BENCH_REPEAT runs (default 3,
measured by bench/measure.c through wait4) of
  on       mcprobe --l7-log FILE          nDPI and every analyzer
  no-dpi   mcprobe --l7-log FILE --no-dpi  the analyzers only
  ndpi     ndpiReader -q -i FILE          Debian's, the same nDPI 4.2
as packets per CPU-second, and the ratios on/no-dpi (what nDPI costs) and
on/ndpi (target: >= 5).  Memory: the peak RSS of "on", per flow held at
the peak (the generator's .meta; for the corpus captures, per flow in the
capture, which mostly shows the fixed cost), and what nDPI adds per flow
held ((on - no-dpi) / flows), next to nDPI's own flow struct size.
A benchmark, not a test: prints PASS/MISS and exits 0.
"""
import ctypes
import ctypes.util
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MCPROBE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "release", "mcprobe"))
WORK = os.path.abspath(os.environ.get("BENCH_WORK", os.path.join(ROOT, "build", "bench")))
MEASURE = os.path.join(WORK, "measure")
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CORPUS = os.path.abspath(os.path.join(ROOT, "..", "shared", "corpus"))
TARGET = 5.0


def measure(args, log):
    if "--l7-log" in args:
        # the log is appended to (logrotate's way): each run starts it anew, so every run writes the same file
        txlog = args[args.index("--l7-log") + 1]
        if os.path.exists(txlog):
            os.unlink(txlog)
    out = subprocess.run([MEASURE, "900", log, "--"] + args, stdout=subprocess.PIPE, check=True).stdout.decode()
    user, sys_, rss, wall, status = out.split()
    if status != "0":
        raise RuntimeError("%s exited %s (log %s)" % (" ".join(args), status, log))
    return float(user) + float(sys_), int(rss)


def packets_of(cap):
    out = subprocess.run(["capinfos", "-c", "-M", cap], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    for line in out.decode().splitlines():
        if "Number of packets" in line:
            return int(line.split(":")[1].strip())
    return 0


def flows_of(cap, log):
    """Flows in a capture as mcprobe meters them (for the small corpus captures)."""
    ctr = log + ".ctr"
    subprocess.run([MCPROBE, "-q", "--stats-interval", "0", "--no-l7", "-i", cap, "--counters", ctr],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    for line in open(ctr):
        name, value = line.split()
        if name == "flow.exported":
            return int(value)
    return 0


def ndpi_flow_size():
    """sizeof(struct ndpi_flow_struct) as the installed libndpi reports it, 0 if unknown."""
    name = ctypes.util.find_library("ndpi")
    try:
        lib = ctypes.CDLL(name or "libndpi.so.4")
        return int(lib.ndpi_detection_get_sizeof_ndpi_flow_struct())
    except (OSError, AttributeError):
        return 0


def main():
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(MEASURE):
        subprocess.run(["cc", "-O2", os.path.join(HERE, "measure.c"), "-o", MEASURE], check=True)
    gen = os.path.join(WORK, "mixed.pcap")
    if not os.path.exists(gen) or not os.path.exists(gen + ".meta"):
        print("bench: generating %s" % gen)
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "gen-bench-pcap.py"), "--mixed", gen],
                       check=True)
    meta = json.load(open(gen + ".meta"))
    log = os.path.join(WORK, "ndpi-bench.log")
    txlog = os.path.join(WORK, "ndpi-bench-tx.json")
    caps = [(gen, meta["packets"], meta["peak_concurrent_flows"], True)]
    l7cap = os.path.join(WORK, "l7.pcap")
    if os.path.exists(l7cap) and os.path.exists(l7cap + ".meta"):
        l7meta = json.load(open(l7cap + ".meta"))
        caps.append((l7cap, l7meta["packets"], l7meta["peak_concurrent_flows"], False))
    for c in sorted(glob.glob(os.path.join(CORPUS, "mixed", "*.pcap"))):
        caps.append((c, packets_of(c), flows_of(c, log), False))
    if len(caps) == 1:
        print("bench: ../shared/corpus/mixed absent: the generated capture only")
    link = "/tmp/mcbn%d.pcap" % os.getpid()  # ndpiReader cuts long paths short
    base = [MCPROBE, "--stats-interval", "0", "-q", "--l7-log", txlog, "-i"]
    print("%-26s %9s %7s %11s %11s %11s %8s %8s %8s %9s %9s" % (
        "capture", "packets", "flows", "on pps", "no-dpi pps", "ndpi pps", "on/nodpi", "on/ndpi", "RSS MiB",
        "B/flow", "dpi B/fl"))
    worst = None
    gen_row = None
    try:
        for cap, pkts, flows, is_gen in caps:
            if not pkts:
                continue
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(cap, link)
            on = nodpi = nd = None
            rss_on = rss_nodpi = 0
            for _ in range(REPEAT):
                # every variant once per round: a machine getting slower or faster weighs on all alike
                c, r = measure(base + [cap], log)
                on, rss_on = min(on or c, c), max(rss_on, r)
                if os.path.exists(txlog):
                    os.unlink(txlog)
                c, r = measure(base + [cap, "--no-dpi"], log)
                nodpi, rss_nodpi = min(nodpi or c, c), max(rss_nodpi, r)
                if os.path.exists(txlog):
                    os.unlink(txlog)
                c, _ = measure(["ndpiReader", "-q", "-i", link], log)
                nd = min(nd or c, c)
            r_nodpi, r_nd = nodpi / on, nd / on  # ratio of rates = inverse ratio of CPU times
            per_flow = rss_on * 1024 / flows if flows else 0
            dpi_per_flow = (rss_on - rss_nodpi) * 1024 / flows if flows else 0
            print("%-26s %9d %7d %11.0f %11.0f %11.0f %8.3f %8.2f %8.1f %9.0f %9.0f" % (
                os.path.basename(cap)[:26], pkts, flows, pkts / on, pkts / nodpi, pkts / nd, r_nodpi, r_nd,
                rss_on / 1024, per_flow, dpi_per_flow))
            worst = r_nd if worst is None else min(worst, r_nd)
            if is_gen:
                gen_row = (r_nd, per_flow, dpi_per_flow)
    finally:
        if os.path.lexists(link):
            os.unlink(link)
    size = ndpi_flow_size()
    print()
    print("flows: a generated capture's peak concurrent flows (.meta), else the flows mcprobe exports;")
    print("B/flow: peak RSS of 'on' per flow; dpi B/fl: (RSS on - RSS no-dpi) per flow; "
          "sizeof(struct ndpi_flow_struct) in this libndpi: %s B" % (size or "?"))
    if gen_row:
        print("%s: mcprobe with nDPI and analyzers at %.2fx ndpiReader's rate on %s (target >= %g)" % (
            "PASS" if gen_row[0] >= TARGET else "MISS", gen_row[0], os.path.basename(gen), TARGET))
    if worst is not None:
        print("%s: %.2fx ndpiReader's rate, worst capture (target >= %g)" % (
            "PASS" if worst >= TARGET else "MISS", worst, TARGET))


main()
