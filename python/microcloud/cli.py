"""cli.py - mcquery, the command line of the microcloud package (docs/mcquery.md).

    mcquery [--redis NODE[,NODE...]]... [--redis-cluster HOST:PORT] [--redis-auth-file FILE]
            [--redis-db N] [--cloud-prefix P] [--json | --raw] [--top N] [--sort FIELD] [--cidr NET]
            COMMAND ...
    mcquery flows [--since T] [--host ADDR] [--top talkers|ports|apps] [-n N] [--store FILE | --clickhouse URL]
                  [--json | --raw]

Lists stream: `hosts` and `users` print each SCAN reply's rows as they come,
so `mcquery hosts | head` answers at once whatever the cloud holds; only
--sort (everything, then sorted) and --top N (a heap of N) wait for the end.

`flows` reads no Redis: it asks mccollector's store, SQLite or ClickHouse (flows.py).
"""
import argparse
import heapq
import ipaddress
import json
import logging
import os
import signal
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Sequence, TextIO, Tuple

import redis
from redis.exceptions import RedisClusterException

from . import flows as flowstore
from .client import Cloud, Record, is_subscriber, normalise_ip, parse_networks, subscriber_record
from .units import human_bytes, human_count, iso_ms, parse_time

AUTH_ENV = "MICROCLOUD_REDIS_AUTH"
NODES_ENV = "MC_REDIS"

TIME_FIELDS = {"first_seen", "last_seen", "heartbeat", "started", "since", "invite_ms", "ring_ms", "answer_ms",
               "end_ms", "registered_until", "last_activity"}
BYTE_FIELDS = {"sent_bytes", "rcvd_bytes", "bytes"}
AS_STORED = {"interval_ms", "ip", "imsi", "msisdn", "status", "setup_ms", "duration_ms",  # never scaled
             "rat_type", "tac", "eci", "lac", "ci"}

HOST_COLUMNS = ("sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes", "flows", "last_seen")
HOST_SORTS = ("ip", "bytes", "packets", "sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes", "flows", "first_seen",
              "last_seen")
PROBE_COLUMNS = ("version", "source", "heartbeat", "packets", "drops", "flows_active", "flows_exported",
                 "cloud_commands", "cloud_dropped_keys", "cloud_dropped_packets", "cloud_pending_keys")
HTTP_COLUMNS = ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "bytes", "last_seen")
DB_COLUMNS = ("logins", "queries", "errors", "last_seen")
USER_COLUMNS = ("ip", "since", "probe")
CALL_COLUMNS = ("state", "caller", "callee", "invite_ms", "answer_ms", "end_ms", "duration_ms", "end_cause",
                "hangup_by", "codecs")
SUBSCRIBER_COLUMNS = ("msisdn", "apn", "rat", "ip", "ip6", "sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes",
                      "last_seen")
TEXT_FIELDS = {"version", "source", "ip", "probe", "user_agent", "contact", "state", "caller", "callee",
               "end_cause", "hangup_by", "codecs", "duration_ms", "status", "setup_ms", "imsi", "msisdn", "imei",
               "apn", "rat", "ip6", "teids"}

Item = Tuple[str, Record]


# --- values for people ------------------------------------------------------

def show(field: str, value: Any, raw: bool) -> str:
    """One value as mcquery prints it: as stored with --raw, else with its unit (time, bytes, count)."""
    if value is None or value == "":
        return "-"
    if raw or field in AS_STORED or not isinstance(value, int):
        return str(value)
    if field in TIME_FIELDS:
        return iso_ms(value)
    if field in BYTE_FIELDS:
        return human_bytes(value)
    return human_count(value)


def derived(rec: Record, field: str) -> Any:
    """A record's field, or the sums mcquery sorts by: bytes and packets (sent + received)."""
    if field == "bytes" and "bytes" not in rec:
        return _num(rec.get("sent_bytes")) + _num(rec.get("rcvd_bytes"))
    if field == "packets" and "packets" not in rec:
        return _num(rec.get("sent_pkt")) + _num(rec.get("rcvd_pkt"))
    return rec.get(field)


