"""flows.py - the flows mccollector keeps in its SQLite store or in ClickHouse (docs/COLLECTOR.md, "Schema",
"ClickHouse"): list them and rank the talkers, ports and applications, with the standard library only
(sqlite3; urllib for ClickHouse's HTTP interface).

    from microcloud import flows
    with flows.FlowStore("flows.db") as db:                  # read-only
        for f in db.flows(since_ms=..., host="10.0.0.5", limit=20): ...
        db.top("talkers", since_ms=..., n=10)               # or "ports", "apps"
    flows.flows("flows.db", host="2001:db8::1")               # the same, as functions
    with flows.ClickHouseStore("http://ch1:8123/mc") as db:  # the same questions, the same answers
        db.top("ports")
    flows.top("http://ch1:8123/mc", "apps")                   # a URL is a ClickHouse store

The store is read while the collector writes it (WAL journal: readers and the
writer never wait for each other).  Times are epoch milliseconds; "since"
keeps the flows that started then or later (the start_ms index answers it).
"""
import base64
import json
import os
import re
import socket
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

from .units import parse_time

SCHEMA_VERSION = 2

# The schema of a new store, as src/collector/store_sqlite.c (SCHEMA_SQL) and docs/COLLECTOR.md ("Schema")
# have it: tests/unit/python/test_flows.py checks the three are the same text.  Rows are read through the
# view flows over the segment tables flows_N; a new store's live segment is flows_1 (LIVE_TABLE).
SCHEMA = """\
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 2);
CREATE TABLE IF NOT EXISTS segments (
    n INTEGER PRIMARY KEY,
    indexed INTEGER NOT NULL DEFAULT 0,
    min_ms INTEGER,
    max_ms INTEGER
);
INSERT OR IGNORE INTO segments (n) VALUES (1);
CREATE TABLE IF NOT EXISTS flows_1 (
    start_ms INTEGER,
    end_ms INTEGER,
    exporter TEXT,
    version INTEGER,
    domain INTEGER,
    ip_version INTEGER,
    src TEXT,
    dst TEXT,
    src_port INTEGER,
    dst_port INTEGER,
    proto INTEGER,
    tcp_flags INTEGER,
    tos INTEGER,
    packets INTEGER,
    octets INTEGER,
    rev_packets INTEGER,
    rev_octets INTEGER,
    in_if INTEGER,
    out_if INTEGER,
    src_as INTEGER,
    dst_as INTEGER,
    sampling INTEGER,
    app TEXT,
    user TEXT,
    imsi TEXT,
    msisdn TEXT,
    call_id TEXT
);
CREATE INDEX IF NOT EXISTS flows_1_start_ms ON flows_1 (start_ms);
CREATE VIEW IF NOT EXISTS flows AS SELECT * FROM flows_1;
"""

LIVE_TABLE = "flows_1"

COLUMNS = ("start_ms", "end_ms", "exporter", "version", "domain", "ip_version", "src", "dst", "src_port",
           "dst_port", "proto", "tcp_flags", "tos", "packets", "octets", "rev_packets", "rev_octets", "in_if",
           "out_if", "src_as", "dst_as", "sampling", "app", "user", "imsi", "msisdn", "call_id")
TOP_KINDS = ("talkers", "ports", "apps")
DEFAULT_LIMIT = 100

PROTO_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6",
               89: "ospf", 132: "sctp"}

_SECONDS = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_EPOCH_MS_FROM = 10 ** 11  # epoch seconds reach this in the year 5138; a number this large is milliseconds


class Error(Exception):
    """The store cannot be read: missing, not a collector's store, another schema version."""


def parse_since(text: str, now_ms: Optional[int] = None) -> int:
    """A time given by a person -> epoch milliseconds: epoch seconds (`1700000000`, `1700000000.5`; 12
    digits or more are taken as milliseconds), a span back from now (`90s`, `10m`, `2h`, `7d`, `1w`) or
    an ISO 8601 date or time (`2024-05-01`, `2024-05-01T10:00Z`; UTC without an offset).  ValueError
    for anything else."""
    s = text.strip()
    if _SECONDS.match(s):
        v = float(s)
        return int(v) if v >= _EPOCH_MS_FROM else int(round(v * 1000))
    if s.isdigit() or not s:  # not a number parse_time may take as milliseconds
        raise ValueError("bad time %r" % text)
    try:
        return parse_time(s, now_ms)
    except ValueError:
        raise ValueError("bad time %r: give epoch seconds, an ISO 8601 date or time (2024-05-01, "
                         "2024-05-01T10:00Z) or a span back from now (10m, 2h, 7d)" % text) from None


