#!/usr/bin/python3
"""gen-l7-bench-pcap.py - a capture for the application-layer benchmark
(bench/l7.py): many concurrent flows carrying real DNS, HTTP/1.1 and MySQL
payloads, interleaved packet by packet.

Usage: scripts/gen-l7-bench-pcap.py PATH [--packets N] [--concurrent N] [--seed S]

Flows (IPv4, Ethernet, checksums left 0):
  DNS    UDP 53: a query (A or AAAA, names from a 4,000-name population with
         a long tail) and its response (1-3 answers, some NXDOMAIN).
  HTTP   TCP 80: handshake, 1-4 keep-alive GETs (Host, User-Agent, Accept,
         some Referer), responses with Content-Length bodies of 200 B-6 KB
         in 1460-byte segments (some chunked), FIN both ways.
  MySQL  TCP 3306: greeting (protocol 10), login with user and database,
         OK, 2-6 COM_QUERY with result sets, OKs or ERR 1146, COM_QUIT.
About 45% DNS, 35% HTTP and 20% MySQL flows; `--concurrent` flows are open
at once (default 20,000).  Deterministic (fixed seed).  Writes PATH.meta
(JSON: packets, flows, peak concurrent flows).  Standard library only.
"""
import argparse
import json
import random
import struct

BASE_SEC = 1717236000
ETH = bytes.fromhex("001b21bb0002001b21aa00010800")
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def ip4(n):
    return struct.pack("!I", n)


def ipv4_hdr(src, dst, proto, plen, ident):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + plen, ident & 0xffff, 0x4000, 64, proto, 0, src, dst)


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.n = 0
        self.us = 0
        self.ident = 0

    def frame(self, src, dst, proto, l4):
        self.ident += 1
        data = ETH + ipv4_hdr(src, dst, proto, len(l4), self.ident) + l4
        self.us += 20
        t = BASE_SEC * 1000000 + self.us
        self.f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(data), len(data)) + data)
        self.n += 1


def names(rng):
    tlds = ["com", "net", "org", "io", "de", "fr", "co.uk"]
    words = ["cdn", "api", "www", "mail", "static", "img", "video", "shop", "news", "cloud", "edge", "auth"]
    out = []
    for i in range(4000):
        out.append("%s.%s%d.%s" % (rng.choice(words), rng.choice(words), i, rng.choice(tlds)))
    return out


def dns_name(n):
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\0"


def dns_flow(rng, name_pop):
    name = name_pop[min(int(rng.paretovariate(1.2)) - 1, len(name_pop) - 1)] if rng.random() < 0.7 \
        else rng.choice(name_pop)
    qid = rng.randrange(65536)
    qtype = 1 if rng.random() < 0.8 else 28
    q = dns_name(name) + struct.pack("!HH", qtype, 1)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1) + q + bytes.fromhex("0000291000000000000000")
    nx = rng.random() < 0.1
    if nx:
        resp = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + q
    else:
        n = rng.randrange(1, 4)
        ans = b""
        for k in range(n):
            rdata = ip4(0x5db8d800 + rng.randrange(1 << 16)) if qtype == 1 else bytes(rng.randrange(256) for _ in range(16))
            ans += struct.pack("!HHHIH", 0xc00c, qtype, 1, rng.randrange(30, 3600), len(rdata)) + rdata
        resp = struct.pack("!HHHHHH", qid, 0x8180, 1, n, 0, 0) + q + ans
    yield 0, 17, query
    yield 1, 17, resp


class Tcp:
    """Sequence numbers of one connection; yields (dir, 6, segment)."""

    def __init__(self, rng, sport, dport):
        self.sport, self.dport = sport, dport
        self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]

    def seg(self, d, flags, data=b""):
        sp, dp = (self.sport, self.dport) if d == 0 else (self.dport, self.sport)
        s = struct.pack("!HHIIBBHHH", sp, dp, self.seq[d], self.seq[1 - d], 0x50, flags, 65535, 0, 0) + data
        self.seq[d] = (self.seq[d] + len(data) + (1 if flags & (SYN | FIN) else 0)) & 0xffffffff
        return d, 6, s

    def open(self):
        yield self.seg(0, SYN)
        yield self.seg(1, SYN | ACK)
        yield self.seg(0, ACK)

    def send(self, d, data, mss=1460):
        for i in range(0, len(data), mss):
            yield self.seg(d, ACK | PSH, data[i:i + mss])
        yield self.seg(1 - d, ACK)

    def close(self):
        yield self.seg(0, FIN | ACK)
        yield self.seg(1, FIN | ACK)
        yield self.seg(0, ACK)


AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0", "curl/7.88.1", "Mozilla/5.0 (iPhone) Safari/604.1",
          "okhttp/4.10.0"]