def _num(v: Any) -> int:
    return v if isinstance(v, int) else 0


def name_order(name: str) -> Tuple[Any, ...]:
    """Addresses (also ADDR:PORT, [V6]:PORT) in address order, IPv4 first; anything else after them by text."""
    host = name
    if name.startswith("["):
        host = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        host = name.split(":", 1)[0]
    try:
        a = ipaddress.ip_address(host)
    except ValueError:
        return (9, 0, name)
    return (a.version, int(a), name)


def sort_key(field: str, name_field: str) -> Callable[[Item], Tuple[Any, ...]]:
    """Numbers and times largest first, then text in order, absent last; ties by name."""
    def key(item: Item) -> Tuple[Any, ...]:
        name, rec = item
        if field == name_field:
            return (0, name_order(name))
        v = derived(rec, field)
        if isinstance(v, int):
            return (0, -v, name_order(name))
        if v is None or v == "":
            return (2, 0, name_order(name))
        if field == "ip":  # a user's address: in address order too
            return (1, name_order(str(v)), name_order(name))
        return (1, str(v), name_order(name))
    return key


def ordered(items: Iterable[Item], args: argparse.Namespace, name_field: str, default_sort: str,
            fields: Optional[Sequence[str]], stream: bool) -> Iterable[Item]:
    """items in --sort order (default_sort without it), cut to --top; a streamed list (stream) stays
    as it comes when neither is given.  fields: the --sort fields allowed besides name_field (None: any)."""
    if stream and args.sort is None and args.top is None:
        return items
    field = args.sort or default_sort
    if fields is not None and field not in fields and field != name_field:
        raise UsageError("--sort %s: one of %s" % (field, ", ".join((name_field,) + tuple(fields))))
    key = sort_key(field, name_field)
    if args.top is not None:
        return heapq.nsmallest(args.top, items, key=key)  # holds N items, not the keyspace
    return sorted(items, key=key)


class UsageError(Exception):
    """A mistake in the command line: exit status 2."""


# --- output -----------------------------------------------------------------

class Table:
    """A table printed as its rows come: column widths are those of the first rows (up to `sample`)
    and grow when a later row is wider.  The first column is left-aligned, the others right."""

    def __init__(self, headers: Sequence[str], out: Optional[TextIO] = None, sample: int = 64) -> None:
        self.headers = [str(h) for h in headers]
        self.out, self.sample = out or sys.stdout, sample
        self.pending: Optional[List[List[str]]] = []
        self.widths = [len(h) for h in self.headers]

    def add(self, row: Sequence[Any]) -> None:
        cells = [str(v) for v in row]
        if self.pending is not None:
            self.pending.append(cells)
            if len(self.pending) >= self.sample:
                self._flush_pending()
            return
        self._line(cells)

    def _flush_pending(self) -> None:
        rows, self.pending = self.pending or [], None
        for r in rows:
            self.widths = [max(w, len(c)) for w, c in zip(self.widths, r)]
        self._line(self.headers)
        for r in rows:
            self._line(r)

    def _line(self, cells: Sequence[str]) -> None:
        self.widths = [max(w, len(c)) for w, c in zip(self.widths, cells)]
        parts = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, self.widths))]
        self.out.write("  ".join(parts).rstrip() + "\n")

    def close(self) -> None:
        if self.pending is not None:
            self._flush_pending()


class JsonArray:
    """A JSON array written one element per line as they come (valid JSON once closed)."""

    def __init__(self, out: Optional[TextIO] = None) -> None:
        self.out, self.n = out or sys.stdout, 0

    def add(self, obj: Any) -> None:
        self.out.write(("[\n" if self.n == 0 else ",\n") + json.dumps(obj, sort_keys=True))
        self.n += 1

    def close(self) -> None:
        self.out.write("[]\n" if self.n == 0 else "\n]\n")


