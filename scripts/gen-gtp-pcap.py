#!/usr/bin/python3
"""gen-gtp-pcap.py - write a capture of mobile subscribers: GTP-C sessions and their GTP-U traffic (tests, demo, bench).

Usage: scripts/gen-gtp-pcap.py OUT.pcap [--subscribers N] [--seconds S] [--seed N] [--gtpu-per-sub K]
                               [--truth TRUTH.json] [--post-gateway SGI.pcap]

Subscriber i (0..N-1) has IMSI 00101 followed by i in 10 digits, MSISDN
999 followed by i in 9 digits, an IMEISV, an APN ("internet", "ims" or
"corp.example.mnc001.mcc001.gprs") and a UE address: IPv4 (100.64.0.0/10)
for most, an IPv6 /64 (2001:db8:1xx:yyyy::/64) for some, both for some.
Which, and everything else drawn per subscriber, comes from --seed.

Half the subscribers (even i) attach over GTPv1-C (Gn, TS 29.060): an SGSN
(10.1.0.1-4) sends the GGSN (10.2.0.1) Create PDP Context Request (IMSI,
RAI, selection mode, TEID Data I, TEID Control Plane, NSAPI 5, End User
Address request, APN, SGSN GSN addresses for control and user plane,
MSISDN, QoS, RAT type UTRAN or GERAN, ULI (SAI or CGI), IMEISV); the
response carries Cause 128, the GGSN's TEIDs and GSN addresses (user plane
10.2.0.2) and the End User Address with the UE address.  The other half
(odd i) attach over GTPv2-C on S11 (TS 29.274), the SGW and PGW being one
node (10.4.0.1): an MME (10.3.0.1-4) sends Create Session Request (IMSI,
MSISDN, MEI, ULI TAI+ECGI, serving network, RAT EUTRAN, sender F-TEID S11
MME, PGW S5/S8 control F-TEID, APN, selection mode, PDN type, PAA request,
APN restriction, APN-AMBR, Bearer Context: EBI 5, S1-U eNodeB F-TEID, bearer
QoS); the response carries Cause 16, sender F-TEID S11/S4 SGW, PGW S5/S8
F-TEID, PAA with the UE address (IPv6: the /64 with interface id ::1) and
Bearer Context (EBI 5, Cause 16, S1-U SGW F-TEID, 10.4.0.2).

About 3% of Create requests are rejected (v1 cause 199, v2 cause 73: no
resources; no session).  About 25% of sessions hand over mid-way: Update
PDP Context (a new SGSN/RNC user-plane address 10.1.2.x and TEID Data I) or
Modify Bearer (a new eNodeB S1-U F-TEID, ULI with the new cell); 90% end
with Delete PDP Context / Delete Session, the rest live to the capture's
end.  About 2% of Create and of Delete requests are sent twice (the same
sequence number, 3 s apart, the response after the second).

Every session that exists carries --gtpu-per-sub GTP-U G-PDUs (UDP 2152),
uplink from the SGSN/eNodeB to the gateway's user-plane address and TEID,
downlink from the gateway to the SGSN's/eNodeB's, with the TEIDs in force
at the time (after a handover's response the new ones), only between the
Create response and the Delete request: a DNS query and answer, then a TCP
connection to a web server (handshake, GET, the response in 1000-byte
segments, uplink ACKs).  A UE with both address families talks DNS over
IPv4 and HTTP over IPv6; an IPv6 UE uses an address of its /64 whose
interface id is not ::1 (as real UEs do), so a probe must match the prefix.
Sessions are created over the first 45% of --seconds and live 50-55% of
it: with the defaults nearly all exist at once mid-capture.

--post-gateway SGI.pcap writes the same subscribers' plain IP traffic
after the gateway (SGi/Gi, no tunnel): a DNS query and answer and a TCP
handshake each, while their session lives.  --truth TRUTH.json writes what
a probe should find: {generator, seed, seconds, gtpu_per_sub, start_ms,
subscribers: [...]}, one object per subscriber in index order:
  index, imsi, msisdn, imei (the IMEISV digits as carried, 16), apn, rat
  ("UTRAN", "GERAN", "EUTRAN"), rat_type (its number), gtp_version (1, 2),
  pdn_type ("ipv4", "ipv6", "ipv4v6"), ue_ipv4, ue_ipv6 (the address the UE
  uses), ue_ipv6_prefix ("2001:db8:...::/64"), ue_ipv6_announced (the
  address in the End User Address / PAA), accepted, create_request_ms,
  create_ms (the Create response; null when rejected), handover_ms (the
  Update/Modify response; null without), delete_ms (the first Delete
  request; null when the session lives to the end);
  control: {access: {addr, teid}, gateway: {addr, teid}} (SGSN/MME and
  GGSN/SGW control plane; {} when rejected);
  user_plane: {access: [{addr, teid}, ...], gateway: [{addr, teid}]}: the
  SGSN's/eNodeB's endpoints in the order they were in force (downlink goes
  there), the gateway's (uplink goes there); empty when rejected;
  up_packets, up_bytes, down_packets, down_bytes: GTP-U G-PDUs and their
  inner IP packets' total lengths; sgi_up_packets, sgi_up_bytes,
  sgi_down_packets, sgi_down_bytes: likewise in the post-gateway capture
  (0 without --post-gateway).
Times are milliseconds since the epoch.

Writes OUT.pcap (classic pcap, microseconds, Ethernet, IPv4 transport,
every IP/UDP/TCP checksum right) and prints one JSON line: packets,
subscribers by version and address family, accepted, rejected, deleted,
handovers, retransmissions, GTP-C and GTP-U packets, the peak number of
sessions at once, post-gateway packets.  Standard library only; the same
arguments always write the same bytes.
"""
import argparse
import ipaddress
import json
import random
import struct

