"""client.py - the reading side of the MicroCloud contract (docs/CLOUD.md).

Cloud(nodes=[...]) reads standalone nodes, routing every key with the
contract's mapping (keyspace.node_for_key); Cloud(cluster="host:port") reads a
Redis Cluster through redis-py's RedisCluster (slot routing), and so does
Cloud(nodes=...) when its first node answers INFO as a cluster node.
"""
import ipaddress
import json
import socket
import time

import redis
from redis.cluster import RedisCluster

from . import keyspace

HOST_INT_FIELDS = ("sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes", "flows", "first_seen", "last_seen")
HOST_COUNTERS = ("sent_pkt", "rcvd_pkt", "flows")
PROBE_STR_FIELDS = ("version", "source")
STREAM_KEY = "events"

Error = redis.exceptions.RedisError


def parse_node(spec):
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
        port = rest[1:] if rest else "6379"
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    else:  # a bare host name, IPv4 address or (unbracketed) IPv6 address
        host, port = spec, "6379"
    try:
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ValueError("bad port in node address %r" % spec) from None
    return {"host": host, "port": port}


def format_node(args):
    if "unix_socket_path" in args:
        return "unix:" + args["unix_socket_path"]
    host = args["host"]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, args["port"])


def split_nodes(nodes):
    """A list and/or comma-separated strings of node addresses -> list of address strings."""
    if nodes is None:
        return []
    if isinstance(nodes, str):
        nodes = [nodes]
    out = []
    for n in nodes:
        out += [p.strip() for p in n.split(",") if p.strip()]
    return out


def normalise_ip(ip):
    """IP text as the probe writes it: inet_ntop's, i.e. IPv4 dotted and IPv6 in RFC 5952 form
    (lowercase, longest zero run compressed, ::ffff:1.2.3.4 for IPv4-mapped addresses)."""
    text = ip.strip()
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return text
    if a.version == 4:
        return str(a)
    return socket.inet_ntop(socket.AF_INET6, a.packed)