def out_json(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=True))


def cell(rec: Record, field: str) -> Any:
    """A record's field for a table: an absent counter is 0 (docs/CLOUD.md), anything else absent None."""
    v = rec.get(field)
    if v is None and field not in TIME_FIELDS and field not in TEXT_FIELDS:
        return 0
    return v


def print_record(rec: Record, raw: bool, first: Optional[Tuple[str, str]] = None) -> None:
    if first is not None:
        print("%-12s %s" % first)
    for k in sorted(rec):
        print("%-12s %s" % (k, show(k, rec[k], raw)))


def list_out(args: argparse.Namespace, items: Iterable[Item], name_field: str, name_header: str,
             columns: Sequence[str]) -> int:
    """Prints (name, record) items: a table, or with --json an array of records carrying their name."""
    if args.json:
        arr = JsonArray()
        for name, rec in items:
            arr.add(dict(rec, **{name_field: name}))
        arr.close()
        return 0
    t = Table([name_header] + [c.upper() for c in columns])
    for name, rec in items:
        t.add([name] + [show(c, cell(rec, c), args.raw) for c in columns])
    t.close()
    return 0


# --- commands ---------------------------------------------------------------

def cmd_hosts(cloud: Cloud, args: argparse.Namespace) -> int:
    items = ordered(cloud.hosts(cidr=args.cidr), args, "ip", "bytes", HOST_SORTS[1:], stream=True)
    return list_out(args, items, "ip", "IP", HOST_COLUMNS)


def cmd_host(cloud: Cloud, args: argparse.Namespace) -> int:
    h = cloud.host(args.ip)
    if h is None:
        if args.json:
            out_json(None)
        else:
            print("%s: unknown host" % args.ip, file=sys.stderr)
        return 1
    if args.json:
        out_json(h)
    else:
        print_record(h, args.raw)
    return 0


def cmd_probes(cloud: Cloud, args: argparse.Namespace) -> int:
    probes = cloud.probes()
    if args.json:
        out_json(probes)
        return 0
    items = ordered(probes.items(), args, "probe", "probe", PROBE_COLUMNS + ("started", "interval_ms"),
                    stream=False)
    return list_out(args, items, "probe", "PROBE", PROBE_COLUMNS)


def cmd_users(cloud: Cloud, args: argparse.Namespace) -> int:
    items = ordered(cloud.users(cidr=args.cidr), args, "id", "since", None, stream=True)
    if args.json:
        return list_out(args, items, "id", "ID", ())
    t = Table(["ID", "IP", "SINCE", "PROBE", "ATTRIBUTES"])
    for uid, rec in items:
        attrs = " ".join("%s=%s" % (k, rec[k]) for k in sorted(rec) if k not in USER_COLUMNS)
        t.add([uid] + [show(c, rec.get(c), args.raw) for c in USER_COLUMNS] + [attrs or "-"])
    t.close()
    return 0


def cmd_user(cloud: Cloud, args: argparse.Namespace) -> int:
    """user IP: the user bound to the address; user ID (or --id): that user."""
    by_ip = not args.id
    if by_ip:
        try:
            normalise_ip(args.who)
        except ValueError:
            by_ip = False
    if by_ip:
        uid = cloud.user_of(args.who)
        info = cloud.user(uid) if uid is not None else {}
        missing = "%s: no user" % args.who
    else:
        uid = args.who
        info = cloud.user(uid)
        uid = uid if info else None
        missing = "%s: no such user ('user IP' gives the user of an address)" % args.who
    if args.json:
        out_json(None if uid is None else {"id": uid, "user": info})
    elif uid is None:
        print(missing, file=sys.stderr)
    else:
        print_record(info, args.raw, ("id", uid))
    return 0 if uid is not None else 1


def subscriber_items(recs: Iterable[Record]) -> Iterable[Item]:
    """Subscriber records as (IMSI, record) items (the record keeps its imsi; --json prints it)."""
    for rec in recs:
        yield str(rec.get("imsi")), rec