BASE_US = 1717243200 * 1000000  # 2024-06-01 12:00:00 UTC
GGSN_C, GGSN_U = "10.2.0.1", "10.2.0.2"
SGW_C, SGW_U, PGW_C = "10.4.0.1", "10.4.0.2", "10.4.0.3"
APNS = ("internet", "internet", "internet", "ims", "corp.example.mnc001.mcc001.gprs")
DNS4, WEB4 = "198.51.100.53", "203.0.113.80"
DNS6, WEB6 = "2001:db8:ffff::53", "2001:db8:ffff::80"
NAMES = ("www.example.com", "cdn.example.net", "api.example.org")
MCCMNC = bytes([0x00, 0xF1, 0x10])  # MCC 001, MNC 01 (TS 24.008 10.5.1.3)
RAT_NAMES = {1: "UTRAN", 2: "GERAN", 6: "EUTRAN"}
ETH_IP4 = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
ETH_IP6 = ETH_IP4[:12] + b"\x86\xdd"
SEG = 1000  # HTTP response segment payload


def csum(data):
    # the ones' complement sum of 16-bit words is the number modulo 0xFFFF (2^16 = 1 mod 0xFFFF)
    if len(data) & 1:
        data += b"\0"
    # (0 stands for a sum of 0xFFFF, the checksum then 0: TCP wants 0x0000, UDP sends it as 0xFFFF)
    return (0xFFFF - int.from_bytes(data, "big") % 0xFFFF) % 0xFFFF


def ip4(src, dst, proto, l4, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0x4000, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + l4


def ip6(src, dst, proto, l4):
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, src, dst) + l4


def l4_csum(src, dst, proto, seg, at):
    """seg with its checksum (at offset at) set over the IPv4 or IPv6 pseudo header."""
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), proto)
    c = csum(pseudo + seg)
    return seg[:at] + struct.pack("!H", c or 0xFFFF if proto == 17 else c) + seg[at + 2:]


def udp_seg(src, dst, sport, dport, payload):
    return l4_csum(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload, 6)


def tcp_seg(src, dst, sport, dport, seq, ack, flags, payload):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    return l4_csum(src, dst, 6, h + payload, 16)


class Pkt:
    """An inner (UE <-> internet) IP packet, built when written: (family, ue is src, proto, ports, seq...)."""
    __slots__ = ("src", "dst", "proto", "sport", "dport", "seq", "ack", "flags", "payload", "ip_len")

    def __init__(self, src, dst, proto, sport, dport, payload, seq=0, ack=0, flags=0):
        self.src, self.dst, self.proto, self.sport, self.dport = src, dst, proto, sport, dport
        self.payload, self.seq, self.ack, self.flags = payload, seq, ack, flags
        self.ip_len = (20 if len(src) == 4 else 40) + (8 if proto == 17 else 20) + len(payload)

    def build(self, ident):
        if self.proto == 17:
            seg = udp_seg(self.src, self.dst, self.sport, self.dport, self.payload)
        else:
            seg = tcp_seg(self.src, self.dst, self.sport, self.dport, self.seq, self.ack, self.flags, self.payload)
        if len(self.src) == 4:
            return ip4(self.src, self.dst, self.proto, seg, ident)
        return ip6(self.src, self.dst, self.proto, seg)


