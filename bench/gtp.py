#!/usr/bin/python3
"""bench/gtp.py - what the mobile analysis costs (issue 10's benchmark).

Usage: bench/gtp.py [MCPROBE] (default build/release/mcprobe)

The capture: scripts/gen-gtp-pcap.py --subscribers 10000 --seconds 60
--gtpu-per-sub 100 (10,000 subscribers, GTPv1 and GTPv2 sessions created,
handed over and deleted; each session's user plane a DNS exchange and an
HTTP download of about 45 KB: 1.01 M packets, 96% GTP-U), generated once
into build/bench/.  In one invocation, packets per
CPU-second (the lowest CPU time of BENCH_REPEAT runs, default 5) of
  off      mcprobe --no-l7 (the flow meter with GTP-U decapsulation only)
  on       mcprobe (nDPI and every analyzer: GTP-C with the subscriber
           layer tagging every GTP-U flow, DNS, HTTP, SIP/RTP, ...)
  cloud    the same with --redis to a private redis-server: its CPU time
           counts too (the subscribers' user.* keys, events and per-flow
           counters it writes)
and the ratios to off; then the subscriber table's memory per subscriber:
the peak RSS of `on` on this capture and on one of 1,000 subscribers with
the same traffic per subscriber, the difference over the 9,000
subscribers, less the same difference with the analysis off (the flows'
own cost).  Before timing, the analysis is checked against the
generator's truth (sessions created, deleted, rejected; every accepted
subscriber's GTP-U packets on user.<imsi>).  Issue 10's target: with GTP,
DNS, HTTP and VoIP analysis and the cloud all on, at least 1.5 million
packets per CPU-second.  A benchmark, not a test: prints PASS/MISS and
exits 0.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import mcredis  # noqa: E402

MCPROBE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "release", "mcprobe"))
WORK = os.environ.get("BENCH_WORK", os.path.join(ROOT, "build", "bench"))
MEASURE = os.path.join(WORK, "measure")
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
TARGET = 1.5e6


def generate(n):
    cap = os.path.join(WORK, "gtp-%d-100.pcap" % n)
    truth = cap + ".truth.json"
    if not (os.path.exists(cap) and os.path.exists(cap + ".meta") and os.path.exists(truth)):
        print("bench: generating %s" % cap)
        out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "gen-gtp-pcap.py"), cap,
                              "--subscribers", str(n), "--seconds", "60", "--gtpu-per-sub", "100", "--truth", truth],
                             stdout=subprocess.PIPE, check=True).stdout.decode()
        open(cap + ".meta", "w").write(out)
    return cap, json.loads(open(cap + ".meta").read()), truth


def measure(args, log):
    out = subprocess.run([MEASURE, "600", log, "--"] + args, stdout=subprocess.PIPE, check=True).stdout.decode()
    user, sys_, rss, wall, status = out.split()
    if status != "0":
        raise RuntimeError("%s exited %s (log %s)" % (" ".join(args), status, log))
    return float(user) + float(sys_), int(rss)


def redis_cpu(r):
    i = r.info("cpu")
    return i["used_cpu_user"] + i["used_cpu_sys"]


def check(cap, meta, truth_path, srv):
    """The analysis found what the generator made, before anything is timed."""
    ctr = os.path.join(WORK, "gtp-bench.ctr")
    r = srv.client()
    r.flushall()
    subprocess.run([MCPROBE, "-q", "--stats-interval", "0", "-i", cap, "--counters", ctr, "--redis", srv.addr],
                   check=True)
    c = dict((k, int(v)) for k, v in (line.split() for line in open(ctr)))
    subs = json.load(open(truth_path))["subscribers"]
    bad = sum(1 for s in subs if s["accepted"] and
              (int(r.hget("user." + s["imsi"], "sent_pkt") or 0), int(r.hget("user." + s["imsi"], "rcvd_pkt") or 0))
              != (s["up_packets"], s["down_packets"]))
    ok = (c.get("l7.mobile.sessions_created") == meta["accepted"] and
          c.get("l7.mobile.sessions_deleted") == meta["deleted"] and
          c.get("l7.mobile.sessions_rejected") == meta["rejected"] and bad == 0)
    print("%s: %s sessions created, %s deleted, %s rejected (the generator: %d, %d, %d); %d of %d subscribers' "
          "GTP-U packets counted wrong on user.<imsi>" % (
              "ok" if ok else "WRONG", c.get("l7.mobile.sessions_created"), c.get("l7.mobile.sessions_deleted"),
              c.get("l7.mobile.sessions_rejected"), meta["accepted"], meta["deleted"], meta["rejected"], bad,
              meta["accepted"]))


def main():
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(MEASURE):
        subprocess.run(["cc", "-O2", os.path.join(HERE, "measure.c"), "-o", MEASURE], check=True)
    mcredis.need_redis()
    cap, meta, truth = generate(10000)
    small, small_meta, _ = generate(1000)
    pkts = meta["packets"]
    srv = mcredis.Server()
    try:
        check(cap, meta, truth, srv)
        r = srv.client()
        log = os.path.join(WORK, "gtp-bench.log")
        base = [MCPROBE, "--stats-interval", "0", "-q", "-i"]
        off = on = cloud = None
        rss = {}
        for _ in range(REPEAT):
            t, rss["off"] = measure(base + [cap, "--no-l7"], log)
            off = t if off is None else min(off, t)
            t, rss["on"] = measure(base + [cap], log)
            on = t if on is None else min(on, t)
            r.flushall()
            before = redis_cpu(r)
            t, _ = measure(base + [cap, "--redis", srv.addr], log)
            t += redis_cpu(r) - before  # the server's CPU is part of the cost
            cloud = t if cloud is None else min(cloud, t)
        _, rss["small_off"] = measure(base + [small, "--no-l7"], log)
        _, rss["small_on"] = measure(base + [small], log)
    finally:
        srv.stop()
    print("%-44s %9s %12s %9s" % ("%s (%d packets)" % (os.path.basename(cap), pkts), "CPU s", "packets/s", "ratio"))
    for name, t in (("off (--no-l7)", off), ("on (every analyzer, nDPI)", on), ("on + cloud (redis CPU counted)", cloud)):
        print("%-44s %9.3f %12.0f %9.3f" % (name, t, pkts / t, off / t))
    per_sub = ((rss["on"] - rss["small_on"]) - (rss["off"] - rss["small_off"])) * 1024.0 / 9000
    print("memory: peak RSS on %d KiB (off %d KiB); per subscriber, beyond its flows: %.0f bytes" % (
        rss["on"], rss["off"], per_sub))
    rate = pkts / cloud
    print("%s: GTP, DNS, HTTP and VoIP analysis and the cloud on: %.2f M packets per CPU-second (target >= 1.5 M)" % (
        "PASS" if rate >= TARGET else "MISS", rate / 1e6))


main()
