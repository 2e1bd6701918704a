#!/usr/bin/python3
"""mccollector's ClickHouse store against real clickhouse-server instances (Debian's, started here on
loopback with private configurations and data directories; skipped when it is not installed).

1. One node.  mcprobe exports corpus captures to two collectors at once, one
   keeping an SQLite file, one writing to ClickHouse (--clickhouse): every
   `mcquery flows` question (the listing, --since, --host, --top talkers,
   ports and apps, as tables and JSON) gets the same answer from both stores,
   and the rows are the same rows.
2. The insert rate: tests/unit/collector/test_store_clickhouse.c writes a
   million rows to the server (MC_TEST_CLICKHOUSE) and prints the rate.
3. Retention: rows of three days ago go (their day's partition dropped, the
   rows counted), today's stay.
4. ClickHouse killed mid-run (SIGKILL): the collector keeps receiving,
   counts its failed tries, holds the flows and writes them all once the
   server is back; with a queue of 1,000 flows, what is beyond is dropped
   and counted, the rest written after the restart.
5. Two shards behind a Distributed table, set up with the SQL and the
   configuration of docs/COLLECTOR.md ("ClickHouse"): the collector writes to
   it, both shards get rows, and mcquery's answers are the SQLite store's.
"""
import difflib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

MCCOLLECTOR = os.environ.get("MCCOLLECTOR", os.path.join(mctest.SRC, "build", "release", "mccollector"))
MCQUERY = ["/usr/bin/python3", os.path.join(mctest.SRC, "python", "mcquery")]
BUILD = os.environ.get("MC_BUILD", os.path.dirname(MCCOLLECTOR))
CAPTURES = ["mixed/ndpi_1kxun.pcap", "mixed/ndpi_iphone.pcap", "ipv6/ndpi_http_ipv6.pcap"]  # apps, IPv4 and IPv6
DOC = os.path.join(mctest.SRC, "docs", "COLLECTOR.md")


def server_binary():
    for p in (shutil.which("clickhouse-server"), "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"):
        if p and os.path.exists(p):
            return p
    return None


CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/err.log</errorlog>
        <size>10M</size><count>1</count></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <interserver_http_port>{inter}</interserver_http_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>64</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>32</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default></quotas>
</yandex>
"""


class ClickHouse:
    """A private clickhouse-server: its own directory, loopback ports, no password."""

    def __init__(self, work, name, tcp=None, extra_config=None):
        self.dir = os.path.join(work, name)
        for sub in ("log", "data", "tmp", "user_files", "format_schemas", "config.d"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.http = mctest.free_port()
        self.tcp = tcp or mctest.free_port()
        self.config = os.path.join(self.dir, "config.xml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(d=self.dir, http=self.http, tcp=self.tcp, inter=mctest.free_port()))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(USERS)
        if extra_config:  # config.d/ beside config.xml: read by the server with it
            with open(os.path.join(self.dir, "config.d", "extra.xml"), "w") as f:
                f.write(extra_config)
        self.proc = None
        self.start()

    def url(self, db):
        return "http://127.0.0.1:%d/%s" % (self.http, db)

    def start(self):
        out = open(os.path.join(self.dir, "log", "stdout"), "ab")
        self.proc = subprocess.Popen([server_binary(), "--config-file=" + self.config], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        out.close()
        end = time.time() + 60
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("clickhouse-server %s exited (%d): %s" % (self.dir, self.proc.returncode,
                                                                           self.log_tail()))
            try:
                if self.query("SELECT 1").strip() == "1":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("clickhouse-server %s did not answer in 60 s: %s" % (self.dir, self.log_tail()))

    def log_tail(self):
        try:
            return open(os.path.join(self.dir, "log", "err.log"), errors="replace").read()[-800:]
        except OSError:
            return "(no log)"

    def query(self, sql, db=None):
        params = {"database": db} if db else {}
        req = urllib.request.Request("http://127.0.0.1:%d/?%s" % (self.http, urllib.parse.urlencode(params)),
                                     data=sql.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def count(self, table, db):
        return int(self.query("SELECT count() FROM %s" % table, db))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Collector:
    """mccollector on a UDP port of 127.0.0.1; its log in a file (never a pipe that could fill)."""

    def __init__(self, work, name, store_args):
        self.port = mctest.free_port(socket.SOCK_DGRAM)
        self.log = os.path.join(work, name + ".log")
        self.counters = os.path.join(work, name + ".counters")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([MCCOLLECTOR, "-p", str(self.port), "-b", "127.0.0.1", "--stats-interval",
                                      "0", "--counters", self.counters] + store_args,
                                     stdout=subprocess.DEVNULL, stderr=self.logf)
        if not self.wait_log(r"listening on 127\.0\.0\.1", 0, 30):
            raise RuntimeError("mccollector %s did not start: %s" % (name, self.text()[-500:]))

    def text(self):
        return open(self.log, errors="replace").read()

    def wait_log(self, pattern, offset, timeout):
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, self.text()[offset:])
            if m:
                return m
            if self.proc.poll() is not None:
                return None
            time.sleep(0.1)
        return None

    def stats(self):
        """SIGUSR1's statistics line: datagrams, stored, dropped, errors."""
        offset = len(self.text())
        self.proc.send_signal(signal.SIGUSR1)
        m = self.wait_log(r"stats: datagrams (\d+) .*stored (\d+), store dropped (\d+), store errors (\d+)", offset,
                          10)
        if not m:
            raise RuntimeError("no statistics line: %s" % self.text()[-500:])
        return dict(zip(("datagrams", "stored", "dropped", "errors"), map(int, m.groups())))

    def wait_stored(self, want, timeout=30):
        end = time.time() + timeout
        st = self.stats()
        while st["stored"] < want and time.time() < end:
            time.sleep(0.3)
            st = self.stats()
        return st

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.logf.close()
        ctr = {}
        if os.path.exists(self.counters):
            for line in open(self.counters):
                name, value = line.split()
                ctr[name] = int(value)
        return self.proc.returncode, ctr


