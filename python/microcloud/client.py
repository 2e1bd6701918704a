"""client.py - the MicroCloud contract (docs/CLOUD.md) seen from an application.

Cloud(nodes=[...]) reads standalone nodes, routing every key with the
contract's mapping (keyspace.node_for_key); Cloud(cluster="host:port") reads a
Redis Cluster through redis-py's RedisCluster (slot routing), and so does
Cloud(nodes=...) when its first node answers INFO as a cluster node.

Reads never hold the whole keyspace: hosts() and users() are iterators over
SCAN (subscribers(), sorted by IMSI, holds only the subscribers' records).
The one write an application makes is a user association it learned
outside the probes (RADIUS, DHCP, ...): set_user() and remove_user() write the
keys the probes write and read (user.<id>, user.ip.<addr>), each on the node
the same mapping names, so the probes export those users with their flows.
"""
import ipaddress
import json
import socket
import time
from typing import (Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union)

import redis
from redis.cluster import RedisCluster

from . import keyspace

HOST_INT_FIELDS = ("sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes", "flows", "first_seen", "last_seen")
HOST_COUNTERS = ("sent_pkt", "rcvd_pkt", "flows")
PROBE_STR_FIELDS = ("version", "source")
STREAM_KEY = "events"
# The probe keeps a user id in 64 bytes (src/cloud/cloud.c USER_LEN, NUL included): longer ids would be cut.
USER_ID_MAX = 63
# Exported with the flows as mobileIMSI / mobileMSISDN: at most 15 digits (ITU-T E.212, E.164).
SUBSCRIBER_FIELDS = ("imsi", "msisdn")
# user.<imsi> fields that stay text: identities with leading zeros (MCC 001, MNC 01), addresses, names.
SUBSCRIBER_STR_FIELDS = ("ip", "ip6", "probe", "imsi", "msisdn", "imei", "apn", "rat", "teids", "mcc", "mnc")
# Key prefixes under user.* that are strings, not user hashes.
USER_STRING_KEYS = ("user.ip.", "user.teid.")
TEID_MAX = 0xFFFFFFFF
SCAN_COUNT = 1000

Error = redis.exceptions.RedisError
Value = Union[int, str]
Record = Dict[str, Value]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Cidr = Union[str, Network, Iterable[Union[str, Network]], None]

# Deletes KEYS[1] only while it still holds ARGV[1]: an address given to another user since stays his.
_DEL_IF_EQUAL = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
# Deletes the hash KEYS[1] only while its field ARGV[1] is ARGV[2] or absent: a user now at another address stays.
_DEL_HASH_IF_FIELD = ("local v = redis.call('HGET', KEYS[1], ARGV[1]) "
                      "if v == false or v == ARGV[2] then return redis.call('DEL', KEYS[1]) end return 0")


def parse_node(spec: str) -> Dict[str, Any]:
    """'host:port', '[v6]:port', 'host', 'unix:/path' -> dict of redis.Redis connection arguments."""
    spec = spec.strip()
    if not spec:
        raise ValueError("empty node address")
    if spec.startswith("unix:"):
        path = spec[5:]
        if not path:
            raise ValueError("unix: needs a path: %r" % spec)
        return {"unix_socket_path": path}
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise ValueError("bad node address %r" % spec)
        host, rest = spec[1:end], spec[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError("bad node address %r" % spec)
        port_text = rest[1:] if rest else "6379"
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
    else:  # a bare host name, IPv4 address or (unbracketed) IPv6 address
        host, port_text = spec, "6379"
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ValueError("bad port in node address %r" % spec) from None
    return {"host": host, "port": port}


def format_node(args: Dict[str, Any]) -> str:
    if "unix_socket_path" in args:
        return "unix:" + args["unix_socket_path"]
    host = args["host"]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, args["port"])


def split_nodes(nodes: Union[str, Sequence[str], None]) -> List[str]:
    """A list and/or comma-separated strings of node addresses -> list of address strings."""
    if nodes is None:
        return []
    if isinstance(nodes, str):
        nodes = [nodes]
    out: List[str] = []
    for n in nodes:
        out += [p.strip() for p in n.split(",") if p.strip()]
    return out


