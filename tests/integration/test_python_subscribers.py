#!/usr/bin/python3
"""Mobile subscribers through the Python package, mcquery and
examples/subscriber_watch.py, against real redis-server processes.

The keys are written with plain redis-py exactly as mcprobe's subscriber
layer writes them (src/l7/mobile.c, src/cloud/cloud.c; docs/CLOUD.md):
HSET user.<imsi> with every attribute (empty when GTP-C did not give it),
SET user.ip.<ue-addr> and user.teid.<peer>:<teid> ([v6] in brackets) to the
IMSI, the counters by HINCRBY; a session that ended leaves its hash without
ip/ip6/teids and with a TTL.  The cloud holds an IPv4 UE, an IPv4v6 UE, an
IPv6-only UE on IPv6 GTP-U peers, a lingering subscriber, a plain user
(alice), a user with a digit id but no imsi, and a user an application bound
with an imsi attribute (set_user).  On one node (unix socket), three sharded
standalone nodes (prefix "mc:", keys checked to be spread over the nodes the
mapping names) and a 3-master Redis Cluster, it checks Cloud.subscriber,
subscribers(active=True/False), user_of, subscriber_of_teid, `mcquery
subscribers [--all]` and `mcquery subscriber IMSI|IP` (text and --json), and
subscriber_watch.py printing the events.gtp.session.* it is sent (PUBLISH,
and XADD to the stream as the probe does) and one subscriber's counters.
"""
import ipaddress
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402
import mcpy  # noqa: E402  (python/ on the path, or the installed package)

mcredis.need_redis()
try:
    from redis.cluster import RedisCluster  # noqa: E402
except ImportError:
    mctest.skip("python3-redis (>= 4.1, with redis.cluster) is not installed")

from microcloud import Cloud, keyspace  # noqa: E402

MCQUERY = mcpy.MCQUERY
WATCH = os.path.join(mcpy.SRC, "examples", "subscriber_watch.py")
LINGER_MS = 3600000
NOW = int(time.time() * 1000)
c = mctest.Checker()

# The sessions: (imsi, attributes as the probe writes them, v4, v6, user-plane endpoints, counters).
SUBS = [
    ("001010000000001", {"msisdn": "393330000001", "imei": "3548210000000010", "apn": "internet", "rat": "EUTRAN",
                         "rat_type": "6", "mcc": "001", "mnc": "01", "tac": "4660", "eci": "305419896", "lac": "",
                         "ci": ""},
     "10.45.0.1", None, ["192.0.2.1:1001", "192.0.2.2:2001"],
     {"sent_pkt": 10, "rcvd_pkt": 20, "sent_bytes": 1500, "rcvd_bytes": 30000, "last_seen": NOW - 1000}),
    ("001010000000002", {"msisdn": "393330000002", "imei": "", "apn": "ims", "rat": "UTRAN", "rat_type": "1",
                         "mcc": "001", "mnc": "01", "tac": "", "eci": "", "lac": "1234", "ci": "5678"},
     "10.45.0.2", "2001:db8:1::2", ["192.0.2.1:1002", "192.0.2.2:2002"],
     {"sent_pkt": 3, "rcvd_pkt": 0, "sent_bytes": 180, "rcvd_bytes": 0, "last_seen": NOW - 500}),
    ("310150123456789", {"msisdn": "", "imei": "", "apn": "v6only", "rat": "", "rat_type": "", "mcc": "310",
                         "mnc": "150", "tac": "", "eci": "", "lac": "", "ci": ""},
     None, "2001:db8:2::9", ["[2001:db8:ff::1]:3003", "[2001:db8:ff::2]:4003"],
     {"sent_pkt": 5000000, "rcvd_pkt": 7000000, "sent_bytes": 5 * 1024 ** 3, "rcvd_bytes": 9 * 1024 ** 3,
      "last_seen": NOW}),
]
LINGER = ("001010000000009", {"msisdn": "393330000009", "imei": "3548210000000090", "apn": "internet", "rat": "GERAN",
                              "rat_type": "2", "mcc": "001", "mnc": "01", "tac": "", "eci": "", "lac": "7", "ci": "8"},
          {"sent_pkt": 1, "rcvd_pkt": 1, "sent_bytes": 60, "rcvd_bytes": 60, "last_seen": NOW - 60000})