class Writer:
    """Frames to write, as (time us, order, kind, args); built in time order by write()."""

    def __init__(self):
        self.events = []
        self.ident = 0

    def add(self, t_us, kind, *args):
        self.events.append((t_us, len(self.events), kind, args))

    def next_ident(self):
        self.ident = (self.ident + 1) & 0xFFFF
        return self.ident

    def outer(self, src, sport, dst, dport, payload):
        s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
        return ETH_IP4 + ip4(s, d, 17, udp_seg(s, d, sport, dport, payload), self.next_ident())

    def frame(self, kind, args):
        if kind == "gtpc":  # (src, dst, message)
            return self.outer(args[0], 2123, args[1], 2123, args[2])
        if kind == "gtpu":  # (src, dst, teid, inner Pkt)
            inner = args[3].build(self.next_ident())
            gtpu = struct.pack("!BBHI", 0x30, 255, len(inner), args[2])  # version 1, PT 1, G-PDU
            return self.outer(args[0], 2152, args[1], 2152, gtpu + inner)
        p = args[0]  # "ip": a plain inner packet
        return (ETH_IP4 if len(p.src) == 4 else ETH_IP6) + p.build(self.next_ident())

    def write(self, path):
        self.events.sort(key=lambda e: (e[0], e[1]))
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            buf = []
            for t, _, kind, args in self.events:
                fr = self.frame(kind, args)
                buf.append(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)) + fr)
                if len(buf) >= 4096:
                    f.write(b"".join(buf))
                    buf = []
            f.write(b"".join(buf))
        return len(self.events)


def tbcd(digits):
    if len(digits) & 1:
        digits += "F"
    return bytes(int(digits[k], 16) | int(digits[k + 1], 16) << 4 for k in range(0, len(digits), 2))


def apn_bytes(apn):
    return b"".join(bytes([len(x)]) + x.encode() for x in apn.split("."))


def a4(addr):
    return ipaddress.IPv4Address(addr).packed


# GTPv1-C (TS 29.060): TV IEs below 128 (fixed length), TLV IEs from 128 on; IEs in ascending type order
def v1_tv(t, value):
    return bytes([t]) + value


def v1_tlv(t, value):
    return struct.pack("!BH", t, len(value)) + value


def v1_msg(mtype, teid, seq, ies):
    body = struct.pack("!HBB", seq, 0, 0) + b"".join(ies)
    return struct.pack("!BBHI", 0x32, mtype, len(body), teid) + body


def v1_eua(pdn, ue4=None, ue6=None):
    """End User Address (7.7.27): IETF organisation, PDP type 0x21 IPv4, 0x57 IPv6, 0x8D IPv4v6."""
    typ = {"ipv4": 0x21, "ipv6": 0x57, "ipv4v6": 0x8D}[pdn]
    addr = b""
    if ue4 is not None and pdn != "ipv6":
        addr += ue4.packed
    if ue6 is not None and pdn != "ipv4":
        addr += ue6.packed
    return v1_tlv(128, bytes([0xF1, typ]) + addr)


V1_QOS = v1_tlv(135, bytes([0x02, 0x23, 0x92, 0x1F]))  # allocation/retention priority + R97/98 QoS


# GTPv2-C (TS 29.274): IE header type, length, instance
def v2_ie(t, value, inst=0):
    return struct.pack("!BHB", t, len(value), inst) + value


def v2_msg(mtype, teid, seq, ies):
    body = struct.pack("!I", teid) + struct.pack("!I", seq << 8) + b"".join(ies)
    return struct.pack("!BBH", 0x48, mtype, len(body)) + body


def fteid(iface, teid, addr, inst=0):
    return v2_ie(87, struct.pack("!BI", 0x80 | iface, teid) + a4(addr), inst)


def v2_cause(value):
    return v2_ie(2, bytes([value, 0]))