def address(text: str) -> str:
    """An address as the collector writes it (inet_ntop text: 2001:db8::1, ::ffff:1.2.3.4); ValueError
    when text is not an IPv4 or IPv6 address."""
    s = text.strip() if isinstance(text, str) else ""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, s))
        except (OSError, ValueError):
            continue
    raise ValueError("not an IP address: %r" % (text,))


def create(path: str) -> sqlite3.Connection:
    """Creates (or opens) a store at path with the collector's schema, for writing: tests and tools that
    make stores.  Returns the connection (the caller closes it)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
        conn.executescript(SCHEMA)  # a new store; an existing one keeps its segments (rows go to LIVE_TABLE's)
    conn.commit()
    return conn


class FlowStore:
    """A collector's SQLite store opened read-only (the file must exist and carry schema version 2).
    Close it (or use it as a context manager)."""

    def __init__(self, path: str) -> None:
        if not os.path.isfile(path):
            raise Error("%s: no such store" % path)
        self.path = path
        uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
        try:
            self.conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as e:
            raise Error("%s: %s" % (path, e)) from None
        try:
            self._check_schema()
        except BaseException:
            self.conn.close()
            raise

    def _check_schema(self) -> None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as e:  # not a database, no meta table
            raise Error("%s: not a collector's store (%s)" % (self.path, e)) from None
        if row is None:
            raise Error("%s: not a collector's store (no schema version)" % self.path)
        if row[0] != SCHEMA_VERSION:
            raise Error("%s: schema version %s; this mcquery reads version %d" % (self.path, row[0], SCHEMA_VERSION))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "FlowStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _where(since_ms: Optional[int], host: Optional[str]) -> Tuple[List[str], List[Any]]:
        conds: List[str] = []
        params: List[Any] = []
        if since_ms is not None:
            conds.append("start_ms >= ?")
            params.append(int(since_ms))
        if host is not None:
            conds.append("(src = ? OR dst = ?)")  # one index each: SQLite unions the two lookups
            a = address(host)
            params += [a, a]
        return conds, params

    def flows(self, since_ms: Optional[int] = None, host: Optional[str] = None,
              limit: Optional[int] = DEFAULT_LIMIT) -> List[Dict[str, Any]]:
        """The flows that started at since_ms or later (all without it), with host as source or
        destination (any without it), newest first, at most limit (None: all).  Each flow is a dict
        of the 27 columns (absent names and addresses None)."""
        return list(self.iter_flows(since_ms, host, limit))

    def iter_flows(self, since_ms: Optional[int] = None, host: Optional[str] = None,
                   limit: Optional[int] = DEFAULT_LIMIT) -> Iterator[Dict[str, Any]]:
        """flows() row by row, as SQLite finds them: a large limit never holds its rows."""
        conds, params = self._where(since_ms, host)
        sql = "SELECT %s FROM flows" % ", ".join(COLUMNS)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY start_ms DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(_positive(limit, "limit"))
        try:
            for row in self.conn.execute(sql, params):
                yield dict(zip(COLUMNS, row))
        except sqlite3.Error as e:
            raise Error("%s: %s" % (self.path, e)) from None

    def top(self, what: str, since_ms: Optional[int] = None, host: Optional[str] = None,
            n: int = 10) -> List[Dict[str, Any]]:
        """The n largest by octets (both directions: octets + rev_octets), then packets:
        talkers: {"addr", ...} over source and destination (with host: its peers, host itself left out);
        ports: {"proto", "port", ...} by service port (the lower of a flow's two ports, so a reply
        counts for the service it answers: 443, not the client's 51443); apps: {"app", ...} (None: no
        application name).
        Each also carries "octets", "packets" (both directions) and "flows"."""
        if what not in TOP_KINDS:
            raise ValueError("top: one of %s, not %r" % (", ".join(TOP_KINDS), what))
        conds, params = self._where(since_ms, host)
        where = " AND ".join(conds) or "1"
        sums = "{sum}(octets + rev_octets) AS octets, {sum}(packets + rev_packets) AS packets, COUNT(*) AS flows"
        if what == "talkers":
            side = ("SELECT {a} AS addr, octets + rev_octets AS o, packets + rev_packets AS p FROM flows "
                    "WHERE {a} IS NOT NULL AND %s" % where)
            keys = ("addr",)
            sql = ("SELECT addr, {sum}(o) AS octets, {sum}(p) AS packets, COUNT(*) AS flows FROM ("
                   + side.format(a="src") + " UNION ALL " + side.format(a="dst") + ")")
            params = params + params
            if host is not None:
                sql += " WHERE addr != ?"
                params.append(address(host))
            sql += " GROUP BY addr"
        elif what == "ports":
            keys = ("proto", "port")
            service = "CASE WHEN src_port > 0 AND src_port < dst_port THEN src_port ELSE dst_port END"
            sql = "SELECT proto, %s AS port, %s FROM flows WHERE %s GROUP BY proto, port" % (service, sums, where)
        else:
            keys = ("app",)
            sql = "SELECT app, %s FROM flows WHERE %s GROUP BY app" % (sums, where)
        sql += " ORDER BY octets DESC, packets DESC, %s LIMIT ?" % ", ".join(keys)
        params.append(_positive(n, "n"))
        names = keys + ("octets", "packets", "flows")
        try:
            rows = self.conn.execute(sql.replace("{sum}", "SUM"), params).fetchall()
        except sqlite3.OperationalError as e:
            if "overflow" not in str(e):  # SUM past 2^63 (counters from a hostile exporter): in floats
                raise Error("%s: %s" % (self.path, e)) from None
            rows = self.conn.execute(sql.replace("{sum}", "TOTAL"), params).fetchall()
        except sqlite3.Error as e:
            raise Error("%s: %s" % (self.path, e)) from None
        out = []
        for row in rows:
            rec = dict(zip(names, row))
            rec["octets"], rec["packets"] = int(rec["octets"] or 0), int(rec["packets"] or 0)
            out.append(rec)
        return out


def _positive(n: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("%s: a positive number, not %r" % (what, n))
    return n


# --- ClickHouse (mccollector --clickhouse) ------------------------------------------------------------------

CLICKHOUSE_PORT = 8123
_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")


class ClickHouseURL(NamedTuple):
    base: str        # where queries go: http://HOST:PORT/
    db: str          # the database holding the table flows
    user: Optional[str]
    password: Optional[str]
    shown: str       # for messages: without the password


def parse_clickhouse_url(url: str) -> ClickHouseURL:
    """http://[USER[:PASSWORD]@]HOST[:PORT][/DB] (https too), as mccollector --clickhouse takes it: port 8123
    (https 8443) and database `default` unless given.  ValueError when it is not such a URL."""
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port
    except ValueError as e:
        raise ValueError("--clickhouse %r: %s" % (url, e)) from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError("--clickhouse %r: expected http://HOST[:PORT][/DB]" % url)
    if u.query or u.fragment:
        raise ValueError("--clickhouse %r: no '?' or '#' part is taken: the table is always flows" % url)
    db = u.path.strip("/") or "default"
    if not _DB_NAME.match(db):
        raise ValueError("--clickhouse %r: a database name is letters, digits and '_'" % url)
    port = port or (8443 if u.scheme == "https" else CLICKHOUSE_PORT)
    host = "[%s]" % u.hostname if ":" in u.hostname else u.hostname
    user = urllib.parse.unquote(u.username) if u.username else None
    password = urllib.parse.unquote(u.password) if u.password is not None else None
    base = "%s://%s:%d/" % (u.scheme, host, port)
    shown = "%s://%s%s:%d/%s" % (u.scheme, user + "@" if user else "", host, port, db)
    return ClickHouseURL(base, db, user, password, shown)


def ch_literal(v: Any) -> str:
    """A value as a ClickHouse SQL literal (18.16 has no query parameters): integers as numbers, text
    quoted with backslash escapes."""
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise TypeError("no literal for %r" % (v,))
    if isinstance(v, int):
        return str(v)
    return "'%s'" % v.replace("\\", "\\\\").replace("'", "\\'")


def _ch_where(since_ms: Optional[int], host: Optional[str]) -> List[str]:
    conds = []
    if since_ms is not None:
        conds.append("start_ms >= %d" % int(since_ms))
    if host is not None:
        a = ch_literal(address(host))
        conds.append("(src = %s OR dst = %s)" % (a, a))
    return conds


def clickhouse_list_sql(since_ms: Optional[int] = None, host: Optional[str] = None,
                        limit: Optional[int] = DEFAULT_LIMIT) -> str:
    """The statement of ClickHouseStore.iter_flows: FlowStore's, with the values written in."""
    conds = _ch_where(since_ms, host)
    sql = "SELECT %s FROM flows" % ", ".join(COLUMNS)
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    sql += " ORDER BY start_ms DESC"
    if limit is not None:
        sql += " LIMIT %d" % _positive(limit, "limit")
    return sql + " FORMAT JSONEachRow"