STR_FIELDS = {"ip", "ip6", "probe", "imsi", "msisdn", "imei", "apn", "rat", "teids", "mcc", "mnc"}


def expected(imsi, attrs, v4, v6, teids, counters, since):
    """The record Cloud.subscriber must return: empty fields left out, numbers as ints, codes as text."""
    h = dict(attrs, imsi=imsi, since=str(since), probe="p1", ip=v4 or v6 or "", ip6=v6 or "",
             teids=",".join(teids))
    out = {k: (v if k in STR_FIELDS else int(v)) for k, v in h.items() if v != ""}
    out.update(counters)
    return out


class Writer:
    """Writes the cloud as mcprobe does, each key on the node the contract's mapping names."""

    def __init__(self, prefix, nodes=None, cluster=None):
        self.prefix, self.nodes, self.cluster = prefix, nodes, cluster

    def on(self, key):
        if self.cluster is not None:
            return self.cluster
        return self.nodes[keyspace.node_for_key(key, len(self.nodes))]

    def k(self, name):
        return self.prefix + name

    def session(self, imsi, attrs, v4, v6, teids, since):
        # mc_cloud_user_set_keys: HSET user.<imsi> ip <primary> since probe <attrs> (since again: the session's)
        uk = self.k("user." + imsi)
        primary = v4 or v6
        fields = dict(ip=primary, since=str(NOW), probe="p1", imsi=imsi, **attrs)
        fields.update(ip6=v6 or "", teids=",".join(teids), since=str(since))
        self.on(uk).hset(uk, mapping=fields)
        self.on(uk).persist(uk)
        # an IPv6 UE's /64 too: it picks its interface id (user.ip.<prefix>/64)
        p64 = ["user.ip.%s/64" % ipaddress.ip_network(v6 + "/64", strict=False).network_address] if v6 else []
        for key in ["user.ip." + primary] + (["user.ip." + v6] if v4 and v6 else []) + p64 + \
                ["user.teid." + t for t in teids]:
            self.on(self.k(key)).set(self.k(key), imsi)

    def counters(self, imsi, counters):
        uk = self.k("user." + imsi)
        for f, v in counters.items():
            if f == "last_seen":
                self.on(uk).hset(uk, f, v)
            else:
                self.on(uk).hincrby(uk, f, v)

    def end(self, imsi, v4, v6, teids):
        # the session's last: its keys go, user.<imsi> loses ip/ip6/teids and lingers (--gtp-linger)
        uk = self.k("user." + imsi)
        self.on(uk).hdel(uk, "ip", "ip6", "teids")
        self.on(uk).pexpire(uk, LINGER_MS)
        for key in ["user.ip." + (v4 or v6)] + (["user.ip." + v6] if v4 and v6 else []) + \
                ["user.teid." + t for t in teids]:
            self.on(self.k(key)).delete(self.k(key))

    def user(self, uid, ip, **attrs):
        uk = self.k("user." + uid)
        self.on(uk).hset(uk, mapping=dict(attrs, ip=ip, since=str(NOW), probe="p1"))
        self.on(self.k("user.ip." + ip)).set(self.k("user.ip." + ip), uid)

    def event(self, what, data):
        payload = json.dumps(data)
        chan = self.k("events.gtp.session." + what)
        self.on(chan).publish(chan, payload)
        s = self.k("events")
        self.on(s).xadd(s, {"type": "gtp.session." + what, "data": payload}, maxlen=10000, approximate=True)


