#!/usr/bin/python3
"""gen-demo-pcap.py - write the MicroCloud demo capture (also a test fixture).

Usage: scripts/gen-demo-pcap.py OUT.pcap

Writes a small, deterministic (fixed seed, fixed base time) classic pcap
(microsecond timestamps, LINKTYPE_ETHERNET) of about 2,000 packets spread
over about 60 seconds of packet time, with correct IPv4 header, TCP, UDP and
ICMP checksums and lengths. Frames shorter than 60 bytes are zero-padded as
on the wire, so parsers must trust the IP length, not the frame length.

Contents (client -> server, ports):
  - 22 HTTP/1.1 connections on TCP 80 (handshake, request, segmented
    response, FIN teardown), 1 TLS connection on TCP 443 (ClientHello with
    SNI, ServerHello, application data, FIN teardown)
  - DNS A queries and responses on UDP 53, ICMP echo request/reply
  - IPv6: one HTTP TCP connection, one DNS-over-UDP flow
  - 802.1Q (VLAN 100) HTTP TCP connection; QinQ (S-VLAN 200 over C-VLAN 300,
    0x88a8/0x8100) UDP flow
  - ARP requests and replies (non-IP)
  - GRE with key (key 0x1234) carrying an HTTP TCP connection
  - VXLAN (UDP 4789, VNI 5000) carrying Ethernet + IPv4 UDP (syslog)
  - GTP-U (UDP 2152, TEID 0x1001 up / 0x2002 down) carrying HTTP TCP
  - MPLS with 2 labels (1000, 2000) carrying an IPv4 UDP flow (RTP-like)
  - PPPoE session 0x0011 carrying an HTTP TCP connection
  - one UDP datagram of 3,000 payload bytes sent as 3 IPv4 fragments

Standard library only. The same run always writes the same bytes.
"""
import ipaddress
import random
import struct
import sys

