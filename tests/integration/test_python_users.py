#!/usr/bin/python3
"""Users learned outside the probes (RADIUS, DHCP, ...) and written with the
Python package (Cloud.set_user / remove_user) are exported by a probe running
with --redis, on one node, three standalone nodes (with a key prefix) and a
3-master Redis Cluster.

For each topology, before a probe meters mixed/ndpi_1kxun.pcap:
  * set_user binds carol (a mobile subscriber: imsi, msisdn) to 192.168.2.126
    and alice to 192.168.115.8 (given with blanks around it);
  * on the standalone nodes, each user key is on the node `mcprobe
    --cloud-locate` names (the C mapping), and on no other;
  * the flows of 192.168.2.126 still open at the end of the capture (resolved
    before they are exported) carry userName carol, mobileIMSI and
    mobileMSISDN; no flow of a client without a user carries one;
then remove_user(carol) and a second run: none of her flows carries her.

Run from tests/integration/test_python_venv.py too, with the package installed
in a virtual environment (tests/lib/mcpy.py).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402
import mcpy  # noqa: E402

CAPTURE = "mixed/ndpi_1kxun.pcap"
CAROL_IP, ALICE_IP = "192.168.2.126", "192.168.115.8"
IMSI, MSISDN = "001010000000042", "393330000042"


def locate(nodes_arg, keys):
    """{key: node index} as mcprobe computes it (--cloud-locate)."""
    r = subprocess.run([mctest.MCPROBE, "--redis", nodes_arg] + ["--cloud-locate=" + k for k in keys],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        parts = line.rsplit(" ", 2)
        if len(parts) == 3:
            out[parts[0]] = int(parts[1])
    return out


def run_probe(c, name, redis_args, tag):
    work = tempfile.mkdtemp(prefix="mcpyusers")
    jpath = os.path.join(work, "flows.json")
    rc, err = mctest.run_probe(["-i", os.path.join(mctest.CORPUS, CAPTURE), "--probe-id", "pyu-" + tag,
                                "--json", jpath] + redis_args, check=False)
    c.check(rc == 0, "%s: mcprobe: rc %d, %s" % (name, rc, err[-300:]))
    return [json.loads(line) for line in open(jpath)] if rc == 0 else []


def check_topology(c, name, cloud, redis_args, raw_nodes=None):
    cloud.set_user("carol", CAROL_IP, imsi=IMSI, msisdn=MSISDN, source="radius")
    cloud.set_user("alice", " %s\n" % ALICE_IP, source="dhcp")  # as read from a lease file
    if raw_nodes is not None:  # standalone: where the probe looks is where Python wrote
        keys = [cloud.key(k) for k in ("user.carol", "user.ip." + CAROL_IP, "user.alice", "user.ip." + ALICE_IP)]
        where = locate(",".join(cloud.nodes), keys)
        c.check(len(where) == len(keys), "%s: mcprobe --cloud-locate answered %r" % (name, where))
        for k in keys:
            holders = [i for i, r in enumerate(raw_nodes) if r.exists(k)]
            c.check(holders == [where.get(k)], "%s: %s is on node(s) %s, the probe looks on node %s" % (
                name, k, holders, where.get(k)))
        if len(raw_nodes) > 1:
            c.check(len({where.get(k) for k in keys}) > 1, "%s: every user key on one node: routing untested" % name)
    flows = run_probe(c, name, redis_args, "1")
    carol_open = [f for f in flows if f.get("sourceIPv4Address") == CAROL_IP and f.get("flowEndReason") == 4]
    got = {(f.get("userName"), f.get("mobileIMSI"), f.get("mobileMSISDN")) for f in carol_open}
    c.check(len(carol_open) > 0 and got == {("carol", IMSI, MSISDN)},
            "%s: the %d open flows of %s carry %s, not carol set through Python" % (name, len(carol_open), CAROL_IP,
                                                                                      got))
    alice = {f.get("userName") for f in flows if f.get("sourceIPv4Address") == ALICE_IP}
    c.check(alice <= {"alice", ""}, "%s: flows of %s carry users %s" % (name, ALICE_IP, alice))
    others = {f.get("userName") for f in flows if f.get("sourceIPv4Address") not in (CAROL_IP, ALICE_IP)}
    c.check(others <= {""}, "%s: flows of clients without a user carry %s" % (name, others))
    c.check(cloud.remove_user("carol") is True and cloud.user_of(CAROL_IP) is None, "%s: remove_user(carol)" % name)
    flows = run_probe(c, name, redis_args, "2")
    got = {f.get("userName") for f in flows if f.get("sourceIPv4Address") == CAROL_IP}
    c.check(flows and got <= {""}, "%s: after remove_user the flows of %s carry %s" % (name, CAROL_IP, got))
    cloud.remove_user("alice")


def main():
    mcredis.need_redis()
    mctest.need_corpus()
    if not os.path.exists(os.path.join(mctest.CORPUS, CAPTURE)):
        mctest.skip("%s is not in the corpus" % CAPTURE)
    if not os.access(mctest.MCPROBE, os.X_OK):
        mctest.skip("no mcprobe at %s (set MCPROBE)" % mctest.MCPROBE)
    print("microcloud from %s" % mcpy.check_installed())
    from microcloud import Cloud
    c = mctest.Checker()
    one = mcredis.Server(unix=True)
    check_topology(c, "one node", Cloud(nodes=one.addr), ["--redis", one.addr], [one.client(decode=False)])
    one.stop()
    three = [mcredis.Server(unix=False) for _ in range(3)]
    nodes = ",".join(s.addr for s in three)
    check_topology(c, "three nodes", Cloud(nodes=nodes, prefix="site1:"),
                   ["--redis", nodes, "--cloud-prefix", "site1:"], [s.client(decode=False) for s in three])
    for s in three:
        s.stop()
    cluster = mcredis.Cluster(3)
    try:
        check_topology(c, "cluster", Cloud(cluster=cluster.seed), ["--redis-cluster", cluster.seed])
    finally:
        cluster.stop()
    c.done()


if __name__ == "__main__":
    main()
