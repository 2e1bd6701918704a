#!/usr/bin/python3
"""Unit tests of microcloud.flows and `mcquery flows`: the schema is one text in
the C store, the Python module and docs/COLLECTOR.md (ClickHouse's: in its C
store and the docs); listing and ranking flows of a store made here (times,
hosts, both directions, sums past 2^63); the ClickHouse reader's statements
answering what the SQLite reader answers (played by SQLite over the same rows:
tests/integration/test_collector_clickhouse.py asks a real server); stores
refused; times and addresses as people give them; the command line (table,
JSON, exit statuses).  Run by CTest (unit_python_test_flows) from the
source tree; with MC_PYTHON_INSTALLED=1 (tests/lib/mcpy.py) against an
installed package, as tests/integration/test_python_venv.py runs its list.
"""
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import mcpy  # noqa: E402

from microcloud import flows  # noqa: E402

T0 = 1700000000000  # epoch ms
MIN = 60000


def c_schema(path, marker="schema"):
    """SCHEMA_SQL of src/collector/store_sqlite.c (mc_ch_schema_sql of store_clickhouse.c with marker
    "clickhouse schema"): the string literals between its markers, joined."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"/\* %s \*/(.*?)/\* end %s \*/" % (marker, marker), text, re.S)
    if not m:
        raise AssertionError("no /* %s */ ... /* end %s */ in %s" % (marker, marker, path))
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))
    return "".join(parts).encode().decode("unicode_escape")


def doc_schema(path, section="Schema"):
    """The first ```sql block of a section of docs/COLLECTOR.md ("## Schema", "## ClickHouse")."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## %s\n.*?```sql\n(.*?)```" % section, text, re.S | re.M)
    if not m:
        raise AssertionError("no ```sql block under ## %s in %s" % (section, path))
    return m.group(1)


def row(**kw):
    """A flows row: every column, the given ones set."""
    r = {c: None for c in flows.COLUMNS}
    r.update(start_ms=T0, end_ms=T0, exporter="192.0.2.1:2055", version=10, domain=0, ip_version=4,
             src_port=0, dst_port=0, proto=6, tcp_flags=0, tos=0, packets=0, octets=0, rev_packets=0,
             rev_octets=0, in_if=0, out_if=0, src_as=0, dst_as=0, sampling=1)
    r.update(kw)
    return r


ROWS = [
    row(start_ms=T0, src="10.0.0.1", dst="10.0.0.2", src_port=40000, dst_port=443, packets=10, octets=1000,
        rev_packets=20, rev_octets=30000, app="TLS", user="alice"),
    row(start_ms=T0 + MIN, src="10.0.0.1", dst="2001:db8::1", ip_version=6, src_port=40001, dst_port=443,
        packets=5, octets=500, app="TLS"),
    row(start_ms=T0 + 2 * MIN, src="10.0.0.3", dst="10.0.0.2", proto=17, src_port=5353, dst_port=53, packets=1,
        octets=80, rev_packets=1, rev_octets=200, app="DNS"),
    row(start_ms=T0 + 3 * MIN, src="10.0.0.4", dst="10.0.0.1", proto=1, packets=4, octets=400),
    row(start_ms=T0 + 4 * MIN, ip_version=0, packets=2, octets=100),  # no address (an L2-only record)
]


class Store:
    """A temporary store made with the module's own schema."""

    def __init__(self, rows=ROWS):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "flows.db")
        conn = flows.create(self.path)
        conn.executemany("INSERT INTO %s (%s) VALUES (%s)" % (flows.LIVE_TABLE, ", ".join(flows.COLUMNS),
                                                               ", ".join("?" * len(flows.COLUMNS))),
                         [[r[c] for c in flows.COLUMNS] for r in rows])
        conn.commit()
        conn.close()

    def close(self):
        self.dir.cleanup()