def clickhouse_top_sql(what: str, since_ms: Optional[int] = None, host: Optional[str] = None,
                       n: int = 10) -> Tuple[str, Tuple[str, ...]]:
    """The statement of ClickHouseStore.top and the names of its keys: FlowStore's ranking in ClickHouse's
    SQL.  Sums are named apart from the columns they add (sum_octets): ClickHouse's aliases are the
    query's, and `sum(octets + rev_octets) AS octets` would name a column after itself; NULL sorts first,
    as in SQLite."""
    if what not in TOP_KINDS:
        raise ValueError("top: one of %s, not %r" % (", ".join(TOP_KINDS), what))
    where = " AND ".join(_ch_where(since_ms, host)) or "1"
    sums = "sum(octets + rev_octets) AS sum_octets, sum(packets + rev_packets) AS sum_packets, count() AS n_flows"
    if what == "talkers":
        keys: Tuple[str, ...] = ("addr",)
        side = ("SELECT {a} AS addr, octets + rev_octets AS o, packets + rev_packets AS p FROM flows "
                "WHERE {a} IS NOT NULL AND %s" % where)
        sql = ("SELECT addr, sum(o) AS sum_octets, sum(p) AS sum_packets, count() AS n_flows FROM ("
               + side.format(a="src") + " UNION ALL " + side.format(a="dst") + ")")
        if host is not None:
            sql += " WHERE addr != %s" % ch_literal(address(host))
        sql += " GROUP BY addr"
        order = "addr"
    elif what == "ports":
        keys = ("proto", "port")
        service = "CASE WHEN src_port > 0 AND src_port < dst_port THEN src_port ELSE dst_port END"
        sql = "SELECT proto, %s AS port, %s FROM flows WHERE %s GROUP BY proto, port" % (service, sums, where)
        order = "proto, port"
    else:
        keys = ("app",)
        sql = "SELECT app, %s FROM flows WHERE %s GROUP BY app" % (sums, where)
        order = "app NULLS FIRST"
    sql += " ORDER BY sum_octets DESC, sum_packets DESC, %s LIMIT %d FORMAT JSONEachRow" % (order, _positive(n, "n"))
    return sql, keys