def v2_uli(tac, eci):
    return v2_ie(86, bytes([0x18]) + MCCMNC + struct.pack("!H", tac) + MCCMNC + struct.pack("!I", eci & 0x0FFFFFFF))


def v2_paa(pdn, ue4=None, ue6=None):
    if pdn == "ipv4":
        return v2_ie(79, b"\x01" + (ue4.packed if ue4 else bytes(4)))
    if pdn == "ipv6":
        return v2_ie(79, b"\x02\x40" + (ue6.packed if ue6 else bytes(16)))
    return v2_ie(79, b"\x03\x40" + (ue6.packed if ue6 else bytes(16)) + (ue4.packed if ue4 else bytes(4)))


V2_EBI = v2_ie(73, b"\x05")
V2_BEARER_QOS = v2_ie(80, bytes([0x24, 9]) + bytes(20))  # ARP priority 9, QCI 9, no MBR/GBR


def dns(qid, name, qtype, answer=None):
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0" + struct.pack("!HH", qtype, 1)
    if answer is None:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q +
            struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(answer)) + answer)


class Ids:
    """Distinct random non-zero 32-bit identifiers (TEIDs)."""

    def __init__(self, rng):
        self.rng, self.used = rng, {0}

    def new(self):
        while True:
            v = self.rng.getrandbits(32)
            if v not in self.used:
                self.used.add(v)
                return v


def traffic(rng, k, ue4, ue6, i):
    """The subscriber's k inner packets, in order, as (uplink?, Pkt)."""
    dns_fam = ue4 if ue4 is not None else ue6
    web_fam = ue6 if ue6 is not None else ue4
    d_ue, d_srv = dns_fam.packed, a4(DNS4) if dns_fam.version == 4 else ipaddress.IPv6Address(DNS6).packed
    w_ue, w_srv = web_fam.packed, a4(WEB4) if web_fam.version == 4 else ipaddress.IPv6Address(WEB6).packed
    qtype = 1 if web_fam.version == 4 else 28
    name = NAMES[i % len(NAMES)]
    qid, dport = rng.getrandbits(16), 20000 + rng.randrange(40000)
    ans = a4(WEB4) if qtype == 1 else ipaddress.IPv6Address(WEB6).packed
    out = [(True, Pkt(d_ue, d_srv, 17, dport, 53, dns(qid, name, qtype))),
           (False, Pkt(d_srv, d_ue, 17, 53, dport, dns(qid, name, qtype, ans)))]
    sport, cs, ss = 20000 + rng.randrange(40000), rng.getrandbits(32), rng.getrandbits(32)
    get = ("GET /obj/%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: gen-gtp/1.0\r\nAccept: */*\r\n\r\n" % (i, name)).encode()
    out += [(True, Pkt(w_ue, w_srv, 6, sport, 80, b"", cs, 0, 0x02)),
            (False, Pkt(w_srv, w_ue, 6, 80, sport, b"", ss, cs + 1, 0x12)),
            (True, Pkt(w_ue, w_srv, 6, sport, 80, b"", cs + 1, ss + 1, 0x10)),
            (True, Pkt(w_ue, w_srv, 6, sport, 80, get, cs + 1, ss + 1, 0x18))]
    rest = max(0, k - len(out))
    pattern = [r % 3 != 2 for r in range(rest)]  # down, down, up ACK, ...
    n_down = sum(pattern)
    if n_down:
        total = n_down * SEG
        head = b""
        for _ in range(2):  # the header's length depends on the body's, which depends on it
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" %
                    (total - len(head))).encode()
        body = head + bytes(b"%c" % (97 + i % 26)) * (total - len(head))
        c_seq, s_seq, off = cs + 1 + len(get), ss + 1, 0
        for down in pattern:
            if down:
                seg = body[off:off + SEG]
                out.append((False, Pkt(w_srv, w_ue, 6, 80, sport, seg, s_seq, c_seq, 0x18 if off + SEG >= total
                                       else 0x10)))
                s_seq += len(seg)
                off += len(seg)
            else:
                out.append((True, Pkt(w_ue, w_srv, 6, sport, 80, b"", c_seq, s_seq, 0x10)))
    return out[:k]