def normalise_ip(ip: Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]) -> str:
    """IP text as the probe writes it: inet_ntop's, i.e. IPv4 dotted and IPv6 in RFC 5952 form
    (lowercase, longest zero run compressed, ::ffff:1.2.3.4 for IPv4-mapped addresses).

    Raises ValueError when ip is not an IPv4 or IPv6 address: a typo must not
    look like an address the cloud does not know.
    """
    if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        a = ip
    else:
        if not isinstance(ip, str):
            raise ValueError("not an IP address: %r" % (ip,))
        try:
            a = ipaddress.ip_address(ip.strip())
        except ValueError:
            raise ValueError("not an IP address: %r" % ip) from None
    if a.version == 4:
        return str(a)
    return socket.inet_ntop(socket.AF_INET6, a.packed)  # no scope: the probe writes none


def parse_networks(cidr: Cidr) -> List[Network]:
    """'10.0.0.0/8', an ip_network, or several of them (a list, or one string separated by commas)
    -> [ip_network]; a bare address is its own /32 or /128.  Host bits set: ValueError."""
    if cidr is None:
        return []
    items = [cidr] if isinstance(cidr, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)) else list(cidr)
    out: List[Network] = []
    for item in items:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            out.append(item)
            continue
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(ipaddress.ip_network(part))
            except ValueError as e:
                raise ValueError("bad network %r: %s" % (part, e)) from None
    return out


def in_networks(ip: str, networks: Sequence[Network]) -> bool:
    """True when the address text ip is in one of networks (or networks is empty); not an address: False."""
    if not networks:
        return True
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(a.version == n.version and a in n for n in networks)


