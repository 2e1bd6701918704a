"""flows.py - the flows mccollector keeps in its SQLite store (docs/COLLECTOR.md, "Schema"): list them and
rank the talkers, ports and applications, with the standard library's sqlite3 only.

    from microcloud import flows
    with flows.FlowStore("flows.db") as db:                  # read-only
        for f in db.flows(since_ms=..., host="10.0.0.5", limit=20): ...
        db.top("talkers", since_ms=..., n=10)               # or "ports", "apps"
    flows.flows("flows.db", host="2001:db8::1")               # the same, as functions

The store is read while the collector writes it (WAL journal: readers and the
writer never wait for each other).  Times are epoch milliseconds; "since"
keeps the flows that started then or later (the start_ms index answers it).
"""
import os
import re
import socket
import sqlite3
import urllib.parse
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from .units import parse_time

SCHEMA_VERSION = 1

# The schema, as src/collector/store_sqlite.c (SCHEMA_SQL) and docs/COLLECTOR.md ("Schema") have it:
# tests/unit/python/test_flows.py checks the three are the same text.
SCHEMA = """\
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 1);
CREATE TABLE IF NOT EXISTS flows (
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
CREATE INDEX IF NOT EXISTS flows_start_ms ON flows (start_ms);
CREATE INDEX IF NOT EXISTS flows_src ON flows (src);
CREATE INDEX IF NOT EXISTS flows_dst ON flows (dst);
"""

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
    conn.executescript(SCHEMA)
    conn.commit()
    return conn


class FlowStore:
    """A collector's SQLite store opened read-only (the file must exist and carry schema version 1).
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


Store = Union[str, FlowStore]


def _with_store(db: Store) -> Tuple[FlowStore, bool]:
    if isinstance(db, FlowStore):
        return db, False
    return FlowStore(db), True


def flows(db: Store, since_ms: Optional[int] = None, host: Optional[str] = None,
          limit: Optional[int] = DEFAULT_LIMIT) -> List[Dict[str, Any]]:
    """FlowStore.flows on db: a path (opened and closed here) or an open FlowStore."""
    store, own = _with_store(db)
    try:
        return store.flows(since_ms=since_ms, host=host, limit=limit)
    finally:
        if own:
            store.close()


def top(db: Store, what: str, since_ms: Optional[int] = None, host: Optional[str] = None,
        n: int = 10) -> List[Dict[str, Any]]:
    """FlowStore.top on db: a path (opened and closed here) or an open FlowStore."""
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


__all__ = ["COLUMNS", "Error", "FlowStore", "SCHEMA", "SCHEMA_VERSION", "TOP_KINDS", "address", "create",
           "endpoint", "flows", "parse_since", "proto_name", "top"]