def _s(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _dict(h):
    return {_s(k): _s(v) for k, v in h.items()}


def _ints(d, skip=()):
    """Turns numeric fields of a hash into ints (those in skip stay strings)."""
    out = {}
    for k, v in d.items():
        if k not in skip:
            try:
                v = int(v)
            except (TypeError, ValueError):
                pass
        out[k] = v
    return out


def _json(data):
    data = _s(data)
    try:
        return json.loads(data)
    except (TypeError, ValueError):
        return data


class Cloud:
    """A connection to the cloud's Redis nodes (standalone list) or to a Redis Cluster."""

    def __init__(self, nodes=None, cluster=None, password=None, user=None, db=0, prefix="", socket_timeout=5):
        self.prefix = prefix or ""
        self.socket_timeout = socket_timeout
        self._auth = {}
        if password is not None:
            self._auth["password"] = password
        if user:
            self._auth["username"] = user
        self.db = db
        self.cluster = None
        self.nodes = []        # address strings, in contract order
        self._node_args = []   # redis.Redis kwargs per node
        self.clients = []      # redis.Redis per node (standalone)
        if cluster:
            if nodes:
                raise ValueError("give nodes or cluster, not both")
            seed = parse_node(cluster)
            if "host" not in seed:
                raise ValueError("a cluster seed must be host:port")
            self.cluster = RedisCluster(host=seed["host"], port=seed["port"], socket_timeout=socket_timeout,
                                        socket_connect_timeout=socket_timeout, decode_responses=False,
                                        **self._auth)
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
                self.cluster = RedisCluster(host=seed["host"], port=seed["port"], socket_timeout=socket_timeout,
                                            socket_connect_timeout=socket_timeout, decode_responses=False,
                                            **self._auth)
                self.nodes = [format_node(seed)]

    @staticmethod
    def _is_cluster_node(client):
        """1 when the node answers INFO as a Redis Cluster node; unreachable: no (errors come later)."""
        try:
            return bool(client.info("cluster").get("cluster_enabled"))
        except redis.RedisError:
            return False

    def _client(self, args, socket_timeout=None):
        t = self.socket_timeout if socket_timeout is None else socket_timeout
        return redis.Redis(db=self.db, socket_timeout=t, socket_connect_timeout=self.socket_timeout,
                           **self._auth, **args)

    def close(self):
        if self.cluster is not None:
            self.cluster.close()
        for c in self.clients:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- routing -----------------------------------------------------------

    def key(self, name):
        """The full key (prefix + name)."""
        return self.prefix + name

    def node_of(self, key):
        """Index of the standalone node that holds the full key (0 in cluster mode: one entry point)."""
        if self.cluster is not None:
            return 0
        return keyspace.node_for_key(key, len(self.clients))

    def locate(self, key):
        """Address ("host:port" or "unix:/path") of the node that holds the full key."""
        if self.cluster is not None:
            node = self.cluster.get_node_from_key(key)
            return format_node({"host": node.host, "port": int(node.port)})
        return self.nodes[self.node_of(key)]

    def _for(self, key):
        """The client to send a command on key (full key) to."""
        if self.cluster is not None:
            return self.cluster
        return self.clients[self.node_of(key)]

    def _primaries(self):
        """One redis.Redis per node holding data: every standalone node, or every cluster master."""
        if self.cluster is None:
            return list(self.clients)
        return [self.cluster.get_redis_connection(n) for n in self.cluster.get_primaries()]

    def ping(self):
        for c in self._primaries():
            c.ping()
        return True

    # --- reads -------------------------------------------------------------

    def _hgetall(self, key):
        h = self._for(key).hgetall(key)
        return _dict(h) if h else None

    def host(self, ip):
        """The ip.<addr> hash as a dict (numeric fields as ints), or None."""
        h = self._hgetall(self.key("ip." + normalise_ip(ip)))
        return _ints(h) if h is not None else None

    def _scan_hashes(self, pattern):
        """{full key: dict} for every key matching prefix+pattern on every node."""
        out = {}
        for c in self._primaries():
            keys = list(c.scan_iter(match=self._glob(self.prefix) + pattern, count=1000))
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                with c.pipeline(transaction=False) as p:
                    for k in chunk:
                        p.hgetall(k)
                    res = p.execute(raise_on_error=False)
                for k, h in zip(chunk, res):
                    if isinstance(h, dict) and h:
                        out[_s(k)] = _dict(h)
        return out

    @staticmethod
    def _glob(text):
        """text with glob specials escaped, for SCAN MATCH."""
        return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)

    def hosts(self):
        """{ip: host dict} over all nodes, for the hosts a probe metered: an ip.<addr> hash with
        only a passive-DNS `name` (an address seen in a DNS answer, never in traffic) is not one."""
        base = self.prefix + "ip."
        return {k[len(base):]: _ints(h) for k, h in self._scan_hashes("ip.*").items()
                if any(f in h for f in HOST_COUNTERS)}

    # --- application layer (dns.*, http.host.*, mysql.server.*, oracle.server.*) ---

    def dns_top(self, minute=None, count=10):
        """[(name, queries)] of dns.top.<minute> (default: the current minute), busiest first."""
        import time as _time
        if minute is None:
            minute = int(_time.time()) // 60
        key = self.key("dns.top.%d" % int(minute))
        rows = self._for(key).zrevrange(key, 0, count - 1 if count else -1, withscores=True)
        return [(_s(m), int(sc)) for m, sc in rows]

    def dns_minutes(self):
        """The epoch minutes that have a dns.top.<minute> set, oldest first (every node)."""
        base = self.prefix + "dns.top."
        out = set()
        for c in self._primaries():
            for k in c.scan_iter(match=self._glob(base) + "*", count=1000):
                tail = _s(k)[len(base):]
                if tail.isdigit():
                    out.add(int(tail))
        return sorted(out)

    def dns_name(self, name):
        """The dns.name.<qname> hash (numeric fields as ints), or None."""
        h = self._hgetall(self.key("dns.name." + name.rstrip(".").lower()))
        return _ints(h) if h is not None else None

    def dns_names(self):
        """{qname: dns.name hash} over all nodes."""
        base = self.prefix + "dns.name."
        return {k[len(base):]: _ints(h) for k, h in self._scan_hashes("dns.name.*").items()}

    def http_hosts(self):
        """{host: http.host hash} over all nodes."""
        base = self.prefix + "http.host."
        return {k[len(base):]: _ints(h) for k, h in self._scan_hashes("http.host.*").items()}

    def db_servers(self, kind="mysql"):
        """{addr:port: <kind>.server hash} over all nodes (kind: mysql or oracle)."""
        base = self.prefix + kind + ".server."
        return {k[len(base):]: _ints(h) for k, h in self._scan_hashes(kind + ".server.*").items()}

    def user_of(self, ip):
        """The user id bound to ip (user.ip.<addr>), or None."""
        key = self.key("user.ip." + normalise_ip(ip))
        v = self._for(key).get(key)
        return _s(v) if v is not None else None

    def user(self, uid):
        """The user.<id> hash as a dict ({} when unknown); `since` as an int."""
        h = self._hgetall(self.key("user." + str(uid))) or {}
        if "since" in h:
            try:
                h["since"] = int(h["since"])
            except ValueError:
                pass
        return h

    def probes(self):
        """{probe id: probe dict} over all nodes (counters as ints)."""
        base = self.prefix + "probe."
        return {k[len(base):]: _ints(h, PROBE_STR_FIELDS) for k, h in self._scan_hashes("probe.*").items()}

    # --- events ------------------------------------------------------------

    def _pubsub_clients(self):
        if self.cluster is None:
            return list(self.clients)
        # The cluster bus propagates every PUBLISH to every node: one node is enough.
        node = self.cluster.get_primaries()[0]
        return [self._client({"host": node.host, "port": int(node.port)})]

    def events(self, pattern="events.*", idle_timeout=None, poll=0.2):
        """Subscribes (PSUBSCRIBE prefix+pattern) now, on every standalone node or on one cluster node,
        and returns a generator of (channel without the prefix, payload dict).

        The subscription is in place when this returns, so events published after
        it are seen.  The generator runs until closed, or until idle_timeout
        seconds pass without an event when idle_timeout is given.
        """
        full = self.prefix + pattern
        subs = []
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

    def _event_loop(self, subs, idle_timeout, poll):
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
    def _entry(eid, fields):
        f = _dict(fields)
        return _s(eid), f.get("type"), _json(f.get("data"))

    def replay(self, since_ms=0, count=None):
        """Events of the stream from since_ms (epoch ms) on: [(stream id, type, data dict)]."""
        key = self.key(STREAM_KEY)
        start = "%d-0" % since_ms if since_ms else "-"
        rows = self._for(key).xrange(key, min=start, max="+", count=count)
        return [self._entry(eid, fields) for eid, fields in rows]

    def consume(self, group, consumer, block_ms=1000, count=100, start="0", follow=True):
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
    def _create_group(c, key, group, start):
        try:
            c.xgroup_create(key, group, id=start, mkstream=True)
        except redis.exceptions.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def _consume_loop(self, c, key, group, consumer, block_ms, count, follow):
        # A blocking read must end before the socket times out.
        step = block_ms
        if block_ms and self.socket_timeout:
            step = max(1, min(block_ms, int(self.socket_timeout * 1000 / 2)))
        pending_id = "0"   # first our own pending entries, then new ones (">")
        unacked = None
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