def cmd_subscribers(cloud: Cloud, args: argparse.Namespace) -> int:
    items = ordered(subscriber_items(cloud.subscribers(active=not args.all)), args, "imsi", "imsi", None,
                    stream=False)
    return list_out(args, items, "imsi", "IMSI", SUBSCRIBER_COLUMNS)


def cmd_subscriber(cloud: Cloud, args: argparse.Namespace) -> int:
    """subscriber IMSI: that subscriber; subscriber IP: the subscriber at a UE address."""
    who = args.who
    try:
        normalise_ip(who)
        by_ip = True
    except ValueError:
        by_ip = False
    if by_ip:
        uid = cloud.user_of(who)
        h = None
        if uid is not None and uid.isdigit() and uid.isascii() and len(uid) <= 15:
            h = cloud.subscriber(uid)
        elif uid is not None:  # a user an application bound with an imsi attribute
            rec = cloud.user(uid)
            if is_subscriber(rec):
                h = dict(subscriber_record(rec), id=uid)
        missing = "%s: no subscriber at this address" % who
    else:
        if not (who.isdigit() and who.isascii() and len(who) <= 15):
            raise UsageError("subscriber takes an IMSI (1 to 15 digits) or a UE address, not %r" % who)
        h = cloud.subscriber(who)
        missing = "%s: no such subscriber" % who
    if args.json:
        out_json(h)
    elif h is None:
        print(missing, file=sys.stderr)
    else:
        print_record(h, args.raw)
    return 0 if h is not None else 1


def cmd_events(cloud: Cloud, args: argparse.Namespace) -> int:
    gen = cloud.events(args.pattern)
    try:
        for channel, data in gen:
            if args.json:
                out_json({"channel": channel, "data": data})
            else:
                print("%s %s" % (channel, json.dumps(data, sort_keys=True)))
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        gen.close()
    return 0


def cmd_replay(cloud: Cloud, args: argparse.Namespace) -> int:
    rows = cloud.replay(since_ms=args.since, count=args.count)
    if args.json:
        out_json([{"id": i, "type": t, "data": d} for i, t, d in rows])
        return 0
    for i, t, d in rows:
        when = "" if args.raw else " " + iso_ms(i.split("-")[0])
        print("%s%s %s %s" % (i, when, t, json.dumps(d, sort_keys=True)))
    return 0


def cmd_dns(cloud: Cloud, args: argparse.Namespace) -> int:
    if args.what == "top":
        minute = args.minute
        if minute == "latest":
            minutes = cloud.dns_minutes()
            minute = minutes[-1] if minutes else None
            if minute is None:
                print("mcquery: no dns.top.* key in the cloud", file=sys.stderr)
                return 1
        elif minute is not None:
            if not minute.isdigit():
                raise UsageError("--minute takes an epoch minute (time // 60) or 'latest'")
            minute = int(minute)
        rows = cloud.dns_top(minute, args.top if args.top is not None else args.count)
        if args.json:
            out_json([{"name": n, "queries": q} for n, q in rows])
            return 0
        if minute is not None:
            print("minute %d (%s)" % (minute, iso_ms(minute * 60000)))
        t = Table(["NAME", "QUERIES"])
        for n, q in rows:
            t.add([n, show("queries", q, args.raw)])
        t.close()
        return 0
    if not args.name:
        raise UsageError("dns name needs a NAME")
    h = cloud.dns_name(args.name)
    if args.json:
        out_json(h)
        return 0 if h is not None else 1
    if h is None:
        print("%s: not in the cloud" % args.name, file=sys.stderr)
        return 1
    print_record(h, args.raw)
    return 0


def cmd_http(cloud: Cloud, args: argparse.Namespace) -> int:
    items = ordered(cloud.http_hosts().items(), args, "host", "requests", HTTP_COLUMNS + ("status_1xx",),
                    stream=False)
    return list_out(args, items, "host", "HOST", HTTP_COLUMNS)


