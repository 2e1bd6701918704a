#!/usr/bin/python3
"""Issue 11, the cloud (acceptance 5 and the enrichment): mccollector reads
what probes wrote, and follows their events.

1. Enrichment: a real redis-server holds what probes write (user.ip.<addr>,
   a mobile user's user.<imsi>, voip.rtp.<addr>:<port>); NetFlow v5 from a
   "router" that knows none of it reaches mccollector --redis: its JSON and
   its store carry userName (the source's user, else the destination's),
   mobileIMSI and mobileMSISDN, and rtpCallId; a flow the cloud knows
   nothing of gets nothing.  The same on two sharded nodes (keys where the
   probes put them).  MONITOR on the nodes: the collector only reads, and
   only keys docs/CLOUD.md documents.
2. Events, pub/sub: mccollector --subscribe 'events.voip.*,events.host.*'
   while mcprobe reads a generated VoIP capture into the cloud: every event
   the probe published on those channels (the events stream, XRANGE, is the
   reference) appears exactly once in the JSON output, its data equal.
3. --to-cloud: a router's flows count on ip.<addr> (packets and bytes each
   way, flows) as a probe's would, the collector heartbeating as the probe
   mccollector:<name>; MONITOR: every key written is documented.
4. Events, consumer group: mccollector --consumer-group is killed (SIGKILL)
   while a probe publishes, and started again: every event of the stream is
   in the outputs of the two runs (none lost; those read but not yet
   acknowledged at the kill may come twice), and a clean stop (SIGTERM)
   leaves nothing pending in the group.  A consumer that read 1200 entries
   and died: its successor under the same name writes each exactly once.
5. Redis killed mid-run: every flow still goes out (the ones asked of the
   dead node after --enrich-wait, without a user), and when Redis returns
   the lookups and the subscription work again.
"""
import collections
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mcredis  # noqa: E402
import mctest  # noqa: E402

MCCOLLECTOR = os.environ.get("MCCOLLECTOR", os.path.join(mctest.SRC, "build", "release", "mccollector"))
IMSI, MSISDN = "001010123456789", "491701234567"


def nf5(records, seq=0):
    """A v5 datagram: records are (src, dst, sport, dport, proto)."""
    now = int(time.time())
    out = struct.pack("!HHIIIIBBH", 5, len(records), 100000, now, 0, seq, 0, 0, 0)
    for src, dst, sp, dp, proto in records:
        out += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton(src), socket.inet_aton(dst), bytes(4), 1, 2,
                           3, 300, 90000, 95000, sp, dp, 0, 0, proto, 0, 0, 0, 0, 0, 0)
    return out