def http_flow(rng, name_pop, sport):
    t = Tcp(rng, sport, 80)
    yield from t.open()
    host = rng.choice(name_pop)
    for _ in range(rng.randrange(1, 5)):
        path = "/%s/%d.%s" % (rng.choice(["img", "js", "api/v1", "css", "video"]), rng.randrange(100000),
                              rng.choice(["png", "js", "json", "css", "mp4"]))
        req = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n" % (path, host, rng.choice(AGENTS))
        if rng.random() < 0.3:
            req += "Referer: http://%s/\r\n" % host
        yield from t.send(0, (req + "\r\n").encode())
        status = rng.choice([200] * 8 + [304, 404])
        body = b"x" * (0 if status == 304 else rng.randrange(200, 6000))
        if rng.random() < 0.2 and body:
            head = "HTTP/1.1 %d OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n" % status
            payload = head.encode() + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        else:
            head = "HTTP/1.1 %d OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % (status, len(body))
            payload = head.encode() + body
        yield from t.send(1, payload)
    yield from t.close()


def my_pkt(seq, body):
    return struct.pack("<I", len(body))[:3] + bytes([seq]) + body


def mysql_flow(rng, sport):
    t = Tcp(rng, sport, 3306)
    yield from t.open()
    greet = (b"\x0a" + b"10.11.19-MariaDB-0+deb12u1\0" + struct.pack("<I", rng.randrange(1 << 31)) + b"abcdefgh\0"
             + struct.pack("<HBHH", 0xf7fe, 45, 2, 0x003f) + bytes([21]) + b"\0" * 10 + b"ijklmnopqrst\0"
             + b"mysql_native_password\0")
    yield from t.send(1, my_pkt(0, greet))
    user = rng.choice(["app", "report", "root", "web"])
    login = (struct.pack("<IIB", 0x000aa28d, 16777216, 45) + b"\0" * 23 + user.encode() + b"\0" + bytes([20])
             + bytes(20) + b"shop\0" + b"mysql_native_password\0")
    yield from t.send(0, my_pkt(1, login))
    yield from t.send(1, my_pkt(2, b"\x00\x00\x00\x02\x00\x00\x00"))
    for _ in range(rng.randrange(2, 7)):
        q = rng.choice(["SELECT id, name FROM customers WHERE id = %d" % rng.randrange(10000),
                        "UPDATE stock SET qty = qty - 1 WHERE item = %d" % rng.randrange(500),
                        "SELECT * FROM missing_table"])
        yield from t.send(0, my_pkt(0, b"\x03" + q.encode()))
        if q.startswith("UPDATE"):
            yield from t.send(1, my_pkt(1, b"\x00\x01\x00\x02\x00\x00\x00"))
        elif "missing" in q:
            yield from t.send(1, my_pkt(1, b"\xff" + struct.pack("<H", 1146) + b"#42S02Table 'shop.missing_table' doesn't exist"))
        else:
            cols = [my_pkt(1, b"\x02")]
            for i, c in enumerate((b"id", b"name")):
                cols.append(my_pkt(2 + i, b"\x03def\x04shop\x09customers\x09customers" + bytes([len(c)]) + c
                                   + bytes([len(c)]) + c + b"\x0c\x21\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"))
            rows = [my_pkt(4 + i, b"\x04%04d\x05name%d" % (i, i % 10)) for i in range(rng.randrange(1, 20))]
            eof = my_pkt(4 + len(rows), b"\xfe\x00\x00\x02\x00")
            yield from t.send(1, b"".join(cols + rows + [eof]))
    yield from t.send(0, my_pkt(0, b"\x01"))
    yield from t.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--packets", type=int, default=400000)
    ap.add_argument("--concurrent", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    pop = names(rng)
    w = Writer(a.path)
    active = []
    flows = 0
    peak = 0
    next_client = 0

    def new_flow():
        nonlocal flows, next_client
        flows += 1
        next_client += 1
        cli = ip4(0x0a000000 + next_client % 60000 + 1)
        srv = ip4(0xc0a80000 + rng.randrange(2000))
        sport = 1024 + (flows * 7) % 60000
        r = rng.random()
        if r < 0.45:
            srv = ip4(0xc0a80035 + rng.randrange(4))
            gen = ((d, p, struct.pack("!HHHH", sport if d == 0 else 53, 53 if d == 0 else sport, 8 + len(x), 0) + x)
                   for d, p, x in dns_flow(rng, pop))
        elif r < 0.8:
            gen = http_flow(rng, pop, sport)
        else:
            gen = mysql_flow(rng, sport)
        return [cli, srv, gen]

    while w.n < a.packets:
        while len(active) < a.concurrent:
            active.append(new_flow())
        peak = max(peak, len(active))
        i = rng.randrange(len(active))
        f = active[i]
        try:
            d, proto, l4 = next(f[2])
        except StopIteration:
            active[i] = active[-1]
            active.pop()
            continue
        src, dst = (f[0], f[1]) if d == 0 else (f[1], f[0])
        w.frame(src, dst, proto, l4)
    w.f.close()
    with open(a.path + ".meta", "w") as m:
        json.dump({"packets": w.n, "flows": flows, "peak_concurrent_flows": peak}, m)


main()