SEED = 20240601
BASE_SEC = 1717236000  # 2024-06-01 10:00:00 UTC
SPAN_US = 60_000_000

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
ETH_VLAN, ETH_QINQ, ETH_MPLS, ETH_PPPOE_S = 0x8100, 0x88A8, 0x8847, 0x8864
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_GRE = 1, 6, 17, 47
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def ip(s):
    return ipaddress.ip_address(s).packed


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(data):
    """RFC 1071 Internet checksum of data."""
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def tcp_seg(src, dst, sport, dport, seq, ack, flags, payload=b"", win=64240, opts=b""):
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, win, 0, 0) + opts
    seg = hdr + payload
    c = csum(pseudo(src, dst, IPPROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_dgram(src, dst, sport, dport, payload):
    n = 8 + len(payload)
    d = struct.pack("!HHHH", sport, dport, n, 0) + payload
    c = csum(pseudo(src, dst, IPPROTO_UDP, n) + d) or 0xFFFF
    return d[:6] + struct.pack("!H", c) + d[8:]


class IPIds:
    """Per-source IPv4 identification counters, seeded deterministically."""

    def __init__(self, rng):
        self.rng, self.ids = rng, {}

    def next(self, src):
        v = self.ids.get(src)
        if v is None:
            v = self.rng.randrange(1, 0xFFFF)
        self.ids[src] = (v + 1) & 0xFFFF
        return v


def ipv4(src, dst, proto, payload, ident, ttl=64, df=True, mf=False, frag_off=0, tos=0):
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, flags, ttl, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ipv6(src, dst, nh, payload, hlim=64, flow=0):
    return struct.pack("!IHBB16s16s", (6 << 28) | flow, len(payload), nh, hlim, src, dst) + payload


def ip_packet(src, dst, proto, l4, ids):
    if len(src) == 4:
        return ipv4(src, dst, proto, l4, ids.next(src))
    return ipv6(src, dst, proto, l4)


def ethertype_of(ip_bytes):
    return ETH_IPV6 if ip_bytes[0] >> 4 == 6 else ETH_IPV4


def eth(dst, src, etype, payload, tags=()):
    """Ethernet II frame; tags is a sequence of (tpid, tci), outermost first."""
    f = dst + src
    for tpid, tci in tags:
        f += struct.pack("!HH", tpid, tci)
    f += struct.pack("!H", etype) + payload
    return f + b"\0" * (60 - len(f)) if len(f) < 60 else f


# ---------------------------------------------------------------------------
# Encapsulations: each maps (direction, inner IP packet) to an Ethernet frame.
# direction 0 is client -> server.


class Plain:
    def __init__(self, cmac, smac, tags=()):
        self.macs, self.tags = (cmac, smac), tags

    def frame(self, d, pkt):
        src, dst = self.macs[d], self.macs[1 - d]
        return eth(dst, src, ethertype_of(pkt), pkt, self.tags)


class Mpls:
    def __init__(self, cmac, smac, labels):
        self.macs, self.labels = (cmac, smac), labels

    def frame(self, d, pkt):
        stack = b""
        for i, lab in enumerate(self.labels):
            bos = 1 if i == len(self.labels) - 1 else 0
            stack += struct.pack("!I", (lab << 12) | (bos << 8) | 64)
        return eth(self.macs[1 - d], self.macs[d], ETH_MPLS, stack + pkt)


class Pppoe:
    def __init__(self, cmac, smac, session):
        self.macs, self.session = (cmac, smac), session

    def frame(self, d, pkt):
        ppp = struct.pack("!H", 0x0021 if ethertype_of(pkt) == ETH_IPV4 else 0x0057) + pkt
        hdr = struct.pack("!BBHH", 0x11, 0x00, self.session, len(ppp))
        return eth(self.macs[1 - d], self.macs[d], ETH_PPPOE_S, hdr + ppp)


class Gre:
    """GRE (RFC 2890, K bit set) over IPv4 between two tunnel endpoints."""

    def __init__(self, cmac, smac, outer_c, outer_s, key, ids):
        self.macs, self.outer, self.key, self.ids = (cmac, smac), (outer_c, outer_s), key, ids

    def frame(self, d, pkt):
        gre = struct.pack("!HHI", 0x2000, ethertype_of(pkt), self.key) + pkt
        src, dst = self.outer[d], self.outer[1 - d]
        outer = ipv4(src, dst, IPPROTO_GRE, gre, self.ids.next(src))
        return eth(self.macs[1 - d], self.macs[d], ETH_IPV4, outer)


class UdpTunnel:
    """Outer Ethernet/IPv4/UDP carrying hdr_fn(d, inner) + inner."""

    def __init__(self, cmac, smac, outer_c, outer_s, sports, dport, ids, hdr_fn, inner_eth=None):
        self.macs, self.outer, self.sports, self.dport = (cmac, smac), (outer_c, outer_s), sports, dport
        self.ids, self.hdr_fn, self.inner_eth = ids, hdr_fn, inner_eth

    def frame(self, d, pkt):
        inner = pkt
        if self.inner_eth:  # VXLAN carries a whole inner Ethernet frame (no padding inside)
            m = self.inner_eth
            inner = m[1 - d] + m[d] + struct.pack("!H", ethertype_of(pkt)) + pkt
        body = self.hdr_fn(d, inner) + inner
        src, dst = self.outer[d], self.outer[1 - d]
        sport, dport = (self.sports[d], self.dport) if d == 0 else (self.dport, self.sports[d])
        if self.dport == 2152:
            sport = dport = 2152
        outer = ipv4(src, dst, IPPROTO_UDP, udp_dgram(src, dst, sport, dport, body), self.ids.next(src))
        return eth(self.macs[1 - d], self.macs[d], ETH_IPV4, outer)


def vxlan_hdr(vni):
    return lambda d, inner: struct.pack("!II", 0x08000000, vni << 8)


def gtpu_hdr(teid_up, teid_down):
    # version 1, PT=1, no optional fields; message type 255 (G-PDU)
    return lambda d, inner: struct.pack("!BBHI", 0x30, 0xFF, len(inner), teid_up if d == 0 else teid_down)


# ---------------------------------------------------------------------------
# Conversations: each returns a list of (time_us, direction, ip_packet).


def tcp_conversation(rng, ids, cli, srv, sport, dport, t0, rtt, exchanges, mss=1460):
    """Handshake, then exchanges [(dir, payload bytes, think_us)], then FIN teardown.

    The capture point sits next to the client: server packets arrive rtt after
    the client packet they answer.
    """
    out = []
    addr = (cli, srv)
    ports = ((sport, dport), (dport, sport))
    nxt = [rng.randrange(1 << 32), rng.randrange(1 << 32)]  # next seq to send, per side
    t = t0

    def send(d, flags, payload=b"", opts=b""):
        s, r = addr[d], addr[1 - d]
        ack = nxt[1 - d] if flags & ACK else 0
        seg = tcp_seg(s, r, ports[d][0], ports[d][1], nxt[d], ack, flags, payload, opts=opts)
        out.append((t, d, ip_packet(s, r, IPPROTO_TCP, seg, ids)))
        nxt[d] += len(payload) + (1 if flags & (SYN | FIN) else 0)

    mss_opt = struct.pack("!BBH", 2, 4, mss if len(cli) == 4 else mss - 20) + b"\x01\x01\x04\x02"
    send(0, SYN, opts=mss_opt)
    t += rtt
    send(1, SYN | ACK, opts=mss_opt)
    t += 40
    send(0, ACK)
    seg_mss = mss if len(cli) == 4 else mss - 20
    for d, data, think in exchanges:
        t += think
        segs = [data[i:i + seg_mss] for i in range(0, len(data), seg_mss)] or [b""]
        for i, chunk in enumerate(segs):
            last = i == len(segs) - 1
            send(d, ACK | (PSH if last else 0), chunk)
            if i % 2 == 1 or last:  # delayed ACK every second segment
                t_save = t
                t += rtt if d == 0 else 60
                send(1 - d, ACK)
                t = t_save + 120
            else:
                t += 120
        t += rtt
    t += 2_000 + rng.randrange(5_000)
    send(0, FIN | ACK)
    t += rtt
    send(1, FIN | ACK)
    t += 50
    send(0, ACK)
    return out


def udp_exchange(rng, ids, cli, srv, sport, dport, t0, pairs):
    """pairs: [(gap_us, request bytes, response bytes or None, response delay us)]."""
    out, t = [], t0
    for gap, req, resp, delay in pairs:
        t += gap
        out.append((t, 0, ip_packet(cli, srv, IPPROTO_UDP, udp_dgram(cli, srv, sport, dport, req), ids)))
        if resp is not None:
            out.append((t + delay, 1, ip_packet(srv, cli, IPPROTO_UDP, udp_dgram(srv, cli, dport, sport, resp), ids)))
    return out


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(qid, name, qtype=1):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_response(qid, name, addr, qtype=1):
    q = dns_name(name) + struct.pack("!HH", qtype, 1)
    rdata = ip(addr)
    ans = struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + ans


def http_exchanges(rng, host, n_requests):
    ex = []
    for i in range(n_requests):
        path = "/%s/%d" % (rng.choice(["img", "static", "api", "news"]), rng.randrange(1000))
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mcdemo/1.0\r\nAccept: */*\r\n\r\n" % (path, host)).encode()
        body_len = rng.choice([512, 2048, 6000, 14000, 30000])
        body = bytes(rng.randrange(32, 127) for _ in range(body_len))
        resp = ("HTTP/1.1 200 OK\r\nServer: demo\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % body_len).encode() + body
        ex.append((0, req, 5_000 if i == 0 else rng.randrange(200_000, 2_000_000)))
        ex.append((1, resp, 3_000))
    return ex


def tls_client_hello(rng, sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    suites = struct.pack("!6H", 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0x009C)
    body = (struct.pack("!H", 0x0303) + bytes(rng.randrange(256) for _ in range(32)) + b"\0"
            + struct.pack("!H", len(suites)) + suites + b"\x01\x00"
            + struct.pack("!H", len(sni_ext)) + sni_ext)
    hs = struct.pack("!B", 1) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 0x16, 0x0301, len(hs)) + hs


def tls_server_hello(rng):
    body = (struct.pack("!H", 0x0303) + bytes(rng.randrange(256) for _ in range(32)) + b"\0"
            + struct.pack("!HB", 0xC02F, 0) + struct.pack("!H", 0))
    hs = struct.pack("!B", 2) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 0x16, 0x0303, len(hs)) + hs


def tls_appdata(rng, n):
    return struct.pack("!BHH", 0x17, 0x0303, n) + bytes(rng.randrange(256) for _ in range(n))


def arp(op, smac, sip, tmac, tip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IPV4, 6, 4, op, smac, sip, tmac, tip)
    dst = b"\xff" * 6 if op == 1 else tmac
    return eth(dst, smac, ETH_ARP, body)


def icmp_echo(t, ident, seq, payload):
    m = struct.pack("!BBHHH", t, 0, 0, ident, seq) + payload
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


# ---------------------------------------------------------------------------


def build(rng):
    ids = IPIds(rng)
    frames = []  # (time_us, order, frame bytes)

    def add(conv, encap):
        for t, d, pkt in conv:
            frames.append((t, len(frames), encap.frame(d, pkt)))

    gw = mac("00:1b:21:aa:00:01")
    hosts = [mac("00:1b:21:bb:00:%02x" % i) for i in range(1, 9)]
    cli4 = [ip("192.168.1.%d" % (10 + i)) for i in range(8)]
    gw4 = ip("192.168.1.1")
    dns4 = ip("192.168.1.53")
    web4 = [ip(a) for a in ("93.184.216.34", "151.101.1.69", "104.16.132.229", "198.51.100.80")]

    # HTTP on port 80: 22 connections spread over the first 50 s
    for i in range(22):
        host = "www.example%d.test" % i
        conv = tcp_conversation(rng, ids, cli4[i % 8], web4[i % 4], 49152 + i * 7, 80,
                                rng.randrange(0, 50_000_000), rng.randrange(8_000, 40_000),
                                http_exchanges(rng, host, rng.randrange(2, 5)))
        add(conv, Plain(hosts[i % 8], gw))

    # TLS on 443: one long connection, application data for ~40 s
    ex = [(0, tls_client_hello(rng, "secure.example.test"), 1_000), (1, tls_server_hello(rng), 2_000)]
    for _ in range(16):
        ex.append((0, tls_appdata(rng, rng.randrange(100, 600)), rng.randrange(1_000_000, 4_000_000)))
        ex.append((1, tls_appdata(rng, rng.randrange(2_000, 9_000)), 2_000))
    add(tcp_conversation(rng, ids, cli4[1], ip("203.0.113.43"), 51443, 443, 3_000_000, 25_000, ex),
        Plain(hosts[1], gw))

    # DNS: 120 queries from several clients over the whole capture
    names = ["www.example%d.test" % i for i in range(8)] + ["mail.example.test", "cdn.example.test"]
    for i in range(120):
        c = i % 8
        name = names[rng.randrange(len(names))]
        qid = rng.randrange(1 << 16)
        conv = udp_exchange(rng, ids, cli4[c], dns4, 30000 + rng.randrange(30000), 53,
                            rng.randrange(0, 58_000_000),
                            [(0, dns_query(qid, name), dns_response(qid, name, "198.51.100.%d" % (i + 1)),
                              rng.randrange(300, 30_000))])
        add(conv, Plain(hosts[c], gw))

    # ICMP echo: 50 pings, one per second
    ping_id = 0x4D43
    for seq in range(50):
        t = 5_000_000 + seq * 1_000_000
        payload = bytes(range(48))
        req = ipv4(cli4[2], ip("8.8.8.8"), IPPROTO_ICMP, icmp_echo(8, ping_id, seq, payload), ids.next(cli4[2]))
        rep = ipv4(ip("8.8.8.8"), cli4[2], IPPROTO_ICMP, icmp_echo(0, ping_id, seq, payload), ids.next(ip("8.8.8.8")), ttl=117)
        frames.append((t, len(frames), eth(gw, hosts[2], ETH_IPV4, req)))
        frames.append((t + 12_500, len(frames), eth(hosts[2], gw, ETH_IPV4, rep)))

    # ARP: who-has gateway / DNS server, and the replies
    for i, (t, who, target, tmac) in enumerate([(1_000_000, 3, gw4, gw), (20_000_000, 5, gw4, gw),
                                                (40_000_000, 6, dns4, hosts[7])]):
        smac, sip = hosts[who], cli4[who]
        frames.append((t, len(frames), arp(1, smac, sip, b"\0" * 6, target)))
        frames.append((t + 300, len(frames), arp(2, tmac, target, smac, sip)))

    # IPv6 TCP (HTTP) and IPv6 UDP (DNS, several queries from one socket)
    c6, s6, d6 = ip("2001:db8:1::10"), ip("2001:db8:80::80"), ip("2001:db8:1::53")
    add(tcp_conversation(rng, ids, c6, s6, 50606, 80, 8_000_000, 18_000,
                         http_exchanges(rng, "v6.example.test", 3)), Plain(hosts[4], gw))
    pairs = []
    for i in range(10):
        qid = rng.randrange(1 << 16)
        q = dns_name("v6.example.test") + struct.pack("!HH", 28, 1)
        ans = struct.pack("!HHHIH", 0xC00C, 28, 1, 300, 16) + s6
        resp = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + ans
        pairs.append((rng.randrange(500_000, 3_000_000), dns_query(qid, "v6.example.test", 28), resp, 9_000))
    add(udp_exchange(rng, ids, c6, d6, 53530, 53, 10_000_000, pairs), Plain(hosts[4], gw))

    # 802.1Q VLAN 100: HTTP TCP
    add(tcp_conversation(rng, ids, ip("10.100.0.5"), ip("10.100.0.80"), 40100, 80, 12_000_000, 2_000,
                         http_exchanges(rng, "intranet.test", 3)),
        Plain(mac("00:1b:21:cc:01:05"), mac("00:1b:21:cc:01:80"), tags=((ETH_VLAN, 100),)))

    # QinQ: S-VLAN 200 (0x88a8) over C-VLAN 300 (0x8100): UDP request/response (port 5000)
    pairs = [(rng.randrange(200_000, 1_500_000), bytes(rng.randrange(256) for _ in range(rng.randrange(40, 400))),
              bytes(rng.randrange(256) for _ in range(rng.randrange(40, 900))), 1_500) for _ in range(30)]
    add(udp_exchange(rng, ids, ip("10.200.3.7"), ip("10.200.3.1"), 41000, 5000, 15_000_000, pairs),
        Plain(mac("00:1b:21:dd:02:07"), mac("00:1b:21:dd:02:01"), tags=((ETH_QINQ, 200), (ETH_VLAN, 300))))

    # GRE with key: HTTP TCP between 172.16.1.10 and 172.16.2.80 over 198.18.0.1 <-> 198.18.0.2
    add(tcp_conversation(rng, ids, ip("172.16.1.10"), ip("172.16.2.80"), 43210, 80, 18_000_000, 6_000,
                         http_exchanges(rng, "gre.example.test", 3)),
        Gre(mac("00:1b:21:ee:00:01"), mac("00:1b:21:ee:00:02"), ip("198.18.0.1"), ip("198.18.0.2"), 0x1234, ids))

    # VXLAN VNI 5000: inner Ethernet/IPv4/UDP syslog-like flow (port 514) with replies
    pairs = [(rng.randrange(100_000, 800_000), ("<13>Jun  1 10:00:%02d vm1 app: event %d" % (i % 60, i)).encode(),
              b"ack %d" % i, 800) for i in range(40)]
    add(udp_exchange(rng, ids, ip("10.50.0.11"), ip("10.50.0.12"), 47514, 514, 22_000_000, pairs),
        UdpTunnel(mac("00:1b:21:ff:00:01"), mac("00:1b:21:ff:00:02"), ip("198.19.0.1"), ip("198.19.0.2"),
                  (52001, 52002), 4789, ids, vxlan_hdr(5000),
                  inner_eth=(mac("02:00:00:00:50:11"), mac("02:00:00:00:50:12"))))

    # GTP-U: UE 100.64.0.23 browsing 93.184.216.34 through eNB 10.1.1.1 <-> SGW 10.2.2.2
    add(tcp_conversation(rng, ids, ip("100.64.0.23"), web4[0], 45002, 80, 26_000_000, 45_000,
                         http_exchanges(rng, "mobile.example.test", 3), mss=1400),
        UdpTunnel(mac("00:1b:21:11:00:01"), mac("00:1b:21:11:00:02"), ip("10.1.1.1"), ip("10.2.2.2"),
                  (2152, 2152), 2152, ids, gtpu_hdr(0x1001, 0x2002)))

    # MPLS, two labels: RTP-like UDP stream 20 ms apart plus sparse RTCP-like replies
    pairs = []
    for i in range(150):
        rtp = struct.pack("!BBHII", 0x80, 0, i, i * 160, 0x11223344) + bytes(160)
        pairs.append((20_000, rtp, (struct.pack("!BBHI", 0x80, 201, 1, 0x55667788)) if i % 25 == 0 else None, 5_000))
    add(udp_exchange(rng, ids, ip("10.30.0.5"), ip("10.31.0.9"), 16384, 5004, 30_000_000, pairs),
        Mpls(mac("00:1b:21:22:00:01"), mac("00:1b:21:22:00:02"), (1000, 2000)))

    # PPPoE session 0x0011: HTTP TCP
    add(tcp_conversation(rng, ids, ip("100.70.1.2"), web4[2], 46000, 80, 33_000_000, 30_000,
                         http_exchanges(rng, "pppoe.example.test", 3), mss=1452),
        Pppoe(mac("00:1b:21:33:00:01"), mac("00:1b:21:33:00:02"), 0x0011))

    # One 3,000-byte UDP datagram sent as 3 IPv4 fragments (offsets 0, 1480, 2960)
    src, dst = cli4[5], ip("192.0.2.99")
    udp = udp_dgram(src, dst, 40000, 5001, bytes(rng.randrange(256) for _ in range(3000)))
    ident = ids.next(src)
    for i, off in enumerate(range(0, len(udp), 1480)):
        chunk = udp[off:off + 1480]
        pkt = ipv4(src, dst, IPPROTO_UDP, chunk, ident, df=False, mf=off + 1480 < len(udp), frag_off=off)
        frames.append((45_000_000 + i * 30, len(frames), eth(gw, hosts[5], ETH_IPV4, pkt)))

    frames.sort()
    return frames


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.stderr.write("usage: %s OUT.pcap\n" % sys.argv[0])
        return 2
    frames = build(random.Random(SEED))
    total = 0
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, _, fr in frames:
            assert t < SPAN_US
            f.write(struct.pack("<IIII", BASE_SEC + t // 1_000_000, t % 1_000_000, len(fr), len(fr)))
            f.write(fr)
            total += len(fr)
    span = (frames[-1][0] - frames[0][0]) / 1e6
    print("gen-demo-pcap: wrote %s: %d packets, %d bytes of frames, %.1f s of packet time, seed %d"
          % (sys.argv[1], len(frames), total, span, SEED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
