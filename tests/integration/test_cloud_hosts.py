#!/usr/bin/python3
"""Issue 3, acceptance 1 (and the key contract): after mcprobe reads a corpus
capture, every ip.<addr> hash holds exactly the packets and bytes tshark
counts for that address, sent and received, on one node (unix socket) and on
two standalone nodes, where every key sits on the node the documented
mapping (mcprobe --cloud-locate) names.  MONITOR watches every command the
probe sends: each key and channel must be one docs/CLOUD.md lists (the
patterns are read from its Keys and Events tables: documenting a key there
is what admits it here).
"""
import collections
import ipaddress
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402

CAPTURES = ["mixed/ndpi_1kxun.pcap", "ipv6/pcapplusplus_four_ipv6_http_streams.pcap", "dns/ndpi_dns.pcap"]


PATTERNS = mcredis.documented_patterns()


def tshark_hosts(cap):
    want = collections.defaultdict(lambda: [0, 0, 0, 0])
    fields = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.len", "ipv6.plen"]
    for r in mctest.tshark_lines(cap, "ip or ipv6", fields):
        r = dict(zip(fields, r + [""] * (len(fields) - len(r))))
        if r["ip.src"]:
            src, dst, n = r["ip.src"].split(",")[0], r["ip.dst"].split(",")[0], int(r["ip.len"].split(",")[0])
        else:
            src, dst = r["ipv6.src"].split(",")[0], r["ipv6.dst"].split(",")[0]
            n = 40 + int(r["ipv6.plen"].split(",")[0])
        src, dst = str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))
        want[src][0] += 1
        want[src][2] += n
        want[dst][1] += 1
        want[dst][3] += n
    return want


def tshark_times(cap):
    """Per address: epoch ms of its first and last packet, sent or received."""
    times = {}
    fields = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "frame.time_epoch"]
    for r in mctest.tshark_lines(cap, "ip or ipv6", fields):
        r = dict(zip(fields, r + [""] * (len(fields) - len(r))))
        ms = int(float(r["frame.time_epoch"]) * 1000)
        pair = (r["ip.src"], r["ip.dst"]) if r["ip.src"] else (r["ipv6.src"], r["ipv6.dst"])
        for a in pair:
            a = str(ipaddress.ip_address(a.split(",")[0]))
            lo, hi = times.get(a, (ms, ms))
            times[a] = (min(lo, ms), max(hi, ms))
    return times


def documented(name):
    return any(re.fullmatch(p, name) for p in PATTERNS)


def keys_of(cmd):
    """The keys and channels a MONITOR line's command touches."""
    args = re.findall(r'"((?:[^"\\]|\\.)*)"', cmd)
    if not args:
        return []
    op = args[0].upper()
    if op in ("EVALSHA", "EVAL"):
        return args[3:3 + int(args[2])]
    if op in ("HSET", "HSETNX", "PEXPIRE", "XADD", "PUBLISH", "SET", "GET", "HINCRBY", "ZINCRBY", "EXPIRE",
              "HGET", "HMGET"):
        return [args[1]]
    if op in ("MGET", "DEL"):
        return args[1:]
    if op == "MSET":
        return args[1::2]
    return []


def main():
    mcredis.need_redis()
    mctest.need_corpus()
    mctest.need_tool("tshark")
    c = mctest.Checker()
    for topo in ("one", "two"):
        for rel in CAPTURES:
            cap = os.path.join(mctest.CORPUS, rel)
            servers = [mcredis.Server(unix=True)] if topo == "one" else [mcredis.Server(unix=False) for _ in range(2)]
            monitors = [subprocess.Popen((["redis-cli", "-s", s.sock] if s.unix else ["redis-cli", "-p", str(s.port)]) +
                                         ["monitor"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                        for s in servers]
            try:
                nodes = ",".join(s.addr for s in servers)
                rc, err = mctest.run_probe(["-i", cap, "--redis", nodes, "--probe-id", "t1", "--cloud-flush-ms", "100"],
                                           check=False)
                c.check(rc == 0, "%s %s: mcprobe failed: %s" % (topo, rel, err[-300:]))
                want = tshark_hosts(cap)
                got = {}
                for i, s in enumerate(servers):
                    r = s.client()
                    for key in r.scan_iter("ip.*"):
                        h = r.hgetall(key)
                        if "flows" in h:  # not an address only named by a DNS answer (passive DNS)
                            got[key[3:]] = (i, h)
                c.check(set(got) == set(want), "%s %s: hosts differ: only tshark %s, only cloud %s" % (
                    topo, rel, sorted(set(want) - set(got))[:3], sorted(set(got) - set(want))[:3]))
                bad = [a for a in want if a in got and [int(got[a][1][f]) for f in
                       ("sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes")] != want[a]]
                c.check(not bad, "%s %s: %d hosts differ from tshark, e.g. %s cloud %s tshark %s" % (
                    topo, rel, len(bad), bad[:1], [got[a][1] for a in bad[:1]], [want[a] for a in bad[:1]]))
                # first and last packet of each host, epoch ms (tshark's float seconds: 1 ms of rounding)
                times = tshark_times(cap)
                off = [a for a in got if a in times and not (
                    abs(int(got[a][1]["first_seen"]) - times[a][0]) <= 1 and
                    abs(int(got[a][1]["last_seen"]) - times[a][1]) <= 1)]
                c.check(not off, "%s %s: %d hosts with other first/last seen, e.g. %s cloud %s tshark %s" % (
                    topo, rel, len(off), off[:1], [(got[a][1]["first_seen"], got[a][1]["last_seen"]) for a in off[:1]],
                    [times[a] for a in off[:1]]))
                if topo == "two":
                    keys = ["ip." + a for a in got]
                    out = subprocess.run([mctest.MCPROBE, "--redis", nodes] +
                                         sum([["--cloud-locate", k] for k in keys[:60]], []),
                                         stdout=subprocess.PIPE, check=True).stdout.decode().split("\n")
                    where = {line.split()[0]: int(line.split()[1]) for line in out if line.strip()}
                    wrong = [k for k in where if got[k[3:]][0] != where[k]]
                    c.check(not wrong and len(where) == min(60, len(keys)),
                            "%s %s: keys on the wrong node: %s" % (topo, rel, wrong[:3]))
                    c.check(len({got[a][0] for a in got}) == 2, "%s %s: all keys on one node" % (topo, rel))
                # events: one host.new per key created (the analyzers add theirs to the stream)
                events = sum(1 for s in servers for _, e in s.client().xrange("events") if e.get("type") == "host.new")
                c.check(events == len(got), "%s %s: %d host.new events for %d hosts" % (topo, rel, events, len(got)))
                probe = [s.client().hgetall("probe.t1") for s in servers]
                probe = [p for p in probe if p]
                c.check(len(probe) == 1 and int(probe[0]["packets"]) > 0, "%s %s: heartbeat %s" % (topo, rel, probe))
            finally:
                for m in monitors:
                    m.terminate()
                for m in monitors:
                    out = m.communicate(timeout=10)[0].decode(errors="replace")
                    for line in out.splitlines():
                        for k in keys_of(line):
                            c.check(documented(k), "%s %s: undocumented key or channel %r" % (topo, rel, k))
                for s in servers:
                    s.stop()
    c.done()


if __name__ == "__main__":
    main()