class Schema(unittest.TestCase):
    def test_package_imported(self):
        mcpy.check_installed()  # installed mode: the environment's package, not python/

    def test_one_text_in_c_python_and_docs(self):
        c_file = os.path.join(mcpy.SRC, "src", "collector", "store_sqlite.c")
        doc = os.path.join(mcpy.SRC, "docs", "COLLECTOR.md")
        if not os.path.exists(c_file) or not os.path.exists(doc):
            self.skipTest("no source tree beside the tests")
        self.assertEqual(c_schema(c_file), flows.SCHEMA, "store_sqlite.c SCHEMA_SQL differs from flows.SCHEMA")
        self.assertEqual(doc_schema(doc), flows.SCHEMA, "docs/COLLECTOR.md differs from flows.SCHEMA")

    def test_clickhouse_schema_in_c_and_docs(self):
        c_file = os.path.join(mcpy.SRC, "src", "collector", "store_clickhouse.c")
        doc = os.path.join(mcpy.SRC, "docs", "COLLECTOR.md")
        if not os.path.exists(c_file) or not os.path.exists(doc):
            self.skipTest("no source tree beside the tests")
        ch = c_schema(c_file, "clickhouse schema")
        self.assertEqual(doc_schema(doc, "ClickHouse"), ch, "docs/COLLECTOR.md ## ClickHouse differs from "
                                                            "store_clickhouse.c mc_ch_schema_sql")
        names = tuple(re.findall(r"^    (\w+) ", ch, re.M))
        self.assertEqual(names, flows.COLUMNS, "ClickHouse's columns are SQLite's, in its order")

    def test_columns_in_schema_order(self):
        s = Store([])
        try:
            conn = sqlite3.connect(s.path)
            cols = [r[1] for r in conn.execute("PRAGMA table_info(flows)")]
            self.assertEqual(tuple(cols), flows.COLUMNS)
            self.assertEqual(len(cols), 27)
            # the view over the live segment, which has its time index (a full one gets its address indexes)
            live = tuple(r[1] for r in conn.execute("PRAGMA table_info(%s)" % flows.LIVE_TABLE))
            self.assertEqual(live, flows.COLUMNS)
            idx = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                              "tbl_name = ?", (flows.LIVE_TABLE,))}
            self.assertEqual(idx, {"flows_1_start_ms"})
            self.assertEqual(conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone(),
                             (flows.SCHEMA_VERSION,))
            conn.close()
            flows.create(s.path).close()  # again over the same file: still one version row, rows kept
            conn = sqlite3.connect(s.path)
            self.assertEqual(conn.execute("SELECT count(*) FROM meta").fetchone(), (1,))
            conn.close()
        finally:
            s.close()