Opener = Callable[..., Any]


class ClickHouseStore:
    """A collector's ClickHouse table (mccollector --clickhouse URL; a Distributed table over shards reads
    the same), asked over HTTP: the same questions as FlowStore, the same answers.  opener: what opens
    a urllib.request.Request (tests give their own)."""

    def __init__(self, url: str, timeout: float = 60.0, opener: Optional[Opener] = None) -> None:
        self.url = parse_clickhouse_url(url)
        self.path = self.url.shown  # what messages name, as FlowStore's path
        self.timeout = timeout
        self._open = opener or urllib.request.urlopen
        self._check_schema()

    def _post(self, sql: str, in_db: bool = True) -> Any:
        params = urllib.parse.urlencode(dict({"database": self.url.db} if in_db else {},
                                             output_format_json_quote_64bit_integers=0))
        req = urllib.request.Request(self.url.base + "?" + params, data=sql.encode(), method="POST")
        if self.url.user:
            token = "%s:%s" % (self.url.user, self.url.password or "")
            req.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
        try:
            return self._open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace").strip().splitlines()
            raise Error("%s: %s" % (self.url.shown, text[0] if text else "HTTP %d" % e.code)) from None
        except (urllib.error.URLError, OSError) as e:
            why = getattr(e, "reason", e)
            raise Error("%s: cannot reach ClickHouse: %s" % (self.url.shown, why)) from None

    def _rows(self, sql: str, in_db: bool = True) -> Iterator[Dict[str, Any]]:
        resp = self._post(sql, in_db)
        try:
            for line in resp:
                if line.strip():
                    yield json.loads(line)
        except (OSError, ValueError) as e:
            raise Error("%s: %s" % (self.url.shown, e)) from None
        finally:
            resp.close()

    def _check_schema(self) -> None:
        # asked outside the database: a missing one is then a missing table, not the server's error
        names = {r["name"] for r in self._rows("SELECT name FROM system.columns WHERE database = %s AND "
                                                "table = 'flows' FORMAT JSONEachRow" % ch_literal(self.url.db),
                                                in_db=False)}
        if not names:
            raise Error("%s: no table flows in database %s (is it the URL mccollector --clickhouse writes to?)"
                        % (self.url.shown, self.url.db))
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise Error("%s: not a collector's table flows (no %s)" % (self.url.shown, ", ".join(missing)))

    def close(self) -> None:
        pass  # a connection per question: nothing held

    def __enter__(self) -> "ClickHouseStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def flows(self, since_ms: Optional[int] = None, host: Optional[str] = None,
              limit: Optional[int] = DEFAULT_LIMIT) -> List[Dict[str, Any]]:
        """FlowStore.flows."""
        return list(self.iter_flows(since_ms, host, limit))

    def iter_flows(self, since_ms: Optional[int] = None, host: Optional[str] = None,
                   limit: Optional[int] = DEFAULT_LIMIT) -> Iterator[Dict[str, Any]]:
        """FlowStore.iter_flows: rows as ClickHouse streams them."""
        for r in self._rows(clickhouse_list_sql(since_ms, host, limit)):
            yield {c: r.get(c) for c in COLUMNS}

    def top(self, what: str, since_ms: Optional[int] = None, host: Optional[str] = None,
            n: int = 10) -> List[Dict[str, Any]]:
        """FlowStore.top (sums wrap past 2^64 here, where SQLite's turn to floats past 2^63)."""
        sql, keys = clickhouse_top_sql(what, since_ms, host, n)
        out = []
        for r in self._rows(sql):
            rec = {k: r[k] for k in keys}
            rec["octets"], rec["packets"], rec["flows"] = (int(r["sum_octets"]), int(r["sum_packets"]),
                                                           int(r["n_flows"]))
            out.append(rec)
        return out