def nf5(seq, unix_secs, n=30, net=0):
    """A NetFlow v5 datagram of n records 10.net.x.y -> 192.0.2.1:443 (TCP), sent at unix_secs."""
    hdr = struct.pack("!HHIIIIBBH", 5, n, 100000, unix_secs, 0, seq, 0, 0, 0)
    recs = b""
    for k in range(n):
        i = seq + k
        recs += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", bytes([10, net, (i >> 8) & 255, i & 255]),
                            bytes([192, 0, 2, 1]), bytes(4), 1, 2, 3, 300, 90000, 95000, 40000 + k, 443, 0, 0x1b, 6,
                            0, 0, 0, 0, 0, 0)
    return hdr + recs


def send_nf5(port, count, first_seq=0, unix_secs=None, net=0):
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        tx.sendto(nf5(first_seq + 30 * i, int(unix_secs or time.time()), net=net), ("127.0.0.1", port))
        time.sleep(0.002)
    tx.close()


def captures():
    paths = []
    for c in CAPTURES:
        p = os.path.join(mctest.CORPUS, c)
        if c.endswith("/"):
            found = sorted(x for x in os.listdir(p) if x.endswith((".pcap", ".pcapng"))) if os.path.isdir(p) else []
            if found:
                paths.append(os.path.join(p, found[0]))
        elif os.path.exists(p):
            paths.append(p)
    return paths


def export(paths, collectors):
    """mcprobe meters each capture and sends its IPFIX biflows to every collector at once."""
    for p in paths:
        args = ["-i", p, "-V", "10", "--biflow", "--export-pps", "5000"]
        for col in collectors:
            args += ["-n", "127.0.0.1:%d" % col.port]
        mctest.run_probe(args)