class Queries(unittest.TestCase):
    def setUp(self):
        self.s = Store()

    def tearDown(self):
        self.s.close()

    def test_list_newest_first_with_every_column(self):
        got = flows.flows(self.s.path)
        self.assertEqual([f["start_ms"] for f in got], [T0 + i * MIN for i in (4, 3, 2, 1, 0)])
        self.assertEqual(got[-1], ROWS[0])
        self.assertEqual(list(got[-1]), list(flows.COLUMNS))
        self.assertIsNone(got[0]["src"])
        self.assertEqual(len(flows.flows(self.s.path, limit=2)), 2)
        self.assertEqual(len(flows.flows(self.s.path, limit=None)), 5)
        with self.assertRaises(ValueError):
            flows.flows(self.s.path, limit=0)

    def test_since_and_host(self):
        with flows.FlowStore(self.s.path) as db:
            self.assertEqual([f["start_ms"] for f in db.flows(since_ms=T0 + 3 * MIN)], [T0 + 4 * MIN, T0 + 3 * MIN])
            self.assertEqual([f["start_ms"] for f in db.flows(host="10.0.0.1")], [T0 + 3 * MIN, T0 + MIN, T0])
            self.assertEqual(len(db.flows(host=" 2001:DB8:0::1 ")), 1)  # written as inet_ntop writes it
            self.assertEqual(len(db.flows(host="10.0.0.2", since_ms=T0 + MIN)), 1)
            self.assertEqual(db.flows(host="192.0.2.99"), [])
            for bad in ("10.0.0.256", "nope", "", "10.0.0.0/8"):
                with self.assertRaises(ValueError, msg=bad):
                    db.flows(host=bad)

    def test_top_talkers(self):
        got = flows.top(self.s.path, "talkers")
        # both directions, as source and destination: 10.0.0.1 = 31000 + 500 + 400
        self.assertEqual(got[0], {"addr": "10.0.0.1", "octets": 31900, "packets": 39, "flows": 3})
        self.assertEqual(got[1], {"addr": "10.0.0.2", "octets": 31280, "packets": 32, "flows": 2})
        self.assertEqual([t["addr"] for t in got[2:]], ["2001:db8::1", "10.0.0.4", "10.0.0.3"])
        self.assertEqual(len(flows.top(self.s.path, "talkers", n=2)), 2)
        peers = flows.top(self.s.path, "talkers", host="10.0.0.1")  # its peers, itself left out
        self.assertEqual([t["addr"] for t in peers], ["10.0.0.2", "2001:db8::1", "10.0.0.4"])
        recent = flows.top(self.s.path, "talkers", since_ms=T0 + 2 * MIN)
        self.assertEqual({t["addr"] for t in recent}, {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"})

    def test_top_ports_and_apps(self):
        ports = flows.top(self.s.path, "ports")
        self.assertEqual(ports[0], {"proto": 6, "port": 443, "octets": 31500, "packets": 35, "flows": 2})
        self.assertEqual([(p["proto"], p["port"]) for p in ports], [(6, 443), (1, 0), (17, 53), (6, 0)])
        apps = flows.top(self.s.path, "apps")
        self.assertEqual([(a["app"], a["octets"]) for a in apps], [("TLS", 31500), (None, 500), ("DNS", 280)])
        self.assertEqual(flows.top(self.s.path, "apps", host="10.0.0.3"),
                         [{"app": "DNS", "octets": 280, "packets": 2, "flows": 1}])
        with self.assertRaises(ValueError):
            flows.top(self.s.path, "hosts")

    def test_top_ports_is_the_service_port(self):
        # a uniflow reply (443 -> 51443) counts for 443, as its request (51443 -> 443) does
        s = Store([row(src="10.0.0.1", dst="10.0.0.2", src_port=51443, dst_port=443, proto=6, octets=100),
                   row(src="10.0.0.2", dst="10.0.0.1", src_port=443, dst_port=51443, proto=6, octets=900),
                   row(src="10.0.0.9", dst="10.0.0.2", src_port=0, dst_port=0, proto=1, octets=10)])
        try:
            got = flows.top(s.path, "ports")
            self.assertEqual([(p["proto"], p["port"], p["octets"], p["flows"]) for p in got],
                             [(6, 443, 1000, 2), (1, 0, 10, 1)])
        finally:
            s.close()

    def test_sums_past_2_63(self):
        big = (1 << 63) - 1  # the collector's largest counter
        s = Store([row(src="10.0.0.1", dst="10.0.0.2", octets=big), row(src="10.0.0.1", dst="10.0.0.2", octets=big)])
        try:
            got = flows.top(s.path, "talkers")
            self.assertEqual(got[0]["addr"], "10.0.0.1")
            self.assertGreater(got[0]["octets"], big)
            self.assertIsInstance(got[0]["octets"], int)
        finally:
            s.close()


class Refused(unittest.TestCase):
    def test_missing_foreign_and_other_versions(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(flows.Error, "no such store"):
                flows.FlowStore(os.path.join(d, "none.db"))
            p = os.path.join(d, "text.db")
            with open(p, "w") as f:
                f.write("not a database\n" * 100)
            with self.assertRaisesRegex(flows.Error, "not a collector's store"):
                flows.FlowStore(p)
            p = os.path.join(d, "other.db")
            conn = sqlite3.connect(p)
            conn.execute("CREATE TABLE flows (a INTEGER)")
            conn.commit()
            conn.close()
            with self.assertRaisesRegex(flows.Error, "not a collector's store"):
                flows.flows(p)
            p = os.path.join(d, "v3.db")
            conn = flows.create(p)
            conn.execute("UPDATE meta SET value = 3 WHERE name = 'schema_version'")
            conn.commit()
            conn.close()
            with self.assertRaisesRegex(flows.Error, "schema version 3"):
                flows.top(p, "apps")


class Values(unittest.TestCase):
    def test_parse_since(self):
        now = T0
        self.assertEqual(flows.parse_since("1700000000"), 1700000000000)
        self.assertEqual(flows.parse_since(" 1700000000.25 "), 1700000000250)
        self.assertEqual(flows.parse_since("1700000000123"), 1700000000123)  # 13 digits: milliseconds
        self.assertEqual(flows.parse_since("10m", now_ms=now), now - 10 * MIN)
        self.assertEqual(flows.parse_since("2h", now_ms=now), now - 120 * MIN)
        self.assertEqual(flows.parse_since("7d", now_ms=now), now - 7 * 86400000)
        self.assertEqual(flows.parse_since("2023-11-14T22:13:20Z"), T0)
        self.assertEqual(flows.parse_since("2023-11-14T23:13:20+01:00"), T0)
        self.assertEqual(flows.parse_since("2023-11-14"), T0 - (22 * 3600 + 13 * 60 + 20) * 1000)
        for bad in ("", "10x", "yesterday", "-5", "1e9", "١٢٣"):
            with self.assertRaises(ValueError, msg=bad):
                flows.parse_since(bad)

    def test_address_and_names(self):
        self.assertEqual(flows.address("2001:DB8:0:0::1"), "2001:db8::1")
        self.assertEqual(flows.address("::FFFF:10.1.2.3"), "::ffff:10.1.2.3")
        self.assertEqual(flows.proto_name(6), "tcp")
        self.assertEqual(flows.proto_name(253), "253")
        self.assertEqual(flows.endpoint("2001:db8::1", 443, 6), "[2001:db8::1]:443")
        self.assertEqual(flows.endpoint("10.0.0.1", 0, 1), "10.0.0.1")
        self.assertEqual(flows.endpoint(None, 0, 6), "-")


class Command(unittest.TestCase):
    def setUp(self):
        self.s = Store()

    def tearDown(self):
        self.s.close()

    def run_cli(self, *argv):
        p = subprocess.run(mcpy.MCQUERY + list(argv), capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MC_REDIS="127.0.0.1:1"))  # never asks a cloud
        return p.returncode, p.stdout, p.stderr

    def test_table_and_json(self):
        rc, out, err = self.run_cli("flows", "--store", self.s.path)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["START", "PROTO", "SRC", "DST", "PACKETS", "OCTETS", "APP", "USER"])
        self.assertEqual(len(lines), 6)
        self.assertIn("2023-11-14T22:13:20.000Z", lines[-1])
        self.assertIn("10.0.0.1:40000", lines[-1])
        self.assertIn("30.3KiB", lines[-1])  # 31000 octets, both directions
        self.assertIn("alice", lines[-1])
        self.assertIn("[2001:db8::1]:443", out)

        rc, out, err = self.run_cli("--json", "flows", "--store", self.s.path, "--host", "10.0.0.2", "-n", "1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), [ROWS[2]])

        rc, out, err = self.run_cli("flows", "--store", self.s.path, "--top", "talkers", "-n", "2", "--json",
                                    "--since", "2023-11-14T22:13Z")
        self.assertEqual(rc, 0, err)
        self.assertEqual([t["addr"] for t in json.loads(out)], ["10.0.0.1", "10.0.0.2"])

        rc, out, err = self.run_cli("flows", "--store", self.s.path, "--top", "ports", "--raw")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[1].split(), ["6", "443", "31500", "35", "2"])
        rc, out, err = self.run_cli("flows", "--store", self.s.path, "--top", "apps")
        self.assertEqual(out.splitlines()[1].split(), ["TLS", "30.8KiB", "35", "2"])

        rc, out, err = self.run_cli("flows", "--store", self.s.path, "--since", "1m")  # nothing that recent
        self.assertEqual((rc, out.split()), (0, ["START", "PROTO", "SRC", "DST", "PACKETS", "OCTETS", "APP", "USER"]))

    def test_exit_statuses(self):
        missing = os.path.join(self.s.dir.name, "none.db")
        for argv, want, text in ((["flows", "--store", missing], 1, "no such store"),
                                 (["flows", "--store", self.s.path, "--host", "10.0.0.300"], 2, "not an IP address"),
                                 (["flows", "--clickhouse", "http://127.0.0.1:1/mc"], 1, "cannot reach ClickHouse"),
                                 (["flows", "--clickhouse", "http://127.0.0.1/a-b"], 2, "database name"),
                                 (["flows", "--clickhouse", "ftp://h/mc"], 2, "expected http://"),
                                 (["flows", "--since", "soon"], 2, "bad time"),
                                 (["flows", "--top", "hosts"], 2, "invalid choice"),
                                 (["--top", "3", "flows"], 2, "--top is for"),
                                 (["--json", "--raw", "flows"], 2, "exclusive")):
            rc, out, err = self.run_cli(*argv)
            self.assertEqual(rc, want, "%s: %s" % (argv, err))
            self.assertIn(text, err, argv)
        self.assertFalse(os.path.exists(missing))  # a reader never creates a store


class FakeClickHouse:
    """ClickHouse's HTTP interface played by SQLite over a store's rows, as ClickHouseStore's opener: the
    statements differ from SQLite's only where the dialects do (count(), FORMAT), so equal answers show
    the ClickHouse statements ask what the SQLite ones ask.  Keeps every request."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path)
        self.requests = []

    def __call__(self, req, timeout=None):
        sql = req.data.decode()
        self.requests.append(req)
        if "system.columns" in sql:
            rows = [{"name": r[1]} for r in self.conn.execute("PRAGMA table_info(flows)")]
        else:
            if not sql.endswith(" FORMAT JSONEachRow"):
                raise AssertionError("not JSONEachRow: %s" % sql)
            cur = self.conn.execute(sql[:-len(" FORMAT JSONEachRow")].replace("count()", "COUNT(*)"))
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur]
        return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


class ClickHouse(unittest.TestCase):
    def setUp(self):
        self.s = Store()
        self.fake = FakeClickHouse(self.s.path)

    def tearDown(self):
        self.fake.conn.close()
        self.s.close()

    def test_url(self):
        u = flows.parse_clickhouse_url("http://ch1:8123/mc")
        self.assertEqual((u.base, u.db, u.user, u.password, u.shown),
                         ("http://ch1:8123/", "mc", None, None, "http://ch1:8123/mc"))
        u = flows.parse_clickhouse_url("https://w:s%40cr%3At@[2001:db8::1]/")
        self.assertEqual((u.base, u.db, u.user, u.password), ("https://[2001:db8::1]:8443/", "default", "w", "s@cr:t"))
        self.assertNotIn("s@cr", u.shown)
        self.assertEqual(flows.parse_clickhouse_url("http://127.0.0.1").base, "http://127.0.0.1:8123/")
        for bad in ("ch1:8123/mc", "ftp://h/mc", "http:///mc", "http://h:99999/mc", "http://h/mc?table=x",
                    "http://h/a-b", "http://h/a/b", "http://h/mc;DROP"):
            with self.assertRaises(ValueError, msg=bad):
                flows.parse_clickhouse_url(bad)

    def test_literals(self):
        self.assertEqual(flows.ch_literal(5), "5")
        self.assertEqual(flows.ch_literal("10.0.0.1"), "'10.0.0.1'")
        self.assertEqual(flows.ch_literal("a'b\\c"), "'a\\'b\\\\c'")
        with self.assertRaises(TypeError):
            flows.ch_literal(None)
        sql = flows.clickhouse_list_sql(since_ms=T0, host="2001:DB8::1", limit=5)
        self.assertEqual(sql, "SELECT %s FROM flows WHERE start_ms >= %d AND (src = '2001:db8::1' OR "
                              "dst = '2001:db8::1') ORDER BY start_ms DESC LIMIT 5 FORMAT JSONEachRow"
                         % (", ".join(flows.COLUMNS), T0))
        with self.assertRaises(ValueError):
            flows.clickhouse_list_sql(host="10.0.0.1' OR 1")  # never text into the statement unchecked
        sql, keys = flows.clickhouse_top_sql("apps")
        self.assertEqual(keys, ("app",))
        self.assertIn("ORDER BY sum_octets DESC, sum_packets DESC, app NULLS FIRST LIMIT 10", sql)

    def test_same_answers_as_sqlite(self):
        ch = flows.ClickHouseStore("http://writer:pw@127.0.0.1:8123/mc", opener=self.fake)
        db = flows.FlowStore(self.s.path)
        try:
            for kw in ({}, {"limit": 2}, {"limit": None}, {"since_ms": T0 + 2 * MIN}, {"host": "10.0.0.1"},
                       {"host": "2001:db8::1", "since_ms": T0}):
                self.assertEqual(ch.flows(**kw), db.flows(**kw), kw)
            for what in flows.TOP_KINDS:
                for kw in ({}, {"n": 1}, {"host": "10.0.0.2"}, {"since_ms": T0 + MIN}):
                    self.assertEqual(ch.top(what, **kw), db.top(what, **kw), (what, kw))
        finally:
            db.close()
        req = self.fake.requests[-1]
        self.assertIn("database=mc", req.full_url)
        self.assertIn("output_format_json_quote_64bit_integers=0", req.full_url)
        self.assertEqual(req.get_header("Authorization"), "Basic d3JpdGVyOnB3")  # writer:pw
        self.assertEqual(flows.top(ch, "apps", n=1), [{"app": "TLS", "octets": 31500, "packets": 35, "flows": 2}])

    def test_refused(self):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE flows (start_ms INTEGER, src TEXT)")  # someone else's table
        fake = FakeClickHouse(self.s.path)
        fake.conn = conn
        with self.assertRaisesRegex(flows.Error, "not a collector's table flows"):
            flows.ClickHouseStore("http://127.0.0.1/mc", opener=fake)
        conn.execute("DROP TABLE flows")
        with self.assertRaisesRegex(flows.Error, "no table flows"):
            flows.ClickHouseStore("http://127.0.0.1/mc", opener=fake)

        def down(req, timeout=None):
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

        with self.assertRaisesRegex(flows.Error, "cannot reach ClickHouse: .*refused"):
            flows.ClickHouseStore("http://127.0.0.1/mc", opener=down)

        def refuses(req, timeout=None):
            raise urllib.error.HTTPError(req.full_url, 516, "x", {}, io.BytesIO(
                b"Code: 193, e.displayText() = DB::Exception: Wrong password for user writer\nmore"))

        with self.assertRaisesRegex(flows.Error, r"^http://writer@127.0.0.1:8123/mc: Code: 193, .*Wrong password"
                                                 r" for user writer$"):
            flows.ClickHouseStore("http://writer:bad@127.0.0.1/mc", opener=refuses)


if __name__ == "__main__":
    unittest.main(verbosity=1)