def cmd_db(cloud: Cloud, args: argparse.Namespace) -> int:
    items = ordered(cloud.db_servers(args.kind).items(), args, "server", "queries", DB_COLUMNS, stream=False)
    return list_out(args, items, "server", "SERVER", DB_COLUMNS)


def cmd_voip(cloud: Cloud, args: argparse.Namespace) -> int:
    if args.what == "users":
        since = None if args.all else int(time.time() * 1000) - 3600 * 1000
        rows = cloud.active_voip_users(since)
        if args.top is not None:
            rows = rows[:args.top]
        items = []
        for aor, last in rows:
            rec = dict(cloud.voip_user(aor) or {})
            rec["last_activity"] = last
            items.append((aor, rec))
        return list_out(args, items, "uri", "USER", ("last_activity", "ip", "calls", "registered_until",
                                                      "user_agent"))
    if args.what == "calls":
        items = ordered(cloud.calls(active=not args.all), args, "call_id", "invite_ms", None, stream=True)
        return list_out(args, items, "call_id", "CALL-ID", CALL_COLUMNS)
    if not args.id:
        raise UsageError("voip call needs a Call-ID")
    h = cloud.call(args.id)
    if args.json:
        out_json(h)
        return 0 if h is not None else 1
    if h is None:
        print("%s: not in the cloud" % args.id, file=sys.stderr)
        return 1
    print_record(h, args.raw)
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    """flows: the collector's store, newest flows first or (--top) ranked; no cloud involved."""
    host = flowstore.address(args.host) if args.host is not None else None  # a typo: exit 2 before the store
    if args.clickhouse:
        flowstore.parse_clickhouse_url(args.clickhouse)  # a malformed URL: exit 2 before asking
    store = flowstore.ClickHouseStore(args.clickhouse) if args.clickhouse else flowstore.FlowStore(args.store)
    with store as db:
        if args.flows_top:
            rows = db.top(args.flows_top, since_ms=args.since, host=host, n=args.count or 10)
            if args.json:
                arr = JsonArray()
                for r in rows:
                    arr.add(r)
                arr.close()
                return 0
            keys = {"talkers": ["ADDR"], "ports": ["PROTO", "PORT"], "apps": ["APP"]}[args.flows_top]
            t = Table(keys + ["OCTETS", "PACKETS", "FLOWS"])
            for r in rows:
                if args.flows_top == "talkers":
                    first = [r["addr"]]
                elif args.flows_top == "ports":
                    first = [str(r["proto"]) if args.raw else flowstore.proto_name(r["proto"]), str(r["port"])]
                else:
                    first = [r["app"] or "-"]
                t.add(first + [show("bytes", r["octets"], args.raw), show("packets", r["packets"], args.raw),
                               show("flows", r["flows"], args.raw)])
            t.close()
            return 0
        flows = db.iter_flows(since_ms=args.since, host=host, limit=args.count or flowstore.DEFAULT_LIMIT)
        if args.json:
            arr = JsonArray()
            for f in flows:
                arr.add(f)
            arr.close()
            return 0
        t = Table(["START", "PROTO", "SRC", "DST", "PACKETS", "OCTETS", "APP", "USER"])
        for f in flows:
            t.add([str(f["start_ms"]) if args.raw else iso_ms(f["start_ms"]),
                   str(f["proto"]) if args.raw else flowstore.proto_name(f["proto"]),
                   flowstore.endpoint(f["src"], f["src_port"], f["proto"]),
                   flowstore.endpoint(f["dst"], f["dst_port"], f["proto"]),
                   show("packets", (f["packets"] or 0) + (f["rev_packets"] or 0), args.raw),
                   show("bytes", (f["octets"] or 0) + (f["rev_octets"] or 0), args.raw),
                   f["app"] or "-", f["user"] or "-"])
        t.close()
    return 0