def _scan_tail(networks: Sequence[Network]) -> str:
    """A SCAN MATCH glob for the address part of keys in networks: narrower than '*' for one IPv4
    network on an octet boundary (10.1.0.0/16 -> '10.1.*'); the caller still filters exactly."""
    if len(networks) != 1 or networks[0].version != 4 or networks[0].prefixlen % 8:
        return "*"
    octets = str(networks[0].network_address).split(".")[:networks[0].prefixlen // 8]
    return "".join(o + "." for o in octets) + "*"


def _check_user_id(uid: str) -> str:
    if not isinstance(uid, str) or not uid:
        raise ValueError("a user id is a non-empty string, not %r" % (uid,))
    if len(uid.encode("utf-8")) > USER_ID_MAX:
        raise ValueError("user id %r is longer than %d bytes (the probes would cut it)" % (uid, USER_ID_MAX))
    if uid.startswith("ip."):
        raise ValueError("user id %r: user.ip.* are the address keys" % uid)
    if any(ch in uid for ch in "\r\n\0"):
        raise ValueError("user id %r holds a control character" % uid)
    return uid


def _attr_value(name: str, value: Any) -> str:
    if not name or any(ch in name for ch in "\r\n\0"):
        raise ValueError("bad attribute name %r" % name)
    if isinstance(value, bool) or not isinstance(value, (str, int, float, bytes)):
        raise TypeError("attribute %s: a str, int, float or bytes, not %r" % (name, value))
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    if name in SUBSCRIBER_FIELDS and not (text.isdigit() and text.isascii() and 1 <= len(text) <= 15):
        raise ValueError("%s %r: 1 to 15 digits" % (name, text))
    return text


def _check_imsi(imsi: str) -> str:
    if not isinstance(imsi, str) or not (imsi.isdigit() and imsi.isascii() and 1 <= len(imsi) <= 15):
        raise ValueError("an IMSI is 1 to 15 digits, not %r" % (imsi,))
    return imsi


def teid_key(addr: str, teid: Union[int, str]) -> str:
    """user.teid.<addr>:<teid> as the probe writes it: the address normalised (IPv6 in brackets), the TEID
    in decimal (given as an int, decimal text or 0x hex text).  Not an address, or a TEID that is not 0 to
    2^32-1: ValueError."""
    a = normalise_ip(addr)
    if isinstance(teid, bool) or not isinstance(teid, (int, str)):
        raise ValueError("a TEID is a number, not %r" % (teid,))
    try:
        t = teid.strip().lower() if isinstance(teid, str) else ""
        n = teid if isinstance(teid, int) else int(t[2:], 16) if t.startswith("0x") else int(t, 10)
    except ValueError:
        raise ValueError("a TEID is a number, not %r" % teid) from None
    if not 0 <= n <= TEID_MAX:
        raise ValueError("TEID %r is outside 0 to %d" % (teid, TEID_MAX))
    return "user.teid.%s:%d" % ("[%s]" % a if ":" in a else a, n)


def subscriber_record(h: Dict[str, str]) -> Record:
    """A user.<imsi> hash as a record: counters, times and location codes as ints, identities and
    addresses as text; fields the probe left empty (what GTP-C did not give) left out."""
    return _ints({k: v for k, v in h.items() if v != ""}, SUBSCRIBER_STR_FIELDS)


def is_subscriber(h: Dict[str, Any]) -> bool:
    """A user hash with a non-empty imsi: a mobile subscriber."""
    return bool(h.get("imsi"))


def in_session(h: Dict[str, Any]) -> bool:
    """A subscriber with a live session: it has a UE address (a session that ended removes them)."""
    return bool(h.get("ip") or h.get("ip6"))


def _s(v: Any) -> Any:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _dict(h: Dict[Any, Any]) -> Dict[str, str]:
    return {_s(k): _s(v) for k, v in h.items()}


def _ints(d: Dict[str, Any], skip: Sequence[str] = ()) -> Record:
    """Turns numeric fields of a hash into ints (those in skip stay strings)."""
    out: Record = {}
    for k, v in d.items():
        if k not in skip:
            try:
                v = int(v)
            except (TypeError, ValueError):
                pass
        out[k] = v
    return out


def _json(data: Any) -> Any:
    data = _s(data)
    try:
        return json.loads(data)
    except (TypeError, ValueError):
        return data


class Cloud:
    """A connection to the cloud's Redis nodes (standalone list) or to a Redis Cluster."""

    def __init__(self, nodes: Union[str, Sequence[str], None] = None, cluster: Optional[str] = None,
                 password: Optional[str] = None, user: Optional[str] = None, db: int = 0, prefix: str = "",
                 socket_timeout: Optional[float] = 5) -> None:
        self.prefix = prefix or ""
        self.socket_timeout = socket_timeout
        self._auth: Dict[str, str] = {}
        if password is not None:
            self._auth["password"] = password
        if user:
            self._auth["username"] = user
        self.db = db
        self.cluster: Optional[RedisCluster] = None
        self.nodes: List[str] = []              # address strings, in contract order
        self._node_args: List[Dict[str, Any]] = []  # redis.Redis kwargs per node
        self.clients: List[redis.Redis] = []    # redis.Redis per node (standalone)
        if cluster:
            if nodes:
                raise ValueError("give nodes or cluster, not both")
            seed = parse_node(cluster)
            if "host" not in seed:
                raise ValueError("a cluster seed must be host:port")
            self.cluster = self._cluster_client(seed)
            self.nodes = [format_node(seed)]
        else:
            specs = split_nodes(nodes) or ["127.0.0.1:6379"]
            for spec in specs:
                args = parse_node(spec)
                self.nodes.append(format_node(args))
                self._node_args.append(args)
                self.clients.append(self._client(args))
            seed = self._node_args[0]
            if "host" in seed and self._is_cluster_node(self.clients[0]):
                # a cluster node given as a plain node: as the probe does, route by slot
                self.close()
                self.clients, self._node_args = [], []
                self.cluster = self._cluster_client(seed)
                self.nodes = [format_node(seed)]

    def _cluster_client(self, seed: Dict[str, Any]) -> RedisCluster:
        return RedisCluster(host=seed["host"], port=seed["port"], socket_timeout=self.socket_timeout,
                            socket_connect_timeout=self.socket_timeout, decode_responses=False, **self._auth)

    @staticmethod
    def _is_cluster_node(client: redis.Redis) -> bool:
        """1 when the node answers INFO as a Redis Cluster node; unreachable: no (errors come later)."""
        try:
            return bool(client.info("cluster").get("cluster_enabled"))
        except redis.RedisError:
            return False

    def _client(self, args: Dict[str, Any], socket_timeout: Optional[float] = None) -> redis.Redis:
        t = self.socket_timeout if socket_timeout is None else socket_timeout
        return redis.Redis(db=self.db, socket_timeout=t, socket_connect_timeout=self.socket_timeout,
                           **self._auth, **args)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
        for c in self.clients:
            c.close()

    def __enter__(self) -> "Cloud":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- routing -----------------------------------------------------------

    def key(self, name: str) -> str:
        """The full key (prefix + name)."""
        return self.prefix + name

    def node_of(self, key: str) -> int:
        """Index of the standalone node that holds the full key (0 in cluster mode: one entry point)."""
        if self.cluster is not None:
            return 0
        return keyspace.node_for_key(key, len(self.clients))

    def locate(self, key: str) -> str:
        """Address ("host:port" or "unix:/path") of the node that holds the full key."""
        if self.cluster is not None:
            node = self.cluster.get_node_from_key(key)
            return format_node({"host": node.host, "port": int(node.port)})
        return self.nodes[self.node_of(key)]

    def _for(self, key: str) -> Any:
        """The client to send a command on key (full key) to: the node's, or the cluster's (it routes)."""
        if self.cluster is not None:
            return self.cluster
        return self.clients[self.node_of(key)]

    def _primaries(self) -> List[redis.Redis]:
        """One redis.Redis per node holding data: every standalone node, or every cluster master."""
        if self.cluster is None:
            return list(self.clients)
        return [self.cluster.get_redis_connection(n) for n in self.cluster.get_primaries()]

    def ping(self) -> bool:
        for c in self._primaries():
            c.ping()
        return True

    # --- reads -------------------------------------------------------------

    def _hgetall(self, key: str) -> Optional[Dict[str, str]]:
        h = self._for(key).hgetall(key)
        return _dict(h) if h else None

    def host(self, ip: str) -> Optional[Record]:
        """The ip.<addr> hash as a dict (numeric fields as ints), or None.  Not an address: ValueError."""
        h = self._hgetall(self.key("ip." + normalise_ip(ip)))
        return _ints(h) if h is not None else None

    def _scan_batches(self, match: str) -> Iterator[Tuple[redis.Redis, List[bytes]]]:
        """(node client, keys) for each SCAN reply of every node: one reply's keys at a time."""
        for c in self._primaries():
            cursor = 0
            while True:
                cursor, keys = c.scan(cursor=cursor, match=match, count=SCAN_COUNT)
                if keys:
                    yield c, keys
                if not int(cursor):
                    break

    def _scan_hashes(self, pattern: str, skip: Union[str, Sequence[str], None] = None
                     ) -> Iterator[Tuple[str, Dict[str, str]]]:
        """(full key, hash) for every hash matching prefix+pattern on every node, as SCAN finds them
        (one pipeline of HGETALL per SCAN reply); keys starting with prefix+skip (one or several) are
        left out.  As SCAN, a key may come twice when its node resizes its table during the scan."""
        skips = [skip] if isinstance(skip, str) else list(skip or ())
        skip_b = tuple((self.prefix + x).encode("utf-8") for x in skips)
        for c, keys in self._scan_batches(self._glob(self.prefix) + pattern):
            if skip_b:
                keys = [k for k in keys if not k.startswith(skip_b)]
            if not keys:
                continue
            with c.pipeline(transaction=False) as p:
                for k in keys:
                    p.hgetall(k)
                res = p.execute(raise_on_error=False)
            for k, h in zip(keys, res):
                if isinstance(h, dict) and h:  # gone since the SCAN, another type, or MOVED: left out
                    yield _s(k), _dict(h)

    @staticmethod
    def _glob(text: str) -> str:
        """text with glob specials escaped, for SCAN MATCH."""
        return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)

    def hosts(self, cidr: Cidr = None) -> Iterator[Tuple[str, Record]]:
        """An iterator of (ip, host dict) over all nodes, as SCAN finds them: nothing is held but one
        SCAN reply, so the first host comes at once however many there are (dict(cloud.hosts()) for
        all of them).  Only the hosts a probe metered: an ip.<addr> hash with only a passive-DNS
        `name` (an address seen in a DNS answer, never in traffic) is not one.  cidr: only the hosts in
        these networks ("10.0.0.0/8", or several: a list or "10.0.0.0/8,2001:db8::/32")."""
        networks = parse_networks(cidr)
        base = len(self.prefix) + len("ip.")
        for k, h in self._scan_hashes("ip." + _scan_tail(networks)):
            ip = k[base:]
            if any(f in h for f in HOST_COUNTERS) and in_networks(ip, networks):
                yield ip, _ints(h)

    # --- application layer (dns.*, http.host.*, mysql.server.*, oracle.server.*) ---

    def dns_top(self, minute: Optional[int] = None, count: int = 10) -> List[Tuple[str, int]]:
        """[(name, queries)] of dns.top.<minute> (default: the current minute), busiest first."""
        if minute is None:
            minute = int(time.time()) // 60
        key = self.key("dns.top.%d" % int(minute))
        rows = self._for(key).zrevrange(key, 0, count - 1 if count else -1, withscores=True)
        return [(_s(m), int(sc)) for m, sc in rows]

    def dns_minutes(self) -> List[int]:
        """The epoch minutes that have a dns.top.<minute> set, oldest first (every node)."""
        base = self.prefix + "dns.top."
        out = set()
        for _, keys in self._scan_batches(self._glob(base) + "*"):
            for k in keys:
                tail = _s(k)[len(base):]
                if tail.isdigit():
                    out.add(int(tail))
        return sorted(out)

    def dns_name(self, name: str) -> Optional[Record]:
        """The dns.name.<qname> hash (numeric fields as ints), or None."""
        h = self._hgetall(self.key("dns.name." + name.rstrip(".").lower()))
        return _ints(h) if h is not None else None

    def dns_names(self) -> Dict[str, Record]:
        """{qname: dns.name hash} over all nodes."""
        base = len(self.prefix + "dns.name.")
        return {k[base:]: _ints(h) for k, h in self._scan_hashes("dns.name.*")}

    def http_hosts(self) -> Dict[str, Record]:
        """{host: http.host hash} over all nodes."""
        base = len(self.prefix + "http.host.")
        return {k[base:]: _ints(h) for k, h in self._scan_hashes("http.host.*")}

    def db_servers(self, kind: str = "mysql") -> Dict[str, Record]:
        """{addr:port: <kind>.server hash} over all nodes (kind: mysql or oracle)."""
        base = len(self.prefix + kind + ".server.")
        return {k[base:]: _ints(h) for k, h in self._scan_hashes(kind + ".server.*")}

    # --- VoIP (the probes' call layer: docs/CLOUD.md voip.*) -----------------

    ACTIVE_CALL_STATES = ("trying", "ringing", "answered")

    def active_voip_users(self, since_ms: Optional[int] = None) -> List[Tuple[str, int]]:
        """[(address of record, last activity in epoch ms)] of voip.users, the most recently active
        first; since_ms: only those active since then (default: all the set keeps, the last hour)."""
        key = self.key("voip.users")
        lo = "-inf" if since_ms is None else int(since_ms)
        rows = self._for(key).zrevrangebyscore(key, "+inf", lo, withscores=True)
        return [(_s(m), int(sc)) for m, sc in rows]

    def voip_user(self, aor: str) -> Optional[Record]:
        """The voip.user.<aor> hash (numeric fields as ints), or None."""
        h = self._hgetall(self.key("voip.user." + aor))
        return _ints(h, skip=("ip",)) if h is not None else None

    def calls(self, active: bool = False) -> Iterator[Tuple[str, Record]]:
        """(Call-ID, voip.call hash) over all nodes, as found (an iterator over SCAN); active: only
        calls still trying, ringing or answered."""
        base = len(self.prefix + "voip.call.")
        for k, h in self._scan_hashes("voip.call.*"):
            if not active or h.get("state") in self.ACTIVE_CALL_STATES:
                yield k[base:], _ints(h, skip=("caller_ip", "callee_ip"))

    def call(self, call_id: str) -> Optional[Record]:
        """One call's voip.call.<call-id> hash, or None."""
        h = self._hgetall(self.key("voip.call." + call_id))
        return _ints(h, skip=("caller_ip", "callee_ip")) if h is not None else None

    def call_at(self, ip: str, port: int) -> Optional[str]:
        """The Call-ID whose SDP announced media at ip:port (voip.rtp.*), or None."""
        a = ipaddress.ip_address(normalise_ip(ip))
        key = self.key("voip.rtp.%s:%d" % (("[%s]" % a) if a.version == 6 else a, int(port)))
        v = self._for(key).hget(key, "call_id")
        return _s(v) if v is not None else None

    # --- users -------------------------------------------------------------

    def user_of(self, ip: str) -> Optional[str]:
        """The user id bound to ip (user.ip.<addr>), or None: for a mobile subscriber (a UE address a
        GTP-C session gave, IPv4 or IPv6) its IMSI.  An IPv6 address without a key is looked up by its
        /64 (user.ip.<prefix>/64), as the probes do: a UE picks its interface id in the prefix its
        session gave.  Not an address: ValueError."""
        addr = normalise_ip(ip)
        key = self.key("user.ip." + addr)
        v = self._for(key).get(key)
        if v is None and ":" in addr:
            net = ipaddress.ip_network(addr + "/64", strict=False)
            key = self.key("user.ip.%s/64" % net.network_address)
            v = self._for(key).get(key)
        return _s(v) if v is not None else None

    @staticmethod
    def _user_record(h: Dict[str, str]) -> Record:
        out: Record = dict(h)
        if "since" in h:
            try:
                out["since"] = int(h["since"])
            except ValueError:
                pass
        return out

    def user(self, uid: str) -> Record:
        """The user.<id> hash as a dict ({} when unknown); `since` as an int."""
        return self._user_record(self._hgetall(self.key("user." + str(uid))) or {})

    def users(self, cidr: Cidr = None) -> Iterator[Tuple[str, Record]]:
        """An iterator of (user id, user dict) over all nodes, as SCAN finds them (as hosts()).
        cidr: only the users whose `ip` is in these networks."""
        networks = parse_networks(cidr)
        base = len(self.prefix) + len("user.")
        for k, h in self._scan_hashes("user.*", skip=USER_STRING_KEYS):
            if in_networks(h.get("ip", ""), networks):
                yield k[base:], self._user_record(h)

    # --- mobile subscribers (GTP-C: docs/CLOUD.md user.<imsi>, user.teid.*) --

    def subscriber(self, imsi: str) -> Optional[Record]:
        """The user.<imsi> hash of a mobile subscriber (counters, times, location codes as ints; fields
        GTP-C did not give left out), or None: no such key, or a user that is no subscriber (no imsi).
        A subscriber whose session ended lingers without ip, ip6 and teids until its key expires.
        Not 1 to 15 digits: ValueError."""
        h = self._hgetall(self.key("user." + _check_imsi(imsi)))
        if h is None or not is_subscriber(h):
            return None
        return subscriber_record(h)

    def subscribers(self, active: bool = True) -> List[Record]:
        """The mobile subscribers (user.* hashes with an imsi) of every node, sorted by IMSI.  active:
        only those with a live session (an ip or ip6); False: the lingering ones too.  A user that an
        application bound with an imsi attribute (set_user) is one too: its record then carries
        `id`, its user id, when that is not its IMSI."""
        base = len(self.prefix) + len("user.")
        out: Dict[str, Record] = {}  # by user id: SCAN may give a key twice
        for k, h in self._scan_hashes("user.*", skip=USER_STRING_KEYS):
            if not is_subscriber(h) or (active and not in_session(h)):
                continue
            uid = k[base:]
            rec = subscriber_record(h)
            if uid != rec.get("imsi"):
                rec["id"] = uid
            out[uid] = rec
        return sorted(out.values(), key=lambda r: (str(r.get("imsi")), str(r.get("id", ""))))

    def subscriber_of_teid(self, addr: str, teid: Union[int, str]) -> Optional[str]:
        """The IMSI whose session has the user-plane endpoint addr, teid (user.teid.<addr>:<teid>: a GTP-U
        packet sent to addr with that TEID is the subscriber's), or None.  Bad address or TEID: ValueError."""
        key = self.key(teid_key(addr, teid))
        v = self._for(key).get(key)
        return _s(v) if v is not None else None

    def set_user(self, uid: str, ip: str, *, since: Optional[int] = None, **attrs: Any) -> None:
        """Binds user uid to address ip, as a probe that learned it does (docs/CLOUD.md): the hash
        user.<uid> gets `ip`, `since` (epoch ms, default now) and attrs, then user.ip.<addr> = uid.
        Each key goes to the node the contract names, so the probes find the user and export it with
        the flows of that address (`imsi`/`msisdn`, 1 to 15 digits, mark a mobile subscriber).

        attrs merge into the hash (an attribute given as None is removed from it).  The address's
        previous user, if any, loses it; the user's other addresses (another set_user) stay bound:
        remove_user(uid, old_ip) ends a binding.  Probes that asked about the address before see
        the user within their negative-cache time (10 s by default).

        Raises ValueError for an address that is not one, an empty or too long uid, or a bad
        imsi/msisdn; TypeError for an attribute value that is not str, int, float or bytes.
        """
        addr = normalise_ip(ip)
        _check_user_id(uid)
        fields = {"ip": addr, "since": str(int(time.time() * 1000) if since is None else int(since))}
        gone = []
        for name, value in attrs.items():
            if value is None:
                gone.append(name)
            else:
                fields[name] = _attr_value(name, value)
        ukey, ipkey = self.key("user." + uid), self.key("user.ip." + addr)
        # The hash first: a probe that finds the address's key then finds its attributes too.
        c = self._for(ukey)
        if gone:
            c.hdel(ukey, *gone)
        c.hset(ukey, mapping=fields)
        self._for(ipkey).set(ipkey, uid)

    def remove_user(self, uid: str, ip: Optional[str] = None) -> bool:
        """Ends the binding of user uid to ip (default: the address in its hash), as a probe does:
        user.ip.<addr> is deleted if it still names uid (an address given to another user since
        stays his), and user.<uid> if it still names this address (or none).  Returns True when
        something was removed.  Probes that cached the user forget it within their cache time
        (60 s by default).  Not an address: ValueError."""
        _check_user_id(uid)
        ukey = self.key("user." + uid)
        if ip is None:
            cur = self._for(ukey).hget(ukey, "ip")
            addr = _s(cur) if cur is not None else None
        else:
            addr = normalise_ip(ip)
        removed = 0
        if addr:
            ipkey = self.key("user.ip." + addr)
            removed += int(self._for(ipkey).eval(_DEL_IF_EQUAL, 1, ipkey, uid))
        removed += int(self._for(ukey).eval(_DEL_HASH_IF_FIELD, 1, ukey, "ip", addr or ""))
        return removed > 0

    def probes(self) -> Dict[str, Record]:
        """{probe id: probe dict} over all nodes (counters as ints)."""
        base = len(self.prefix + "probe.")
        return {k[base:]: _ints(h, PROBE_STR_FIELDS) for k, h in self._scan_hashes("probe.*")}

    # --- events ------------------------------------------------------------

    def _pubsub_clients(self) -> List[redis.Redis]:
        if self.cluster is None:
            return list(self.clients)
        # The cluster bus propagates every PUBLISH to every node: one node is enough.
        node = self.cluster.get_primaries()[0]
        return [self._client({"host": node.host, "port": int(node.port)})]

    def events(self, pattern: str = "events.*", idle_timeout: Optional[float] = None,
               poll: float = 0.2) -> Iterator[Tuple[str, Any]]:
        """Subscribes (PSUBSCRIBE prefix+pattern) now, on every standalone node or on one cluster node,
        and returns a generator of (channel without the prefix, payload dict).

        The subscription is in place when this returns, so events published after
        it are seen.  The generator runs until closed, or until idle_timeout
        seconds pass without an event when idle_timeout is given.
        """
        full = self.prefix + pattern
        subs: List[Any] = []
        try:
            for c in self._pubsub_clients():
                ps = c.pubsub()
                ps.psubscribe(full)
                subs.append(ps)
            for ps in subs:  # wait for each confirmation
                deadline = time.monotonic() + (self.socket_timeout or 5)
                while True:
                    m = ps.get_message(timeout=0.1)
                    if m and m["type"] == "psubscribe":
                        break
                    if time.monotonic() > deadline:
                        raise redis.exceptions.TimeoutError("no PSUBSCRIBE confirmation")
        except BaseException:
            for ps in subs:
                ps.close()
            raise
        return self._event_loop(subs, idle_timeout, poll)

    def _event_loop(self, subs: List[Any], idle_timeout: Optional[float], poll: float) -> Iterator[Tuple[str, Any]]:
        plen = len(self.prefix)
        last = time.monotonic()
        try:
            while True:
                got = False
                for ps in subs:
                    t = poll / len(subs)
                    while True:
                        m = ps.get_message(timeout=t)
                        t = 0
                        if m is None:
                            break
                        if m["type"] != "pmessage":
                            continue
                        got = True
                        yield _s(m["channel"])[plen:], _json(m["data"])
                if got:
                    last = time.monotonic()
                elif idle_timeout is not None and time.monotonic() - last >= idle_timeout:
                    return
        finally:
            for ps in subs:
                try:
                    ps.punsubscribe()
                except Error:
                    pass
                ps.close()

    @staticmethod
    def _entry(eid: Any, fields: Dict[Any, Any]) -> Tuple[str, Optional[str], Any]:
        f = _dict(fields)
        return _s(eid), f.get("type"), _json(f.get("data"))

    def replay(self, since_ms: int = 0, count: Optional[int] = None) -> List[Tuple[str, Optional[str], Any]]:
        """Events of the stream from since_ms (epoch ms) on: [(stream id, type, data dict)]."""
        key = self.key(STREAM_KEY)
        start = "%d-0" % since_ms if since_ms else "-"
        rows = self._for(key).xrange(key, min=start, max="+", count=count)
        return [self._entry(eid, fields) for eid, fields in rows]

    def consume(self, group: str, consumer: str, block_ms: int = 1000, count: int = 100, start: str = "0",
                follow: bool = True) -> Iterator[Tuple[str, Optional[str], Any]]:
        """Reads the event stream as consumer of a consumer group: a generator of (stream id, type, data).

        The group is created now (XGROUP CREATE ... MKSTREAM at `start`, "0":
        the whole stream, "$": only new events) when absent.  An event is
        acknowledged (XACK) when the next one is asked for, or when the
        generator is closed (close() it, or use contextlib.closing, so the
        last one taken is acknowledged).  A new consume() with the same group
        goes on from the group's position: the consumer's own pending events
        (delivered to a run that stopped before taking them) come first, then
        new ones.  follow=False: the generator ends once nothing new arrives
        within block_ms.
        """
        key = self.key(STREAM_KEY)
        c = self._for(key)
        # Asking first keeps redis-py's cluster client from logging the BUSYGROUP error.
        if not c.exists(key) or group not in [_s(g["name"]) for g in c.xinfo_groups(key)]:
            self._create_group(c, key, group, start)
        return self._consume_loop(c, key, group, consumer, block_ms, count, follow)

    @staticmethod
    def _create_group(c: Any, key: str, group: str, start: str) -> None:
        try:
            c.xgroup_create(key, group, id=start, mkstream=True)
        except redis.exceptions.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def _consume_loop(self, c: Any, key: str, group: str, consumer: str, block_ms: int, count: int,
                      follow: bool) -> Iterator[Tuple[str, Optional[str], Any]]:
        # A blocking read must end before the socket times out.
        step = block_ms
        if block_ms and self.socket_timeout:
            step = max(1, min(block_ms, int(self.socket_timeout * 1000 / 2)))
        pending_id: Optional[str] = "0"   # first our own pending entries, then new ones (">")
        unacked: Any = None
        try:
            while True:
                if unacked is not None:
                    c.xack(key, group, unacked)
                    unacked = None
                if pending_id is not None:
                    res = c.xreadgroup(group, consumer, {key: pending_id}, count=count)
                    rows = res[0][1] if res else []
                    if not rows:
                        pending_id = None
                        continue
                    pending_id = _s(rows[-1][0])
                else:
                    waited = 0
                    rows = []
                    while True:
                        blk = None if not block_ms else min(step, block_ms - waited)
                        res = c.xreadgroup(group, consumer, {key: ">"}, count=count, block=blk)
                        rows = res[0][1] if res else []
                        if rows or not block_ms:
                            break
                        waited += blk
                        if waited >= block_ms:
                            if not follow:
                                break
                            waited = 0
                    if not rows:
                        if not follow:
                            return
                        continue
                for eid, fields in rows:
                    if not fields:  # deleted (trimmed) while pending
                        c.xack(key, group, eid)
                        continue
                    if unacked is not None:
                        c.xack(key, group, unacked)
                    unacked = eid
                    yield self._entry(eid, fields)
        finally:
            if unacked is not None:
                try:
                    c.xack(key, group, unacked)
                except Error:
                    pass