class Collector:
    def __init__(self, work, args, name="c"):
        self.port = mctest.free_port(socket.SOCK_DGRAM)
        self.json = os.path.join(work, name + ".json")
        self.db = os.path.join(work, name + ".db")
        self.ctr = os.path.join(work, name + ".txt")
        self.p = subprocess.Popen([MCCOLLECTOR, "-b", "127.0.0.1", "-p", str(self.port), "--json", self.json,
                                   "--store", self.db, "--counters", self.ctr, "--stats-interval", "0"] + args,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seen = []
        if not mctest.read_lines_until(self.p, "listening on", 10, seen):
            raise RuntimeError("mccollector did not start: %s" % "".join(seen))

    def send(self, data):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(data, ("127.0.0.1", self.port))
        s.close()

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        self.err = self.p.communicate(timeout=60)[1].decode()
        return self.p.returncode

    def lines(self):
        return [json.loads(x) for x in open(self.json) if x.strip()] if os.path.exists(self.json) else []

    def counters(self):
        return dict((n, int(v)) for n, v in (x.split() for x in open(self.ctr))) if os.path.exists(self.ctr) else {}


def seed(nodes):
    """What probes would have written, each key on its node (mcprobe --locate tells where)."""
    keys = {("SET", "user.ip.10.0.0.1", "alice"), ("SET", "user.ip.10.0.0.2", "bob"),
            ("SET", "user.ip.10.0.0.7", IMSI)}
    for k in keys:
        node_of(nodes, k[1]).cli(*k)
    node_of(nodes, "user." + IMSI).cli("HSET", "user." + IMSI, "imsi", IMSI, "msisdn", MSISDN, "apn", "internet")
    node_of(nodes, "voip.rtp.10.0.0.9:40000").cli("HSET", "voip.rtp.10.0.0.9:40000", "call_id", "call-1@pbx",
                                                  "side", "caller")


def node_of(nodes, key):
    if len(nodes) == 1:
        return nodes[0]
    out = subprocess.run([mctest.MCPROBE, "--redis", ",".join(n.addr for n in nodes), "--cloud-locate", key],
                         stdout=subprocess.PIPE, check=True).stdout.decode().split()
    return nodes[int(out[1])]


PATTERNS = None
READS = {"GET", "HMGET", "PING", "INFO", "SELECT", "AUTH", "CLIENT", "HELLO", "COMMAND", "CLUSTER"}


def monitor(server):
    return subprocess.Popen(["redis-cli", "-s", server.sock, "monitor"] if server.unix else
                            ["redis-cli", "-p", str(server.port), "monitor"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def check_monitor(c, label, procs):
    """The MONITOR contract: the collector only reads, and only keys docs/CLOUD.md documents."""
    import re
    global PATTERNS
    PATTERNS = PATTERNS or mcredis.documented_patterns()
    n = 0
    for m in procs:
        m.terminate()
        out = m.communicate(timeout=10)[0].decode(errors="replace")
        for line in out.splitlines():
            args = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            if not args:
                continue
            n += 1
            op = args[0].upper()
            c.check(op in READS, "%s: the collector only reads: %s" % (label, line[:120]))
            if op in ("GET", "HMGET"):
                c.check(any(re.fullmatch(p, args[1]) for p in PATTERNS), "%s: documented key %r" % (label, args[1]))
    c.check(n > 0, "%s: MONITOR saw the collector's commands (%d)" % (label, n))


def check_enrichment(c, work, nodes, label):
    seed(nodes)
    mons = [monitor(n) for n in nodes]
    time.sleep(0.3)
    col = Collector(work, ["--redis", ",".join(n.addr for n in nodes)], name=label)
    col.send(nf5([("10.0.0.1", "192.0.2.1", 40000, 443, 6),     # alice's
                  ("192.0.2.1", "10.0.0.2", 443, 40001, 6),     # bob's, as destination
                  ("10.0.0.7", "192.0.2.8", 40002, 80, 6),      # a subscriber's
                  ("10.0.0.9", "192.0.2.9", 40000, 40010, 17),  # a call's media
                  ("192.0.2.5", "192.0.2.6", 1, 2, 17)]))       # nobody's
    time.sleep(0.6)
    # seen again, answered from the cache at once
    col.send(nf5([("10.0.0.1", "192.0.2.1", 40003, 443, 6)], seq=5))
    time.sleep(0.3)
    rc = col.stop()
    check_monitor(c, label, mons)
    c.check(rc == 0, "%s: exit 0 (%d): %s" % (label, rc, col.err[-300:]))
    lines = col.lines()
    by_port = {x["sourceTransportPort"]: x for x in lines if x.get("sourceIPv4Address") != "10.0.0.9"}
    c.check(len(lines) == 6, "%s: six flows written (%d)" % (label, len(lines)))
    c.check(by_port.get(40000, {}).get("userName") == "alice" and by_port.get(40003, {}).get("userName") == "alice",
            "%s: the source's user" % label)
    c.check(by_port.get(443, {}).get("userName") == "bob", "%s: the destination's user" % label)
    sub = by_port.get(40002, {})
    c.check(sub.get("mobileIMSI") == IMSI and sub.get("mobileMSISDN") == MSISDN and sub.get("userName") == IMSI,
            "%s: a subscriber's IMSI and MSISDN: %r" % (label, {k: sub.get(k) for k in ("mobileIMSI", "mobileMSISDN")}))
    media = [x for x in lines if x.get("sourceIPv4Address") == "10.0.0.9"]
    c.check(media and media[0].get("rtpCallId") == "call-1@pbx", "%s: a media flow's call id" % label)
    nobody = by_port.get(1, {})
    c.check(nobody and not any(k in nobody for k in ("userName", "mobileIMSI", "rtpCallId")),
            "%s: nothing added where the cloud knows nothing" % label)
    rows = sqlite3.connect(col.db).execute("SELECT src_port, user, imsi, msisdn, call_id FROM flows "
                                           "WHERE src != '10.0.0.9'").fetchall()
    got = {r[0]: r[1:] for r in rows}
    rows += sqlite3.connect(col.db).execute("SELECT src_port, user, imsi, msisdn, call_id FROM flows "
                                            "WHERE src = '10.0.0.9'").fetchall()
    c.check(got.get(40000) == ("alice", None, None, None) and got.get(40002) == (IMSI, IMSI, MSISDN, None) and
            any(r[4] == "call-1@pbx" for r in rows), "%s: the store holds the same: %r" % (label, rows))
    ctr = col.counters()
    c.check(ctr.get("enrich.users") == 4 and ctr.get("enrich.subscribers") == 1 and ctr.get("enrich.calls") == 1,
            "%s: counted (users %s, subscribers %s, calls %s)" % (label, ctr.get("enrich.users"),
                                                                   ctr.get("enrich.subscribers"),
                                                                   ctr.get("enrich.calls")))


def check_to_cloud(c, work):
    """--to-cloud: a router's flows count on ip.<addr> as a probe's would; every key written is documented."""
    import re
    global PATTERNS
    PATTERNS = PATTERNS or mcredis.documented_patterns()
    srv = mcredis.Server()
    mon = monitor(srv)
    try:
        time.sleep(0.3)
        col = Collector(work, ["--redis", srv.addr, "--to-cloud", "--consumer", "edge"], name="tocloud")
        # 10.0.0.1 sends 3 packets of 300 bytes to 192.0.2.1 twice; 192.0.2.1 answers once
        col.send(nf5([("10.0.0.1", "192.0.2.1", 40000, 443, 6), ("10.0.0.1", "192.0.2.1", 40001, 443, 6),
                      ("192.0.2.1", "10.0.0.1", 443, 40000, 6)]))
        time.sleep(1.2)  # a flush (500 ms)
        r = srv.client()
        a, b = r.hgetall("ip.10.0.0.1"), r.hgetall("ip.192.0.2.1")
        c.check(a.get("sent_pkt") == "6" and a.get("rcvd_pkt") == "3" and a.get("sent_bytes") == "600" and
                a.get("rcvd_bytes") == "300" and a.get("flows") == "3", "to-cloud: ip.10.0.0.1 %r" % a)
        c.check(b.get("sent_pkt") == "3" and b.get("rcvd_pkt") == "6" and b.get("flows") == "3",
                "to-cloud: ip.192.0.2.1 %r" % b)
        c.check(r.hget("probe.mccollector:edge", "source") == "mccollector", "to-cloud: its heartbeat, as a probe")
        rc = col.stop()
        c.check(rc == 0, "to-cloud: exit 0 (%d)" % rc)
    finally:
        mon.terminate()
        out = mon.communicate(timeout=10)[0].decode(errors="replace")
        keys = set()
        for line in out.splitlines():
            args = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            if len(args) > 1 and args[0].upper() in ("HINCRBY", "HSET", "PEXPIRE", "EXPIRE", "XADD", "PUBLISH",
                                                     "GET", "HMGET", "SET", "HSETNX"):
                keys.add(args[1])
            elif len(args) > 1 and args[0].upper() in ("DEL", "MGET"):
                keys.update(args[1:])
            elif len(args) > 1 and args[0].upper() == "MSET":
                keys.update(args[1::2])
        c.check("ip.10.0.0.1" in keys, "to-cloud: MONITOR saw the writes (%d keys)" % len(keys))
        for k in sorted(keys):
            c.check(any(re.fullmatch(p, k) for p in PATTERNS), "to-cloud: documented key %r" % k)
        srv.stop()


def voip_capture(work, calls, seconds, name, seed=1):
    path = os.path.join(work, name)
    subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-voip-pcap.py"), path, "--calls",
                    str(calls), "--seconds", str(seconds), "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    return path


def stream_events(server, patterns):
    """Every entry of the events stream whose channel matches: [(name, data dict)]."""
    import fnmatch
    r = server.client()
    out = []
    for _, fields in r.xrange("events", count=1000000):
        name = fields["type"]
        if any(fnmatch.fnmatchcase("events." + name, p) for p in patterns):
            out.append((name, json.dumps(json.loads(fields["data"]), sort_keys=True)))
    return out


def written_events(lines):
    return [(x["event"], json.dumps(x["data"], sort_keys=True)) for x in lines if "event" in x]


def check_subscribe(c, work):
    srv = mcredis.Server()
    try:
        patterns = ["events.voip.*", "events.host.*"]
        col = Collector(work, ["--redis", srv.addr, "--subscribe", ",".join(patterns)], name="sub")
        time.sleep(0.5)  # subscribed
        cap = voip_capture(work, 12, 20, "voip.pcap")
        mctest.run_probe(["-i", cap, "--redis", srv.addr, "--probe-id", "p1"])
        time.sleep(1.0)
        rc = col.stop()
        c.check(rc == 0, "subscribe: exit 0 (%d)" % rc)
        want = stream_events(srv, patterns)
        got = written_events(col.lines())
        c.check(len(want) > 20, "subscribe: the probe published events (%d)" % len(want))
        g, w = collections.Counter(got), collections.Counter(want)
        c.check(g == w, "subscribe: every event once, data equal (%d written, %d published; missing %d, extra %d)"
                % (len(got), len(want), sum((w - g).values()), sum((g - w).values())))
        names = {n for n, _ in got}
        c.check({"voip.call.start", "voip.call.end", "host.new"} <= names, "subscribe: kinds %s" % sorted(names))
    finally:
        srv.stop()


def check_consumer_group(c, work):
    srv = mcredis.Server()
    try:
        args = ["--redis", srv.addr, "--consumer-group", "collectors", "--consumer", "c1"]
        col = Collector(work, args, name="grp1")
        caps = [voip_capture(work, 10, 15, "g%d.pcap" % i, seed=10 + i) for i in range(3)]
        mctest.run_probe(["-i", caps[0], "--redis", srv.addr, "--probe-id", "g0"])
        time.sleep(0.5)
        col.stop(signal.SIGKILL)  # killed: what it read and did not acknowledge stays pending
        mctest.run_probe(["-i", caps[1], "--redis", srv.addr, "--probe-id", "g1"])  # while it is down
        col2 = Collector(work, args, name="grp2")
        mctest.run_probe(["-i", caps[2], "--redis", srv.addr, "--probe-id", "g2"])
        time.sleep(1.5)
        rc = col2.stop()
        c.check(rc == 0, "consumer group: exit 0 after SIGTERM (%d)" % rc)
        want = collections.Counter(stream_events(srv, ["events.*"]))
        got = collections.Counter(written_events(col.lines()) + written_events(col2.lines()))
        missing = want - got
        c.check(len(want) > 30 and not missing, "consumer group: none of the %d events lost (%d missing)" %
                (sum(want.values()), sum(missing.values())))
        extra = got - want
        c.check(not (set(extra) - set(want)), "consumer group: nothing written that the stream does not hold")
        pending = srv.client().xpending("events", "collectors")
        c.check(pending["pending"] == 0, "consumer group: nothing left pending after a clean stop (%r)" % pending)
        print("   consumer group: %d events, %d written twice (read, not yet acknowledged at the kill)" %
              (sum(want.values()), sum(extra.values())))
    finally:
        srv.stop()


def check_backlog(c, work):
    """A consumer that read 1200 entries and died: its successor under the same name delivers each once."""
    srv = mcredis.Server()
    try:
        r = srv.client()
        for i in range(1200):
            r.xadd("events", {"type": "test.backlog", "data": json.dumps({"i": i})})
        r.xgroup_create("events", "g2", id="0")
        r.xreadgroup("g2", "c9", {"events": ">"}, count=5000)  # read, never acknowledged
        col = Collector(work, ["--redis", srv.addr, "--consumer-group", "g2", "--consumer", "c9"], name="backlog")
        time.sleep(2.0)
        rc = col.stop()
        got = [x["data"]["i"] for x in col.lines() if x.get("event") == "test.backlog"]
        c.check(rc == 0 and sorted(got) == list(range(1200)),
                "backlog: the 1200 pending entries delivered once each (%d written, %d distinct)" %
                (len(got), len(set(got))))
        c.check(r.xpending("events", "g2")["pending"] == 0, "backlog: all acknowledged")
        if len(got) != 1200:
            print("   backlog: counters %r; stderr %s" % ({k: v for k, v in col.counters().items() if "event" in k},
                                                      col.err[-500:]))
    finally:
        srv.stop()


def check_redis_killed(c, work):
    """Redis killed mid-run: flows keep going out (without what the cloud would add), nothing piles up; when
    it returns (same socket), the user lookups and the subscription work again."""
    srv = mcredis.Server()
    try:
        srv.cli("SET", "user.ip.10.0.0.1", "alice")
        col = Collector(work, ["--redis", srv.addr, "--subscribe", "events.test.*", "--enrich-wait", "100"],
                        name="killed")
        time.sleep(0.5)
        col.send(nf5([("10.0.0.1", "192.0.2.1", 41000, 443, 6)], seq=0))
        srv.cli("PUBLISH", "events.test.one", '{"n": 1}')
        time.sleep(0.5)
        srv.kill()
        for i in range(20):  # while it is down: a user never seen, asked of a dead node
            col.send(nf5([("10.0.0.%d" % (100 + i), "192.0.2.1", 42000 + i, 443, 6)], seq=1 + i))
            time.sleep(0.05)
        time.sleep(0.5)
        down = len([x for x in col.lines() if "sourceTransportPort" in x]) if os.path.exists(col.json) else 0
        srv.start()  # the same socket path
        srv.cli("SET", "user.ip.10.0.0.2", "bob")
        time.sleep(3.0)  # reconnected (backoff) and subscribed again
        col.send(nf5([("10.0.0.2", "192.0.2.1", 43000, 443, 6)], seq=30))
        srv.cli("PUBLISH", "events.test.two", '{"n": 2}')
        time.sleep(1.0)
        rc = col.stop()
        lines = col.lines()
        flows = [x for x in lines if "sourceTransportPort" in x]
        events = [x["event"] for x in lines if "event" in x]
        c.check(rc == 0, "redis killed: the collector ran on and stopped cleanly (%d)" % rc)
        c.check(len(flows) == 22, "redis killed: every flow went out (%d of 22; %d already while it was down)" %
                (len(flows), down))
        by = {x["sourceTransportPort"]: x for x in flows}
        c.check(by.get(41000, {}).get("userName") == "alice", "redis killed: enriched before")
        c.check(by.get(43000, {}).get("userName") == "bob", "redis killed: enriched again after its return")
        c.check(events == ["test.one", "test.two"], "redis killed: subscribed again after its return: %r" % events)
        ctr = col.counters()
        c.check(ctr.get("cloud.events.connects", 0) >= 2 and ctr.get("cloud.events.disconnects", 0) >= 1,
                "redis killed: the events connection lost and made again (%s, %s)" %
                (ctr.get("cloud.events.disconnects"), ctr.get("cloud.events.connects")))
    finally:
        srv.stop()


def main():
    mcredis.need_redis()
    if not os.path.exists(MCCOLLECTOR):
        mctest.skip("mccollector is not built at %s" % MCCOLLECTOR)
    c = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mcccloud")
    one = mcredis.Server()  # started by its constructor
    try:
        check_enrichment(c, work, [one], "one node")
    finally:
        one.stop()
    two = [mcredis.Server(), mcredis.Server()]
    try:
        check_enrichment(c, work, two, "two nodes")
    finally:
        for s in two:
            s.stop()
    check_to_cloud(c, work)
    check_subscribe(c, work)
    check_consumer_group(c, work)
    check_backlog(c, work)
    check_redis_killed(c, work)
    c.done()


if __name__ == "__main__":
    main()