def sgi_traffic(rng, ue4, ue6, i):
    """A few post-gateway packets: a DNS query and answer, a TCP handshake to 443."""
    fam = ue4 if ue4 is not None else ue6
    ue = fam.packed
    srv = a4(DNS4) if fam.version == 4 else ipaddress.IPv6Address(DNS6).packed
    web = a4(WEB4) if fam.version == 4 else ipaddress.IPv6Address(WEB6).packed
    qtype, qid, p = (1 if fam.version == 4 else 28), rng.getrandbits(16), 20000 + rng.randrange(40000)
    ans = web
    sp, cs, ss = 20000 + rng.randrange(40000), rng.getrandbits(32), rng.getrandbits(32)
    name = "sgi%d.example.com" % (i % 7)
    return [(True, Pkt(ue, srv, 17, p, 53, dns(qid, name, qtype))),
            (False, Pkt(srv, ue, 17, 53, p, dns(qid, name, qtype, ans))),
            (True, Pkt(ue, web, 6, sp, 443, b"", cs, 0, 0x02)),
            (False, Pkt(web, ue, 6, 443, sp, b"", ss, cs + 1, 0x12))]


def ms(t_us):
    return t_us // 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--subscribers", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the capture")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--gtpu-per-sub", type=int, default=16, help="GTP-U packets of each session")
    ap.add_argument("--truth", help="write what a probe should find per subscriber here (JSON)")
    ap.add_argument("--post-gateway", help="write the subscribers' plain IP traffic after the gateway here")
    a = ap.parse_args()
    if a.subscribers < 0 or a.subscribers > 1000000 or a.seconds <= 0 or a.gtpu_per_sub < 0:
        ap.error("--subscribers 0..1000000, --seconds > 0, --gtpu-per-sub >= 0")
    rng = random.Random(a.seed)
    ids = Ids(random.Random(a.seed + 1))
    sgi_rng = random.Random(a.seed + 2)  # its own: OUT.pcap does not depend on --post-gateway
    w, sgi = Writer(), Writer()
    span = int(a.seconds * 1e6)
    end_us = BASE_US + span
    seq1, seq2 = {}, {}  # next sequence number per SGSN / MME
    st = {"subscribers": a.subscribers, "gtpv1": 0, "gtpv2": 0, "ipv4": 0, "ipv6": 0, "ipv4v6": 0, "accepted": 0,
          "rejected": 0, "deleted": 0, "handovers": 0, "retransmissions": 0, "gtpc_packets": 0, "gtpu_packets": 0,
          "sgi_packets": 0}
    truth, spans = [], []
    for i in range(a.subscribers):
        v = 1 if i % 2 == 0 else 2
        st["gtpv%d" % v] += 1
        imsi, msisdn = "00101%010d" % i, "999%09d" % i
        imeisv = "35%06d%06d%02d" % (rng.randrange(1000000), i % 1000000, rng.randrange(100))
        apn = APNS[rng.randrange(len(APNS))]
        r = rng.random()
        pdn = "ipv4" if r < 0.7 else "ipv6" if r < 0.85 else "ipv4v6"
        st[pdn] += 1
        ue4 = ipaddress.IPv4Address(int(ipaddress.IPv4Address("100.64.0.0")) + (i // 250) * 256 + i % 250 + 1)
        prefix = ipaddress.IPv6Network("2001:db8:%x:%x::/64" % (0x100 + i // 65536, i % 65536))
        paa6 = prefix.network_address + 1  # what the gateway announces: the /64 with interface id ::1
        ue6 = prefix.network_address + (rng.getrandbits(63) | 0x100)  # what the UE then uses
        if pdn == "ipv6":
            ue4 = None
        if pdn == "ipv4":
            ue6 = paa6 = prefix = None
        rat = (1 if rng.random() < 0.8 else 2) if v == 1 else 6
        reject = rng.random() < 0.03
        retx_create = rng.random() < 0.02
        handover = not reject and rng.random() < 0.25
        delete = not reject and rng.random() < 0.9
        retx_delete = delete and rng.random() < 0.02
        node = i // 2 % 4
        t_req = BASE_US + int(span * 0.45 * i / max(1, a.subscribers)) + rng.randrange(20000)
        life = int(span * (0.5 + 0.05 * rng.random()))
        rtt = 2000 + rng.randrange(8000)
        t_resp = t_req + (3000000 if retx_create else 0) + rtt
        t_del = t_resp + life if delete else None
        if t_del is not None and t_del + 3000000 + 20000 > end_us:
            t_del = max(t_resp + 10000, end_us - 3000000 - 20000)
        live_end = t_del if t_del is not None else end_us
        acc = {"addr": None, "teid": None}
        gw = {"addr": None, "teid": None}
        ctl = {}
        msgs = []  # (time, src, dst, bytes)
        if v == 1:
            sgsn = "10.1.0.%d" % (node + 1)
            sgsn_u = "10.1.1.%d" % (node + 1)
            s = seq1.get(sgsn, rng.randrange(1, 60000))
            sgsn_data, sgsn_ctl = ids.new(), ids.new()
            rai = MCCMNC + struct.pack("!HB", 0x1000 + node, 1 + i % 8)
            uli = v1_tlv(152, bytes([1 if rat == 1 else 0]) + MCCMNC + struct.pack("!HH", 0x1000 + node, i % 60000))
            rat_ie = v1_tlv(151, bytes([rat]))
            req = v1_msg(16, 0, s, [v1_tv(2, tbcd(imsi)), v1_tv(3, rai), v1_tv(15, b"\xfc"),
                                    v1_tv(16, struct.pack("!I", sgsn_data)), v1_tv(17, struct.pack("!I", sgsn_ctl)),
                                    v1_tv(20, b"\x05"), v1_eua(pdn), v1_tlv(131, apn_bytes(apn)),
                                    v1_tlv(133, a4(sgsn)), v1_tlv(133, a4(sgsn_u)),
                                    v1_tlv(134, b"\x91" + tbcd(msisdn)), V1_QOS, rat_ie, uli,
                                    v1_tlv(154, tbcd(imeisv))])
            msgs.append((t_req, sgsn, GGSN_C, req))
            if retx_create:
                msgs.append((t_req + 3000000, sgsn, GGSN_C, req))
            if reject:
                msgs.append((t_resp, GGSN_C, sgsn, v1_msg(17, sgsn_ctl, s, [v1_tv(1, bytes([199]))])))
            else:
                ggsn_data, ggsn_ctl = ids.new(), ids.new()
                msgs.append((t_resp, GGSN_C, sgsn, v1_msg(17, sgsn_ctl, s, [
                    v1_tv(1, bytes([128])), v1_tv(8, b"\xfe"), v1_tv(16, struct.pack("!I", ggsn_data)),
                    v1_tv(17, struct.pack("!I", ggsn_ctl)), v1_tv(127, struct.pack("!I", ids.new())),
                    v1_eua(pdn, ue4, paa6), v1_tlv(133, a4(GGSN_C)), v1_tlv(133, a4(GGSN_U)), V1_QOS])))
                acc, gw = {"addr": sgsn_u, "teid": sgsn_data}, {"addr": GGSN_U, "teid": ggsn_data}
                ctl = {"access": {"addr": sgsn, "teid": sgsn_ctl}, "gateway": {"addr": GGSN_C, "teid": ggsn_ctl}}
            s2 = (s + 1) & 0xFFFF
        else:
            mme = "10.3.0.%d" % (node + 1)
            s = seq2.get(mme, rng.randrange(1, 1 << 20))
            enb = "10.5.%d.%d" % (i // 250 % 250, i % 250 + 1)
            mme_ctl, enb_teid = ids.new(), ids.new()
            tac, eci = 0x100 + i % 500, (i % 100000) * 256 + 1
            req = v2_msg(32, 0, s, [v2_ie(1, tbcd(imsi)), v2_ie(76, tbcd(msisdn)), v2_ie(75, tbcd(imeisv)),
                                    v2_uli(tac, eci), v2_ie(83, MCCMNC), v2_ie(82, bytes([rat])),
                                    fteid(10, mme_ctl, mme), fteid(7, 0, PGW_C, 1), v2_ie(71, apn_bytes(apn)),
                                    v2_ie(128, b"\x00"), v2_ie(99, bytes([{"ipv4": 1, "ipv6": 2, "ipv4v6": 3}[pdn]])),
                                    v2_paa(pdn), v2_ie(127, b"\x00"), v2_ie(72, struct.pack("!II", 50000, 150000)),
                                    v2_ie(93, V2_EBI + fteid(0, enb_teid, enb) + V2_BEARER_QOS)])
            msgs.append((t_req, mme, SGW_C, req))
            if retx_create:
                msgs.append((t_req + 3000000, mme, SGW_C, req))
            if reject:
                msgs.append((t_resp, SGW_C, mme, v2_msg(33, mme_ctl, s, [v2_cause(73)])))
            else:
                sgw_ctl, pgw_ctl, sgw_u = ids.new(), ids.new(), ids.new()
                msgs.append((t_resp, SGW_C, mme, v2_msg(33, mme_ctl, s, [
                    v2_cause(16), fteid(11, sgw_ctl, SGW_C), fteid(7, pgw_ctl, PGW_C, 1), v2_paa(pdn, ue4, paa6),
                    v2_ie(127, b"\x00"), v2_ie(93, V2_EBI + v2_cause(16) + fteid(1, sgw_u, SGW_U))])))
                acc, gw = {"addr": enb, "teid": enb_teid}, {"addr": SGW_U, "teid": sgw_u}
                ctl = {"access": {"addr": mme, "teid": mme_ctl}, "gateway": {"addr": SGW_C, "teid": sgw_ctl}}
            s2 = (s + 1) & 0xFFFFFF
        accesses, gateways = [dict(acc)] if not reject else [], [dict(gw)] if not reject else []
        tr = {"index": i, "imsi": imsi, "msisdn": msisdn, "imei": imeisv, "apn": apn, "rat": RAT_NAMES[rat],
              "rat_type": rat, "gtp_version": v, "pdn_type": pdn, "ue_ipv4": str(ue4) if ue4 else None,
              "ue_ipv6": str(ue6) if ue6 is not None else None, "ue_ipv6_prefix": str(prefix) if prefix else None,
              "ue_ipv6_announced": str(paa6) if paa6 is not None else None, "accepted": not reject,
              "create_request_ms": ms(t_req), "create_ms": None if reject else ms(t_resp), "handover_ms": None,
              "delete_ms": None, "control": ctl, "user_plane": {"access": accesses, "gateway": gateways},
              "up_packets": 0, "up_bytes": 0, "down_packets": 0, "down_bytes": 0,
              "sgi_up_packets": 0, "sgi_up_bytes": 0, "sgi_down_packets": 0, "sgi_down_bytes": 0}
        if reject:
            st["rejected"] += 1
        else:
            st["accepted"] += 1
            first, last = t_resp + 20000, live_end - 20000
            k = a.gtpu_per_sub if last - first >= 1000 * a.gtpu_per_sub else 0  # a session too short for it
            step = max(1, (last - first) // max(1, k))
            times = [first + j * step + rng.randrange(max(1, step // 2)) for j in range(k)]
            t_ho = t_ho_resp = None
            new_acc = None
            if handover and k >= 2:
                j = k // 2
                t_ho = (times[j - 1] + times[j]) // 2
                t_ho_resp = t_ho + 1000 + rng.randrange(4000)
                if t_ho_resp >= times[j]:
                    t_ho_resp = t_ho + (times[j] - t_ho) // 2
            elif handover:
                t_ho = t_resp + (live_end - t_resp) // 2
                t_ho_resp = t_ho + 2000
            if handover:
                st["handovers"] += 1
                tr["handover_ms"] = ms(t_ho_resp)
                new_teid = ids.new()
                if v == 1:
                    new_acc = {"addr": "10.1.2.%d" % (1 + i % 250), "teid": new_teid}
                    msgs.append((t_ho, ctl["access"]["addr"], GGSN_C, v1_msg(18, ctl["gateway"]["teid"], s2, [
                        v1_tv(3, rai), v1_tv(16, struct.pack("!I", new_teid)), v1_tv(20, b"\x05"),
                        v1_tlv(133, a4(ctl["access"]["addr"])), v1_tlv(133, a4(new_acc["addr"])), V1_QOS, rat_ie,
                        uli])))
                    msgs.append((t_ho_resp, GGSN_C, ctl["access"]["addr"], v1_msg(19, ctl["access"]["teid"], s2, [
                        v1_tv(1, bytes([128])), v1_tv(16, struct.pack("!I", gw["teid"])),
                        v1_tv(127, struct.pack("!I", ids.new())), v1_tlv(133, a4(GGSN_C)), v1_tlv(133, a4(GGSN_U)),
                        V1_QOS])))
                    s2 = (s2 + 1) & 0xFFFF
                else:
                    new_acc = {"addr": "10.6.%d.%d" % (i // 250 % 250, i % 250 + 1), "teid": new_teid}
                    msgs.append((t_ho, ctl["access"]["addr"], SGW_C, v2_msg(34, ctl["gateway"]["teid"], s2, [
                        v2_uli(tac, eci + 1), v2_ie(93, V2_EBI + fteid(0, new_teid, new_acc["addr"]))])))
                    msgs.append((t_ho_resp, SGW_C, ctl["access"]["addr"], v2_msg(35, ctl["access"]["teid"], s2, [
                        v2_cause(16), v2_ie(93, V2_EBI + v2_cause(16) + fteid(1, gw["teid"], gw["addr"]))])))
                    s2 = (s2 + 1) & 0xFFFFFF
                accesses.append(dict(new_acc))
            for (up, p), t in zip(traffic(rng, k, ue4, ue6, i), times):
                cur = new_acc if new_acc is not None and t >= t_ho_resp else acc
                if up:
                    w.add(t, "gtpu", cur["addr"], gw["addr"], gw["teid"], p)
                    tr["up_packets"] += 1
                    tr["up_bytes"] += p.ip_len
                else:
                    w.add(t, "gtpu", gw["addr"], cur["addr"], cur["teid"], p)
                    tr["down_packets"] += 1
                    tr["down_bytes"] += p.ip_len
                st["gtpu_packets"] += 1
            if a.post_gateway:
                t0 = t_resp + (live_end - t_resp) // 3
                for n, (up, p) in enumerate(sgi_traffic(sgi_rng, ue4, ue6, i)):
                    sgi.add(t0 + n * 15000, "ip", p)
                    d = "up" if up else "down"
                    tr["sgi_%s_packets" % d] += 1
                    tr["sgi_%s_bytes" % d] += p.ip_len
                    st["sgi_packets"] += 1
            if delete:
                st["deleted"] += 1
                tr["delete_ms"] = ms(t_del)
                if v == 1:
                    dreq = v1_msg(20, ctl["gateway"]["teid"], s2, [v1_tv(19, b"\xff"), v1_tv(20, b"\x05")])
                    dresp = v1_msg(21, ctl["access"]["teid"], s2, [v1_tv(1, bytes([128]))])
                    src, dst = ctl["access"]["addr"], GGSN_C
                    s2 = (s2 + 1) & 0xFFFF
                else:
                    dreq = v2_msg(36, ctl["gateway"]["teid"], s2, [V2_EBI])
                    dresp = v2_msg(37, ctl["access"]["teid"], s2, [v2_cause(16)])
                    src, dst = ctl["access"]["addr"], SGW_C
                    s2 = (s2 + 1) & 0xFFFFFF
                msgs.append((t_del, src, dst, dreq))
                if retx_delete:
                    msgs.append((t_del + 3000000, src, dst, dreq))
                msgs.append((t_del + (3000000 if retx_delete else 0) + 1000 + rng.randrange(5000), dst, src, dresp))
            spans.append((t_resp, live_end))
        st["retransmissions"] += retx_create + retx_delete
        if v == 1:
            seq1[ctl["access"]["addr"] if ctl else "10.1.0.%d" % (node + 1)] = s2
        else:
            seq2[ctl["access"]["addr"] if ctl else "10.3.0.%d" % (node + 1)] = s2
        for t, src, dst, m in msgs:
            w.add(t, "gtpc", src, dst, m)
            st["gtpc_packets"] += 1
        truth.append(tr)
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    cur = peak = 0
    for _, d in edges:
        cur += d
        peak = max(peak, cur)
    st["peak_sessions"] = peak
    st["packets"] = w.write(a.out)
    if a.post_gateway:
        sgi.write(a.post_gateway)
    if a.truth:
        with open(a.truth, "w") as f:
            json.dump({"generator": "gen-gtp-pcap.py", "seed": a.seed, "seconds": a.seconds,
                       "gtpu_per_sub": a.gtpu_per_sub, "start_ms": ms(BASE_US), "subscribers": truth}, f, indent=0,
                      sort_keys=True)
            f.write("\n")
    print(json.dumps(st, sort_keys=True))


if __name__ == "__main__":
    main()