HANDLERS: Dict[str, Callable[[Cloud, argparse.Namespace], int]] = {
    "hosts": cmd_hosts, "host": cmd_host, "probes": cmd_probes, "users": cmd_users, "user": cmd_user,
    "events": cmd_events, "replay": cmd_replay, "dns": cmd_dns, "http": cmd_http, "db": cmd_db, "voip": cmd_voip,
    "subscribers": cmd_subscribers, "subscriber": cmd_subscriber}
# The commands each output option means something for.
LISTS = {"hosts", "probes", "users", "http", "db", "subscribers"}
OPTION_COMMANDS = {"top": LISTS | {"dns", "voip"}, "sort": LISTS | {"voip"}, "cidr": {"hosts", "users"}}


# --- command line -----------------------------------------------------------

def _since(text: str) -> int:
    try:
        return parse_time(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _flow_since(text: str) -> int:
    try:
        return flowstore.parse_since(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _count(text: str) -> int:
    try:
        n = int(text)
        if n < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError("a positive number, not %r" % text) from None
    return n


def output_options(p: argparse.ArgumentParser, top_level: bool) -> None:
    """Options both before and after the command (mcquery --top 5 hosts, mcquery hosts --top 5): after it,
    they keep the value given before it unless given again.  (A subcommand parses into a namespace of
    its own, copied over the main one: SUPPRESS keeps what it was not given from being copied.)"""
    def d(v: Any) -> Any:
        return v if top_level else argparse.SUPPRESS
    p.add_argument("--json", action="store_true", default=d(False), help="machine-readable JSON output")
    p.add_argument("--raw", action="store_true", default=d(False),
                   help="numbers and times as stored (exact counts, epoch ms), without units")
    p.add_argument("--top", type=_count, default=d(None), metavar="N",
                   help="only the first N of a list by --sort (default: hosts by bytes, users by since, "
                        "http hosts by requests, db servers by queries, subscribers by IMSI)")
    p.add_argument("--sort", default=d(None), metavar="FIELD",
                   help="order a list by FIELD: numbers and times largest first, names in order "
                        "(hosts: %s)" % ", ".join(HOST_SORTS))
    # after the command, --cidr adds to those given before it (merged in main)
    p.add_argument("--cidr", action="append", default=d(None), metavar="NET[,NET...]",
                   dest="cidr" if top_level else "cidr_after",
                   help="only hosts (or users) in these networks, e.g. 10.0.0.0/8 or 2001:db8::/32 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mcquery", description="Query the MicroCloud written by mcprobe.",
                                 epilog="The password is best given in $%s or a file (--redis-auth-file): the "
                                        "command line is visible to every user of the machine." % AUTH_ENV)
    ap.add_argument("--redis", action="append", metavar="NODE[,NODE...]",
                    help="standalone node(s): host:port, [v6]:port or unix:/path, in the probe's order "
                         "(repeatable; default: $%s or 127.0.0.1:6379); a Redis Cluster node is "
                         "detected and used as a cluster seed" % NODES_ENV)
    ap.add_argument("--redis-cluster", metavar="HOST:PORT", help="a Redis Cluster seed node")
    ap.add_argument("--redis-auth", metavar="[USER:]PASSWORD",
                    help="AUTH (ACL user optional); prefer $%s or --redis-auth-file" % AUTH_ENV)
    ap.add_argument("--redis-auth-file", metavar="FILE",
                    help="read [USER:]PASSWORD from the first line of FILE")
    ap.add_argument("--redis-db", type=int, default=0, metavar="N", help="database number (standalone)")
    ap.add_argument("--cloud-prefix", default="", metavar="P", help="prefix of every key and channel")
    output_options(ap, True)
    ap.add_argument("--timeout", type=float, default=5, help=argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, **kw)
        output_options(p, False)
        return p

    command("hosts", help="the hosts the probes metered, as found (--sort/--top: in order)")
    p = command("host", help="one host's counters")
    p.add_argument("ip")
    command("probes", help="the probes and their counters")
    command("users", help="the users bound to addresses, as found (--sort/--top: in order)")
    p = command("user", help="'user IP': the user bound to an address (a mobile subscriber's: its IMSI); "
                          "'user ID': that user")
    p.add_argument("who", metavar="IP|ID")
    p.add_argument("--id", action="store_true", help="take the argument as a user id even if it reads as an address")
    p = command("events", help="print events as they arrive (Ctrl-C to stop)")
    p.add_argument("pattern", nargs="?", default="events.*", help="channel pattern (default events.*)")
    p = command("replay", help="the events kept in the stream")
    p.add_argument("--since", type=_since, default=0, metavar="TIME",
                   help="from this time: ISO 8601 (2024-05-01, 2024-05-01T10:00:00Z; UTC unless an offset is "
                        "given), epoch ms, or a span back from now (15m, 2h, 1d)")
    p.add_argument("--count", type=int, default=None, metavar="N", help="at most N events")
    p = command("dns", help="DNS aggregates: 'dns top [--minute M]' (names by queries), 'dns name NAME'")
    p.add_argument("what", choices=("top", "name"))
    p.add_argument("name", nargs="?", help="the query name (dns name)")
    p.add_argument("--minute", default=None, metavar="M|latest",
                   help="epoch minute (time // 60) of dns top, or 'latest' (the newest one with data); "
                        "default: the current minute")
    p.add_argument("--count", type=int, default=10, metavar="N", help="names shown by dns top (0: all)")
    p = command("http", help="HTTP aggregates: 'http hosts' (hosts by requests)")
    p.add_argument("what", choices=("hosts",))
    p = command("db", help="database servers: 'db mysql' or 'db oracle' (logins, queries, errors)")
    p.add_argument("kind", choices=("mysql", "oracle"))
    p = command("voip", help="VoIP: 'voip users' (active in the last hour, most recent first), 'voip calls' "
                             "(running calls), 'voip call ID' (one call)")
    p.add_argument("what", choices=("users", "calls", "call"))
    p.add_argument("id", nargs="?", metavar="ID", help="the Call-ID (voip call)")
    p.add_argument("--all", action="store_true", help="users: every member kept; calls: ended ones too")
    p = command("subscribers", help="the mobile subscribers with a live session (GTP-C), by IMSI, with their "
                                    "traffic")
    p.add_argument("--all", action="store_true",
                   help="also those whose session ended, while their record lingers (--gtp-linger)")
    p = command("subscriber", help="'subscriber IMSI': one mobile subscriber; 'subscriber IP': the one at a UE "
                                   "address")
    p.add_argument("who", metavar="IMSI|IP")
    # flows: the collector's store, not the cloud; its --top names what to rank (the output options'
    # --top N is -n here), so it takes --json and --raw only of them
    p = sub.add_parser("flows", help="the flows mccollector stored: newest first, or --top talkers|ports|apps")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output")
    p.add_argument("--raw", action="store_true", default=argparse.SUPPRESS,
                   help="numbers and times as stored (exact counts, epoch ms), without units")
    p.add_argument("--since", type=_flow_since, default=None, metavar="T",
                   help="only flows that started at T or later: epoch seconds, ISO 8601 (2024-05-01T10:00Z; "
                        "UTC unless an offset is given) or a span back from now (10m, 2h, 7d)")
    p.add_argument("--host", default=None, metavar="ADDR", help="only flows with ADDR as source or destination "
                                                                "(--top talkers: its peers)")
    p.add_argument("--top", dest="flows_top", choices=flowstore.TOP_KINDS, default=None,
                   help="rank by octets (both directions) instead of listing: addresses (source and "
                        "destination), (protocol, destination port) or applications")
    p.add_argument("-n", dest="count", type=_count, default=None, metavar="N",
                   help="at most N rows (default %d flows, 10 with --top)" % flowstore.DEFAULT_LIMIT)
    p.add_argument("--store", default="flows.db", metavar="FILE", help="the collector's SQLite store "
                                                                      "(default flows.db)")
    p.add_argument("--clickhouse", default=None, metavar="URL",
                   help="the collector's ClickHouse store instead (mccollector --clickhouse URL: "
                        "http://[USER[:PASSWORD]@]HOST[:PORT][/DB])")
    return ap


def read_auth(args: argparse.Namespace, environ: Dict[str, str]) -> Tuple[Optional[str], Optional[str]]:
    """(user, password) from --redis-auth, else --redis-auth-file, else $MICROCLOUD_REDIS_AUTH; all [USER:]PASSWORD."""
    if args.redis_auth is not None and args.redis_auth_file:
        raise UsageError("--redis-auth and --redis-auth-file are exclusive")
    if args.redis_auth is not None:
        text: Optional[str] = args.redis_auth
    elif args.redis_auth_file:
        try:
            with open(args.redis_auth_file, encoding="utf-8") as f:
                text = f.readline().rstrip("\r\n")
        except OSError as e:
            raise UsageError("--redis-auth-file: %s" % e) from None
        if not text:
            raise UsageError("--redis-auth-file %s: the first line is empty" % args.redis_auth_file)
    else:
        text = environ.get(AUTH_ENV) or None
    if text is None:
        return None, None
    if ":" in text:
        user, password = text.split(":", 1)
        return user or None, password
    return None, text


def check_options(args: argparse.Namespace) -> None:
    if args.json and args.raw:
        raise UsageError("--json and --raw are exclusive (JSON is always raw)")
    for opt, commands in OPTION_COMMANDS.items():
        if getattr(args, opt) is not None and args.command not in commands:
            raise UsageError("--%s is for %s, not %s" % (opt, ", ".join(sorted(commands)), args.command))
    if args.cidr is not None:
        args.cidr = parse_networks(args.cidr)  # a mistake is a usage error, before the cloud is asked


def parse_args(argv: Optional[List[str]], ap: Optional[argparse.ArgumentParser] = None) -> argparse.Namespace:
    args = (ap or build_parser()).parse_args(argv)
    if getattr(args, "cidr_after", None):
        args.cidr = (args.cidr or []) + args.cidr_after
    return args


def main(argv: Optional[List[str]] = None, environ: Optional[Dict[str, str]] = None) -> int:
    ap = build_parser()
    args = parse_args(argv, ap)
    env = dict(os.environ) if environ is None else environ
    # redis-py logs a traceback for every unreachable cluster seed: the one-line error below says it.
    logging.getLogger("redis.cluster").addHandler(logging.NullHandler())
    logging.getLogger("redis.cluster").propagate = False
    nodes = args.redis
    if args.redis_cluster and nodes:
        ap.error("--redis and --redis-cluster are exclusive")
    if not args.redis_cluster and not nodes:
        nodes = [env.get(NODES_ENV) or "127.0.0.1:6379"]
    where = args.redis_cluster or ",".join(nodes)
    try:
        check_options(args)
        if args.command == "flows":
            return cmd_flows(args)
        user, password = read_auth(args, env)
        cloud = Cloud(nodes=nodes, cluster=args.redis_cluster, password=password, user=user,
                      db=args.redis_db, prefix=args.cloud_prefix, socket_timeout=args.timeout)
        try:
            return HANDLERS[args.command](cloud, args)
        finally:
            cloud.close()
    except (UsageError, ValueError) as e:
        print("mcquery: %s" % e, file=sys.stderr)
        return 2
    except flowstore.Error as e:
        print("mcquery: %s" % e, file=sys.stderr)
        return 1
    except redis.exceptions.AuthenticationError as e:
        print("mcquery: authentication failed at %s: %s" % (where, e), file=sys.stderr)
        return 1
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, RedisClusterException) as e:
        print("mcquery: cannot reach the cloud at %s: %s" % (where, e), file=sys.stderr)
        return 1
    except redis.exceptions.RedisError as e:
        print("mcquery: %s: %s" % (where, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run() -> NoReturn:
    """The mcquery program: a reader gone away (mcquery hosts | head) ends it quietly."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