def mcquery(*argv):
    p = subprocess.run(MCQUERY + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       env=dict(os.environ, MC_REDIS="127.0.0.1:1"))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def compare_stores(c, label, db, url):
    """Every mcquery flows question, asked of the SQLite file db and of the ClickHouse URL."""
    rc, out, err = mcquery("flows", "--store", db, "--json", "-n", "1000000")
    rows = json.loads(out) if rc == 0 else []
    c.check(rc == 0 and len(rows) > 100, "%s: the SQLite store holds the flows (%d): %s" % (label, len(rows), err))
    if not rows:
        return
    starts = sorted(r["start_ms"] for r in rows)
    since = str(starts[len(starts) // 2] / 1000.0)
    rc, out, _ = mcquery("flows", "--store", db, "--top", "talkers", "--json", "-n", "1")
    host = json.loads(out)[0]["addr"]
    v6 = next((r["src"] for r in rows if r["ip_version"] == 6), None)
    questions = [[], ["-n", "1000000"], ["--since", since, "-n", "1000000"], ["--host", host, "-n", "1000000"],
                 ["--top", "talkers"], ["--top", "ports"], ["--top", "apps"], ["--top", "talkers", "--host", host],
                 ["--top", "ports", "--since", since, "-n", "50"], ["--top", "apps", "-n", "100"],
                 ["--top", "talkers", "--host", host, "--since", since, "-n", "1000"]]
    if v6:
        questions.append(["--host", v6, "-n", "1000"])
        questions.append(["--top", "talkers", "--host", v6])
    for q in questions:
        for form in ([], ["--json"], ["--raw"]):
            a = mcquery("flows", "--store", db, *(q + form))
            b = mcquery("flows", "--clickhouse", url, *(q + form))
            ok = a[0] == 0 and b[0] == 0
            x, y = a[1], b[1]
            if ok and form == ["--json"] and "--top" not in q:
                # each collector got the records from a socket of its own: the exporter's port differs
                x, y = (json.dumps([dict(r, exporter=r["exporter"].rsplit(":", 1)[0]) for r in json.loads(t)],
                                   sort_keys=True) for t in (x, y))
            same = ok and x == y
            if ok and not same and "--top" not in q:
                # flows that started in the same millisecond come in either order: the same rows, then
                if form == ["--json"]:
                    x, y = (sorted(json.dumps(r, sort_keys=True) for r in json.loads(t)) for t in (x, y))
                else:  # and the table's columns widen as its rows come: the same words, then
                    x, y = (sorted(" ".join(line.split()) for line in t.splitlines()) for t in (x, y))
                same = x == y
            c.check(same, "%s: mcquery flows %s: the same answer from SQLite and ClickHouse (%s%s)" %
                    (label, " ".join(q + form), b[2].strip()[:200], a[2].strip()[:200]))
            if ok and not same:
                xs = x.splitlines() if isinstance(x, str) else x
                ys = y.splitlines() if isinstance(y, str) else y
                print("\n".join(list(difflib.unified_diff(xs, ys, "sqlite", "clickhouse", lineterm="", n=0))[:12]))
    print("   %s: %d flows, %d questions asked of both stores, as tables and JSON" % (label, len(rows),
                                                                                     len(questions)))


def doc_blocks():
    """docs/COLLECTOR.md's "## ClickHouse" code blocks: (language, text) in order."""
    text = open(DOC).read()
    sec = re.search(r"^## ClickHouse\n(.*?)^## ", text, re.S | re.M).group(1)
    return re.findall(r"```(\w+)\n(.*?)```", sec, re.S)


def statements(sql):
    return [s.strip() for s in sql.split(";") if s.strip()]


def part_one_node(c, work, ch, paths):
    db = os.path.join(work, "flows.db")
    a = Collector(work, "sqlite", ["--store", db, "--retention", "0"])
    b = Collector(work, "clickhouse", ["--clickhouse", ch.url("mc"), "--retention", "0"])
    c.check(re.search(r"ClickHouse 18\.|ClickHouse \d+\.", b.text()) is not None,
            "the collector names the server's version at start: %s" % b.text()[-300:])
    export(paths, [a, b])
    time.sleep(1.0)
    rca, ctra = a.stop()
    rcb, ctrb = b.stop()
    c.check(rca == 0 and rcb == 0, "both collectors exit 0 (%s, %s)" % (rca, rcb))
    c.check(ctra.get("store.rows", 0) > 100 and ctra.get("store.rows") == ctrb.get("store.rows"),
            "both stores wrote every flow received: SQLite %s, ClickHouse %s rows" %
            (ctra.get("store.rows"), ctrb.get("store.rows")))
    c.check(ctrb.get("store.errors", -1) == 0 and ctrb.get("store.dropped", -1) == 0,
            "ClickHouse: no error, nothing dropped (%s, %s)" % (ctrb.get("store.errors"), ctrb.get("store.dropped")))
    c.check(ch.count("flows", "mc") == ctrb.get("store.rows"), "the table holds store.rows rows")
    engine = ch.query("SELECT engine FROM system.tables WHERE database = 'mc' AND name = 'flows'").strip()
    c.check(engine == "MergeTree", "the collector made a MergeTree table: %r" % engine)
    compare_stores(c, "one node", db, ch.url("mc"))
    rc, _, err = mcquery("flows", "--clickhouse", ch.url("nosuchdb"))
    c.check(rc == 1 and "no table flows in database nosuchdb" in err, "mcquery flows on a database without the table: exit 1 (%s)" %
            err.strip())
    return db


def part_rate(c, ch):
    test = os.path.join(BUILD, "tests", "unit_collector_test_store_clickhouse")
    if not os.path.exists(test):
        print("   (no %s: the insert rate is not measured)" % test)
        return
    p = subprocess.run([test], env=dict(os.environ, MC_TEST_CLICKHOUSE=ch.url("bench")), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode(errors="replace")
    m = re.search(r"clickhouse store: (\d+) rows in ([\d.]+) s = (\d+) rows/s", out)
    # on failure, cmocka's own lines say which check: they come well before the summary's tail
    why = [l for l in out.splitlines() if "[  ERROR" in l or "[  FAILED" in l or "Failure" in l or "error:" in l]
    c.check(p.returncode == 0 and m is not None, "a million rows written to a real server: %s" %
            ("\n".join(why[:8]) or out[-400:]))
    if m:
        print("   insert rate: %s rows in %s s = %s rows/s (one core for the collector's side, the server on the "
              "same 2 cores)" % m.groups())


def part_retention(c, work, ch):
    old = int(time.time()) - 3 * 86400
    w = Collector(work, "ret-write", ["--clickhouse", ch.url("ret"), "--retention", "0"])
    send_nf5(w.port, 10, unix_secs=old)
    send_nf5(w.port, 10, first_seq=1000)
    st = w.wait_stored(600)
    w.stop()
    c.check(st["stored"] == 600, "retention: 300 rows of three days ago, 300 of now (%d stored)" % st["stored"])
    r = Collector(work, "ret-purge", ["--clickhouse", ch.url("ret"), "--retention", "1d"])
    end = time.time() + 20
    while time.time() < end and ch.count("flows", "ret") > 300:
        time.sleep(0.3)
    _, ctr = r.stop()
    left = ch.count("flows", "ret")
    oldest = int(ch.query("SELECT min(start_ms) FROM flows", "ret"))
    c.check(left == 300 and oldest > (time.time() - 86400) * 1000,
            "retention 1d: the day of three days ago dropped, today's rows kept (%d left)" % left)
    c.check(ctr.get("store.retention.runs", 0) >= 1 and ctr.get("store.retention.removed") == 300,
            "retention counted: %s runs, %s rows removed" % (ctr.get("store.retention.runs"),
                                                             ctr.get("store.retention.removed")))


def part_killed(c, work, ch):
    k = Collector(work, "killed", ["--clickhouse", ch.url("killed"), "--retention", "0"])
    send_nf5(k.port, 50)
    st = k.wait_stored(1500)
    c.check(st["stored"] == 1500, "before the kill: 1500 flows stored (%d)" % st["stored"])
    ch.kill()
    send_nf5(k.port, 100, first_seq=5000)
    time.sleep(3)
    st = k.stats()
    c.check(st["datagrams"] == 150 and st["stored"] == 1500 and st["errors"] >= 1 and st["dropped"] == 0,
            "ClickHouse killed: the collector keeps receiving (%d datagrams), holds the flows (%d stored, %d "
            "dropped) and counts its failed tries (%d)" % (st["datagrams"], st["stored"], st["dropped"],
                                                           st["errors"]))
    c.check(k.proc.poll() is None, "the collector runs on")
    ch.start()
    st = k.wait_stored(4500)
    c.check(st["stored"] == 4500 and ch.count("flows", "killed") == 4500,
            "ClickHouse back: the 3000 held flows written (%d stored, %d in the table)" %
            (st["stored"], ch.count("flows", "killed")))
    c.check("writing again" in k.text(), "a notice says writing works again")
    k.stop()

    # a queue of 1000 flows (batches of 100) while the server is down: the rest is dropped and counted
    ch.kill()
    q = Collector(work, "small-queue", ["--clickhouse", ch.url("small"), "--retention", "0", "--store-queue", "1000",
                                        "--store-batch", "100"])
    c.check("until it answers" in q.text(), "started with ClickHouse down: it says it waits (%s)" % q.text()[-200:])
    send_nf5(q.port, 100, net=1)
    time.sleep(2)
    st = q.stats()
    c.check(st["datagrams"] == 100 and st["dropped"] == 2000 and st["stored"] == 0,
            "a queue of 1000: 3000 flows received, 2000 dropped and counted (%d received datagrams, %d dropped)" %
            (st["datagrams"], st["dropped"]))
    ch.start()
    st = q.wait_stored(1000)
    _, ctr = q.stop()
    c.check(ch.count("flows", "small") == 1000 and ctr.get("store.rows") == 1000 and ctr.get("store.dropped") == 2000,
            "after the restart the 1000 held are written (%d in the table; counters rows %s, dropped %s)" %
            (ch.count("flows", "small"), ctr.get("store.rows"), ctr.get("store.dropped")))


def part_two_shards(c, work, paths):
    blocks = doc_blocks()
    xml = [t for lang, t in blocks if lang == "xml"]
    sql = [t for lang, t in blocks if lang == "sql"]
    c.check(len(xml) == 1 and len(sql) == 3, "docs/COLLECTOR.md: the schema, the cluster's configuration and "
                                             "the shards' and the Distributed table's SQL")
    if len(xml) != 1 or len(sql) != 3:
        return
    schema, shard_sql, dist_sql = sql
    tcp_a, tcp_b = mctest.free_port(), mctest.free_port()
    cluster = xml[0]
    for name, tcp in (("ch1", tcp_a), ("ch2", tcp_b)):
        cluster, n = re.subn(r"<host>%s</host><port>9000</port>" % name,
                             "<host>127.0.0.1</host><port>%d</port>" % tcp, cluster)
        c.check(n == 1, "the docs' configuration names shard %s" % name)
    b = ClickHouse(work, "shard2", tcp=tcp_b)
    a = ClickHouse(work, "shard1", tcp=tcp_a, extra_config=cluster)
    try:
        for node in (a, b):
            for st in statements(shard_sql):
                node.query(st)
            local = re.search(r"CREATE DATABASE IF NOT EXISTS (\w+)", shard_sql).group(1)
            node.query(schema, local)  # the table statement above, in the shard's database
        for st in statements(dist_sql):
            a.query(st)
        m = re.search(r"CREATE TABLE IF NOT EXISTS (\w+)\.flows AS (\w+)\.flows ENGINE = Distributed", dist_sql)
        dist_db, local = m.group(1), m.group(2)
        db = os.path.join(work, "shards.db")
        s = Collector(work, "shards-sqlite", ["--store", db, "--retention", "0"])
        d = Collector(work, "shards-ch", ["--clickhouse", a.url(dist_db), "--retention", "7d"])
        c.check("(Distributed)" in d.text() and "retention is left to the shards" in d.text(),
                "the collector sees the Distributed table and leaves retention to the shards: %s" % d.text()[-300:])
        export(paths, [s, d])
        time.sleep(1.0)
        _, ctrs = s.stop()
        _, ctrd = d.stop()
        want = ctrs.get("store.rows", 0)
        c.check(want > 100 and ctrd.get("store.rows") == want and ctrd.get("store.errors") == 0,
                "the collector wrote every flow to the Distributed table (%s of %d)" % (ctrd.get("store.rows"), want))
        end = time.time() + 30  # the node forwards to the other shard in the background
        while time.time() < end and a.count("flows", dist_db) < want:
            time.sleep(0.3)
        n1, n2 = a.count("flows", local), b.count("flows", local)
        c.check(n1 > 0 and n2 > 0 and n1 + n2 == want, "both shards hold rows: %d + %d = %d" % (n1, n2, want))
        compare_stores(c, "two shards", db, a.url(dist_db))
    finally:
        a.stop()
        b.stop()


def main():
    if not server_binary():
        mctest.skip("clickhouse-server is not installed (scripts/setup.sh installs Debian's)")
    if not os.path.exists(MCCOLLECTOR):
        mctest.skip("mccollector is not built at %s" % MCCOLLECTOR)
    mctest.need_corpus()
    paths = captures()
    if not paths:
        mctest.skip("none of %s in ../shared/corpus" % CAPTURES)
    c = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mccch")
    ch = ClickHouse(work, "node")
    try:
        part_one_node(c, work, ch, paths)
        part_rate(c, ch)
        part_retention(c, work, ch)
        part_killed(c, work, ch)
    finally:
        ch.stop()
    part_two_shards(c, work, paths)
    shutil.rmtree(work, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