def open_store(spec: str) -> Union["FlowStore", ClickHouseStore]:
    """A store by what names it: an http(s):// URL is ClickHouse, anything else an SQLite file."""
    if spec.startswith(("http://", "https://")):
        return ClickHouseStore(spec)
    return FlowStore(spec)


Store = Union[str, FlowStore, ClickHouseStore]


def _with_store(db: Store) -> Tuple[Union[FlowStore, ClickHouseStore], bool]:
    if isinstance(db, (FlowStore, ClickHouseStore)):
        return db, False
    return open_store(db), True


def flows(db: Store, since_ms: Optional[int] = None, host: Optional[str] = None,
          limit: Optional[int] = DEFAULT_LIMIT) -> List[Dict[str, Any]]:
    """FlowStore.flows on db: a path or a ClickHouse URL (opened and closed here), or an open store."""
    store, own = _with_store(db)
    try:
        return store.flows(since_ms=since_ms, host=host, limit=limit)
    finally:
        if own:
            store.close()


def top(db: Store, what: str, since_ms: Optional[int] = None, host: Optional[str] = None,
        n: int = 10) -> List[Dict[str, Any]]:
    """FlowStore.top on db: a path or a ClickHouse URL (opened and closed here), or an open store."""
    store, own = _with_store(db)
    try:
        return store.top(what, since_ms=since_ms, host=host, n=n)
    finally:
        if own:
            store.close()


def proto_name(proto: Optional[int]) -> str:
    """An IP protocol number as people know it (tcp, udp, icmp, ...), else the number."""
    if proto is None:
        return "-"
    return PROTO_NAMES.get(proto, str(proto))


def endpoint(addr: Optional[str], port: Optional[int], proto: Optional[int]) -> str:
    """ADDR:PORT ([V6]:PORT) for TCP, UDP and SCTP, ADDR alone otherwise; '-' without an address."""
    if not addr:
        return "-"
    if proto not in (6, 17, 132) or port is None:
        return addr
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


__all__ = ["COLUMNS", "ClickHouseStore", "Error", "FlowStore", "SCHEMA", "SCHEMA_VERSION", "TOP_KINDS", "address",
           "ch_literal", "clickhouse_list_sql", "clickhouse_top_sql", "create", "endpoint", "flows", "open_store",
           "parse_clickhouse_url", "parse_since", "proto_name", "top"]
