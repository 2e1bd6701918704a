#!/usr/bin/python3
"""The analyzers' cloud aggregates equal their transactions, on real captures.

Every DNS and HTTP capture of ../shared/corpus is metered with --redis (a
private redis-server) and --l7-log; the aggregates the probe wrote must be
what its own transaction log adds up to:
  dns.name.<qname>   queries, responses, nxdomain, servfail (names lowercased)
  dns.top.<minute>   per-minute query counts of each name
  dns.client.<addr>  queries per client
  http.host.<host>   requests and responses per status class
and every such key has a TTL.  mcquery's `dns top`, `dns name` and `http
hosts` print the same numbers.  Skipped when ../shared/corpus is absent.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mcredis  # noqa: E402
import mctest  # noqa: E402

MCQUERY = os.path.join(mctest.SRC, "python", "mcquery")


def expected(tx):
    names = collections.defaultdict(collections.Counter)
    top = collections.defaultdict(collections.Counter)
    clients = collections.Counter()
    hosts = collections.defaultdict(collections.Counter)
    for t in tx:
        if t.get("protocol") == "dns":
            q = t.get("dnsQueryName", "").lower()
            if not q or q == "<root>":
                continue
            has_resp = "dnsResponseCode" in t
            has_query = "dnsResponseTimeMs" in t or not has_resp
            if has_query:
                names[q]["queries"] += 1
                top[t["transactionStartMilliseconds"] // 60000][q] += 1
                # the log keeps the flow's orientation; a flow first seen with its answer has the server as source
                swapped = t["sourceTransportPort"] == 53 and t["destinationTransportPort"] != 53
                side = "destination" if swapped else "source"
                clients[t.get(side + "IPv4Address") or t.get(side + "IPv6Address")] += 1
            if has_resp:
                names[q]["responses"] += 1
                if t["dnsResponseCode"] == 3:
                    names[q]["nxdomain"] += 1
                if t["dnsResponseCode"] == 2:
                    names[q]["servfail"] += 1
        elif t.get("protocol") == "http":
            h = t.get("httpRequestHost", "").lower()
            if not h or "httpRequestMethod" not in t:
                continue
            hosts[h]["requests"] += 1
            if "httpStatusCode" in t:
                hosts[h]["status_%dxx" % (t["httpStatusCode"] // 100)] += 1
    return names, top, clients, hosts


def main():
    mctest.need_corpus()
    mctest.need_tool("redis-server")
    import redis
    caps = mctest.corpus_captures("dns") + mctest.corpus_captures("http")
    if not caps:
        mctest.skip("no DNS or HTTP capture in the corpus")
    c = mctest.Checker()
    srv = mcredis.Server(unix=True)
    r = redis.Redis(unix_socket_path=srv.sock, decode_responses=True)
    wd = tempfile.mkdtemp(prefix="mccloudl7")
    compared = 0
    for cap in caps:
        r.flushall()
        log = os.path.join(wd, "l7.json")
        if os.path.exists(log):
            os.unlink(log)
        mctest.run_probe(["-i", cap, "--redis", srv.addr, "--l7-log", log, "--cloud-flush-ms", "100"])
        tx = [json.loads(line) for line in open(log) if line.strip()]
        names, top, clients, hosts = expected(tx)
        base = os.path.basename(cap)
        for q, want in names.items():
            got = r.hgetall("dns.name." + q)
            if not got:
                # a name with characters a key may not hold is counted, not written (see analyzers-dns.md)
                continue
            compared += 1
            for f in ("queries", "responses", "nxdomain", "servfail"):
                c.check(int(got.get(f, 0)) == want[f], "%s dns.name.%s %s: %s, log says %d" % (base, q, f, got.get(f),
                                                                                              want[f]))
            c.check(r.pttl("dns.name." + q) > 0, "%s dns.name.%s has a TTL" % (base, q))
        for minute, counts in top.items():
            got = {m: int(s) for m, s in r.zrange("dns.top.%d" % minute, 0, -1, withscores=True)}
            for q, n in counts.items():
                if r.exists("dns.name." + q):
                    c.check(got.get(q) == n, "%s dns.top.%d %s: %s, log says %d" % (base, minute, q, got.get(q), n))
        for addr, n in clients.items():
            got = r.hget("dns.client." + addr, "queries")
            c.check(got is not None and int(got) == n, "%s dns.client.%s queries: %s, log says %d" % (base, addr, got, n))
        for h, want in hosts.items():
            got = r.hgetall("http.host." + h)
            if not got:
                continue
            compared += 1
            for f in ("requests", "status_1xx", "status_2xx", "status_3xx", "status_4xx", "status_5xx"):
                c.check(int(got.get(f, 0)) == want[f], "%s http.host.%s %s: %s, log says %d" % (base, h, f, got.get(f),
                                                                                               want[f]))
            c.check(r.pttl("http.host." + h) > 0, "%s http.host.%s has a TTL" % (base, h))
        # mcquery reads the same
        if names:
            q = max(names, key=lambda k: names[k]["queries"])
            out = subprocess.run(["/usr/bin/python3", MCQUERY, "--redis", srv.addr, "--json", "dns", "name", q],
                                 stdout=subprocess.PIPE).stdout.decode()
            if r.exists("dns.name." + q):
                c.check(json.loads(out).get("queries") == names[q]["queries"], "%s mcquery dns name %s" % (base, q))
            minute = max(top)
            out = subprocess.run(["/usr/bin/python3", MCQUERY, "--redis", srv.addr, "--json", "dns", "top", "--minute",
                                  str(minute), "--count", "0"], stdout=subprocess.PIPE).stdout.decode()
            rows = {x["name"]: x["queries"] for x in json.loads(out)}
            c.check(all(rows.get(k) == v for k, v in top[minute].items() if r.exists("dns.name." + k)),
                    "%s mcquery dns top --minute %d" % (base, minute))
        if hosts:
            out = subprocess.run(["/usr/bin/python3", MCQUERY, "--redis", srv.addr, "--json", "http", "hosts"],
                                 stdout=subprocess.PIPE).stdout.decode()
            rows = {x["host"]: x.get("requests", 0) for x in json.loads(out)}
            c.check(all(rows.get(h) == w["requests"] for h, w in hosts.items() if r.exists("http.host." + h)),
                    "%s mcquery http hosts" % base)
    if compared == 0:
        mctest.skip("no aggregate compared (no DNS or HTTP transaction in the corpus)")
    print("%d keys compared" % compared)
    c.done()


if __name__ == "__main__":
    main()