def mcquery(args, timeout=30):
    p = subprocess.run(MCQUERY + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def fill(w, cloud):
    """Writes every subscriber and user; returns {imsi: expected record} (lingering one included)."""
    want = {}
    for i, (imsi, attrs, v4, v6, teids, counters) in enumerate(SUBS):
        since = NOW - 10000 * (i + 1)
        w.session(imsi, attrs, v4, v6, teids, since)
        w.counters(imsi, counters)
        want[imsi] = expected(imsi, attrs, v4, v6, teids, counters, since)
    imsi, attrs, counters = LINGER
    w.session(imsi, attrs, "10.45.0.9", None, ["192.0.2.1:1009"], NOW - 90000)
    w.counters(imsi, counters)
    w.end(imsi, "10.45.0.9", None, ["192.0.2.1:1009"])
    rec = expected(imsi, attrs, "10.45.0.9", None, [], counters, NOW - 90000)
    del rec["ip"]
    want[imsi] = rec
    w.user("alice", "10.0.0.1", name="Alice")
    w.user("12345", "10.0.0.2", source="dhcp")  # digits, but no imsi: no subscriber
    cloud.set_user("carol", "10.0.0.3", imsi="001010000000077", msisdn="393330000077", since=NOW)
    return want


def check_topology(name, cloud, w, cli_args, raw, holders):
    tag = "[%s] " % name
    want = fill(w, cloud)
    active = sorted(i for i in want if i != LINGER[0])
    carol = {"id": "carol", "ip": "10.0.0.3", "since": NOW, "imsi": "001010000000077", "msisdn": "393330000077"}

    if len(raw) > 1:  # sharded: the subscribers' keys are spread, each on the node the mapping names
        spread = set()
        for imsi in want:
            k = w.k("user." + imsi)
            on = [i for i, r in enumerate(raw) if r.exists(k)]
            c.check(on == [keyspace.node_for_key(k, len(raw))], tag + "%s on nodes %s" % (k, on))
            spread.update(on)
        c.check(len(spread) > 1, tag + "every subscriber on one node: sharding untested")
    ttl = holders(w.k("user." + LINGER[0])).pttl(w.k("user." + LINGER[0]))
    c.check(0 < ttl <= LINGER_MS, tag + "the lingering subscriber's TTL: %r" % ttl)
    c.check(holders(w.k("user." + SUBS[0][0])).pttl(w.k("user." + SUBS[0][0])) == -1, tag + "a live session has a TTL")

    # the library
    for imsi, rec in want.items():
        got = cloud.subscriber(imsi)
        c.check(got == rec, tag + "subscriber(%s): %r, expected %r" % (imsi, got, rec))
    c.check(cloud.subscriber("001010000000099") is None, tag + "subscriber(unknown)")
    c.check(cloud.subscriber("12345") is None, tag + "subscriber(a user without imsi)")
    try:
        cloud.subscriber("alice")
        c.check(False, tag + "subscriber('alice') raised nothing")
    except ValueError:
        pass
    got = cloud.subscribers()
    c.check([r["imsi"] for r in got] == sorted(active + [carol["imsi"]]),
            tag + "subscribers(): %r" % [r.get("imsi") for r in got])
    c.check(all(r == want.get(r["imsi"], carol) for r in got), tag + "subscribers() records: %r" % got)
    got = cloud.subscribers(active=False)
    c.check([r["imsi"] for r in got] == sorted(list(want) + [carol["imsi"]]),
            tag + "subscribers(active=False): %r" % [r.get("imsi") for r in got])
    c.check(got[[r["imsi"] for r in got].index(LINGER[0])] == want[LINGER[0]], tag + "the lingering record")
    # an address of an IPv6 UE's /64 other than the announced one: found by the prefix, as the probes do
    for ip, who in (("10.45.0.1", SUBS[0][0]), ("10.45.0.2", SUBS[1][0]), ("2001:DB8:1:0::2", SUBS[1][0]),
                    ("2001:db8:2::9", SUBS[2][0]), ("2001:db8:2::abcd:1234", SUBS[2][0]), ("2001:db8:3::1", None),
                    ("10.0.0.1", "alice"), ("10.45.0.9", None), ("10.9.9.9", None)):
        c.check(cloud.user_of(ip) == who, tag + "user_of(%s) = %r, expected %r" % (ip, cloud.user_of(ip), who))
    for addr, teid, who in (("192.0.2.1", 1001, SUBS[0][0]), ("192.0.2.2", "2002", SUBS[1][0]),
                            ("2001:DB8:FF::1", 3003, SUBS[2][0]), ("2001:db8:ff::2", 0xfa3, SUBS[2][0]),
                            ("192.0.2.1", 1009, None), ("192.0.2.1", 9999, None)):
        got = cloud.subscriber_of_teid(addr, teid)
        c.check(got == who, tag + "subscriber_of_teid(%s, %r) = %r, expected %r" % (addr, teid, got, who))

    # mcquery subscribers
    rc, out, err = mcquery(cli_args + ["subscribers"])
    lines = out.splitlines()
    c.check(rc == 0 and lines and lines[0].split() == ["IMSI", "MSISDN", "APN", "RAT", "IP", "IP6", "SENT_PKT",
                                                       "RCVD_PKT", "SENT_BYTES", "RCVD_BYTES", "LAST_SEEN"]
            and [x.split()[0] for x in lines[1:]] == sorted(active + [carol["imsi"]]),
            tag + "mcquery subscribers: rc %d %r %s" % (rc, lines, err[-300:]))
    rows = {x.split()[0]: x.split() for x in lines[1:]}
    r = rows.get(SUBS[2][0], [])
    c.check(r[1:] == ["-", "v6only", "-", "2001:db8:2::9", "2001:db8:2::9", "5.00M", "7.00M", "5.00GiB", "9.00GiB",
                      mcquery_iso(NOW)], tag + "mcquery subscribers, the IPv6 UE: %r" % r)
    r = rows.get(SUBS[1][0], [])
    c.check(r[1:6] == ["393330000002", "ims", "UTRAN", "10.45.0.2", "2001:db8:1::2"] and r[7] == "0",
            tag + "mcquery subscribers, the IPv4v6 UE: %r" % r)
    rc, out, err = mcquery(cli_args + ["subscribers", "--all", "--raw"])
    rows = {x.split()[0]: x.split() for x in out.splitlines()[1:]}
    c.check(rc == 0 and sorted(rows) == sorted(list(want) + [carol["imsi"]])
            and rows[LINGER[0]][4:6] == ["-", "-"] and rows[SUBS[2][0]][8] == str(5 * 1024 ** 3),
            tag + "mcquery subscribers --all --raw: %r %s" % (out[-400:], err[-300:]))
    rc, out, err = mcquery(cli_args + ["--json", "subscribers", "--all"])
    got = json.loads(out or "null") if rc == 0 else None
    c.check(got == cloud.subscribers(active=False), tag + "mcquery --json subscribers --all: %r %s" % (out[:300], err))
    rc, out, err = mcquery(cli_args + ["subscribers", "--top", "1", "--sort", "bytes", "--json"])
    c.check(rc == 0 and [x["imsi"] for x in json.loads(out or "[]")] == [SUBS[2][0]],
            tag + "mcquery subscribers --top 1 --sort bytes: %r %s" % (out, err))

    # mcquery subscriber
    rc, out, err = mcquery(cli_args + ["--json", "subscriber", SUBS[0][0]])
    c.check(rc == 0 and json.loads(out or "null") == want[SUBS[0][0]], tag + "mcquery --json subscriber: %r %s" % (
        out, err))
    rc, out, err = mcquery(cli_args + ["subscriber", SUBS[0][0]])
    f = dict(x.split(None, 1) for x in out.splitlines() if " " in x)
    c.check(rc == 0 and f.get("imsi") == SUBS[0][0] and f.get("mnc") == "01" and f.get("eci") == "305419896"
            and f.get("teids") == "192.0.2.1:1001,192.0.2.2:2001" and f.get("sent_bytes") == "1.46KiB"
            and f.get("since") == mcquery_iso(NOW - 10000) and "ip6" not in f,
            tag + "mcquery subscriber IMSI: %r %s" % (out, err))
    rc, out2, err = mcquery(cli_args + ["subscriber", "2001:db8:1::2"])
    rc1, out1, _ = mcquery(cli_args + ["subscriber", SUBS[1][0]])
    c.check(rc == 0 and rc1 == 0 and out2 == out1 and SUBS[1][0] in out2,
            tag + "mcquery subscriber UE-ADDRESS: %r %s" % (out2, err))
    rc, out, err = mcquery(cli_args + ["subscriber", LINGER[0]])
    c.check(rc == 0 and "10.45.0.9" not in out and "393330000009" in out,
            tag + "mcquery subscriber LINGERING: %r" % out)
    rc, out, err = mcquery(cli_args + ["subscriber", "001010000000099"])
    c.check(rc == 1 and "no such subscriber" in err and not out, tag + "mcquery subscriber UNKNOWN: %d %r" % (rc, err))
    rc, out, err = mcquery(cli_args + ["subscriber", "10.0.0.1"])
    c.check(rc == 1 and "no subscriber" in err, tag + "mcquery subscriber PLAIN-USER-ADDRESS: %d %r" % (rc, err))
    rc, out, err = mcquery(cli_args + ["--json", "subscriber", "10.0.0.3"])
    c.check(rc == 0 and json.loads(out or "null") == carol, tag + "mcquery subscriber of carol's address: %r" % out)
    rc, out, err = mcquery(cli_args + ["subscriber", "imsi"])
    c.check(rc == 2 and "Traceback" not in err, tag + "mcquery subscriber BAD: %d %r" % (rc, err))
    rc, out, err = mcquery(cli_args + ["user", "10.45.0.1"])  # the `user-of` question: `user IP`
    c.check(rc == 0 and out.splitlines()[0].split() == ["id", SUBS[0][0]], tag + "mcquery user UE-ADDRESS: %r" % out)


def mcquery_iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def check_watch(name, w, node_args, raw, need):
    """subscriber_watch.py prints each published session event, and with --imsi that subscriber's counters."""
    tag = "[%s] " % name
    imsi, attrs, v4, v6, teids, counters = SUBS[0]
    uk = w.k("user." + imsi)  # the watched subscriber afresh, in the cloud the watcher reads
    w.on(uk).delete(uk)
    w.session(imsi, attrs, v4, v6, teids, NOW)
    w.counters(imsi, counters)
    p = subprocess.Popen(["/usr/bin/python3", "-u", WATCH, "--imsi", imsi, "--interval", "0.3", "--idle-timeout",
                          "3"] + node_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 15
    while time.time() < deadline and sum(r.pubsub_numpat() for r in raw) < need:
        time.sleep(0.05)
    c.check(sum(r.pubsub_numpat() for r in raw) >= need, tag + "subscriber_watch.py never subscribed")
    base = {"imsi": imsi, "msisdn": attrs["msisdn"], "imei": attrs["imei"], "apn": attrs["apn"], "rat": attrs["rat"],
            "gtp_version": 2, "ip": v4, "teids": ",".join(teids), "since": NOW}
    v6ev = {"imsi": SUBS[2][0], "msisdn": "", "imei": "", "apn": "v6only", "rat": "", "gtp_version": 1,
            "ip6": SUBS[2][3], "teids": ",".join(SUBS[2][4]), "since": NOW}
    w.event("create", dict(base, ts=NOW))
    w.event("create", dict(v6ev, ts=NOW + 1))
    time.sleep(0.8)  # counter lines while the session lives
    w.event("update", dict(base, teids="192.0.2.7:7001,192.0.2.2:2001", ts=NOW + 2))
    w.counters(imsi, {"sent_pkt": 5})
    time.sleep(0.5)
    w.event("delete", dict(base, reason="delete", ts=NOW + 3))
    w.event("delete", dict(v6ev, reason="aged", ts=NOW + 4))
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        c.check(False, tag + "subscriber_watch.py did not stop after --idle-timeout")
    lines = out.decode().splitlines()
    ev = [x for x in lines if " counters " not in x]
    kinds = [(x.split()[1], x.split()[2]) for x in ev]
    c.check(kinds == [("create", imsi), ("create", SUBS[2][0]), ("update", imsi), ("delete", imsi),
                      ("delete", SUBS[2][0])], tag + "subscriber_watch.py events: %r %s" % (ev, err[-300:]))
    c.check(len(ev) == 5 and "apn internet" in ev[0] and "rat EUTRAN" in ev[0] and "ip 10.45.0.1" in ev[0]
            and "ip6 2001:db8:2::9" in ev[1] and "teids 192.0.2.7:7001" in ev[2] and "(delete)" in ev[3]
            and "(aged)" in ev[4] and ev[0].startswith(mcquery_iso(NOW)[11:]),
            tag + "subscriber_watch.py lines: %r" % ev)
    cnt = [x for x in lines if " counters %s " % imsi in x]
    sent = [int(m.group(1)) for m in (re.search(r"sent (\d+) pkt", x) for x in cnt) if m]
    c.check(len(cnt) >= 3 and sent and sent[0] >= counters["sent_pkt"] and sent[-1] >= counters["sent_pkt"] + 5
            and "rcvd 20 pkt 30000 B" in cnt[0], tag + "subscriber_watch.py counters: %r" % cnt)
    c.check(p.returncode == 0 and b"Traceback" not in err, tag + "subscriber_watch.py rc %d %r" % (p.returncode, err))


def main():
    t0 = time.time()
    # one node on a unix socket
    one = mcredis.Server(unix=True)
    r = one.client(decode=True)
    cloud = Cloud(nodes=one.addr)
    w = Writer("", nodes=[r])
    check_topology("one node", cloud, w, ["--redis", one.addr], [r], lambda k: r)
    check_watch("one node", w, ["--redis", one.addr], [r], 1)
    cloud.close()
    one.stop()
    print("one node done in %.1fs" % (time.time() - t0))

    # three sharded standalone nodes, prefix mc:
    three = [mcredis.Server(unix=False) for _ in range(3)]
    raws = [s.client(decode=True) for s in three]
    nodes = ",".join(s.addr for s in three)
    cloud = Cloud(nodes=nodes, prefix="mc:")
    w = Writer("mc:", nodes=raws)
    check_topology("three nodes", cloud, w, ["--redis", nodes, "--cloud-prefix", "mc:"], raws, w.on)
    bare = Writer("", nodes=raws)  # the watcher reads without a prefix: the same nodes, another cloud
    check_watch("three nodes", bare, ["--redis", nodes], raws, 3)
    cloud.close()
    for s in three:
        s.stop()
    print("three nodes done in %.1fs" % (time.time() - t0))

    # a 3-master Redis Cluster, prefix t:
    cluster = mcredis.Cluster(3)
    try:
        seed = cluster.seed
        rc_client = RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port, decode_responses=True)
        cloud = Cloud(cluster=seed, prefix="t:")
        w = Writer("t:", cluster=rc_client)
        check_topology("cluster", cloud, w, ["--redis-cluster", seed, "--cloud-prefix", "t:"],
                       [rc_client], lambda k: rc_client)
        check_watch("cluster", Writer("", cluster=rc_client), ["--redis-cluster", seed],
                    [n.client() for n in cluster.nodes], 1)
        cloud.close()
        rc_client.close()
    finally:
        cluster.stop()
    print("cluster done in %.1fs" % (time.time() - t0))


try:
    main()
except Exception:
    import traceback
    traceback.print_exc()
    c.check(False, "the test stopped on an exception")
c.done()  # every redis-server started is killed at exit (mcredis)
