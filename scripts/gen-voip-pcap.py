#!/usr/bin/python3
"""gen-voip-pcap.py - write a capture of SIP calls with their RTP media (demo, tests, benchmarks).

Usage: scripts/gen-voip-pcap.py OUT.pcap [--calls N] [--seconds S] [--loss P] [--jitter MS]
                                [--spacing-ms MS] [--seed N]

Phones 10.10.<i // 250>.<i % 250 + 1> register with a proxy (192.0.2.10,
UDP 5060) and call each other through it.  Each call's outcome follows its
index: most are answered (INVITE with an SDP offer, 100, 180, 200 with the
answer, ACK, G.711 A-law RTP both ways every 20 ms for --seconds, BYE from
either side, 200), one in seven is cancelled (CANCEL, 200, 487, ACK), one in
eleven is refused (486 Busy Here, ACK).  Calls start --spacing-ms apart
(default 200 ms), so with the default length many run at once.  RTP goes straight between the phones
(the SDP addresses), each direction with its own SSRC; --loss drops that
share of RTP packets (at random, seeded; never the first three of a stream,
which validate it: RFC 3550 A.1 counts a stream from there, tshark from its
first packet) and --jitter adds a uniform random
delay of up to that many ms to each one's send time, so analysers can be
checked against known rates.

Writes OUT.pcap (classic pcap, microseconds, Ethernet) and prints one JSON
line: packets, calls by outcome, RTP packets sent and dropped, and of those
dropped the ones a receiver can count as lost (not after a stream's last
packet sent).  Standard
library only; the same arguments always write the same bytes.
"""
import argparse
import ipaddress
import json
import random
import struct

BASE_US = 1717243200 * 1000000  # 2024-06-01 12:00:00 UTC
PROXY = "192.0.2.10"
DOMAIN = "example.net"


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Writer:
    def __init__(self):
        self.frames = []  # (time us, frame bytes)
        self.ident = 0

    def udp(self, t_us, src, sport, dst, dport, payload):
        s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
        ulen = 8 + len(payload)
        pseudo = s + d + struct.pack("!BBH", 0, 17, ulen)
        u = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
        u = u[:6] + struct.pack("!H", csum(pseudo + u) or 0xFFFF) + u[8:]
        self.ident = (self.ident + 1) & 0xFFFF
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), self.ident, 0x4000, 64, 17, 0, s, d)
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
        self.frames.append((t_us, eth + h + u))

    def write(self, path):
        self.frames.sort(key=lambda f: f[0])
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, fr in self.frames:
                f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)) + fr)
        return len(self.frames)


def phone(i):
    return "10.10.%d.%d" % (i // 250, i % 250 + 1)


def sip(first_line, headers, body=b""):
    lines = [first_line] + ["%s: %s" % (k, v) for k, v in headers] + ["Content-Length: %d" % len(body), "", ""]
    return "\r\n".join(lines).encode() + body


def sdp(addr, port, sess):
    return ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=call\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=sendrecv\r\n" % (sess, addr, addr, port)).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=4.0, help="talk time of an answered call")
    ap.add_argument("--loss", type=float, default=0.0, help="share of RTP packets dropped (0..1)")
    ap.add_argument("--jitter", type=float, default=0.0, help="largest extra delay of an RTP packet, ms")
    ap.add_argument("--spacing-ms", type=float, default=200.0, help="time between two calls' INVITEs, ms")
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    w = Writer()
    stats = {"answered": 0, "cancelled": 0, "refused": 0, "rtp_sent": 0, "rtp_dropped": 0, "rtp_trailing_drops": 0,
             "rtp_lost_detectable": 0}
    n_phones = max(2, 2 * a.calls)
    for i in range(n_phones):  # every phone registers first
        t = BASE_US + i * 3000
        me = phone(i)
        aor = "sip:user%d@%s" % (i, DOMAIN)
        cid = "reg%d@%s" % (i, me)
        hdr = [("Via", "SIP/2.0/UDP %s:5060;branch=z9hG4bKr%d" % (me, i)), ("From", "<%s>;tag=r%d" % (aor, i)),
               ("To", "<%s>" % aor), ("Call-ID", cid), ("CSeq", "1 REGISTER"),
               ("Contact", "<sip:user%d@%s:5060>" % (i, me)), ("Expires", "3600"), ("User-Agent", "gen-voip 1.0")]
        w.udp(t, me, 5060, PROXY, 5060, sip("REGISTER sip:%s SIP/2.0" % DOMAIN, hdr))
        ok = [h for h in hdr if h[0] != "User-Agent"]
        w.udp(t + 800, PROXY, 5060, me, 5060, sip("SIP/2.0 200 OK", ok[:2] + [("To", "<%s>;tag=p%d" % (aor, i))] +
                                                   ok[3:]))
    t0 = BASE_US + n_phones * 3000 + 100000
    for c in range(a.calls):
        caller, callee = 2 * c, 2 * c + 1
        ca, cb = phone(caller), phone(callee)
        ua, ub = "sip:user%d@%s" % (caller, DOMAIN), "sip:user%d@%s" % (callee, DOMAIN)
        cid = "call%d-%08x@%s" % (c, rng.getrandbits(32), ca)
        t = t0 + int(c * a.spacing_ms * 1000)
        pa, pb = 20000 + 2 * c, 30000 + 2 * c
        base = [("From", "<%s>;tag=a%d" % (ua, c)), ("Call-ID", cid)]
        via_a = ("Via", "SIP/2.0/UDP %s:5060;branch=z9hG4bKa%d" % (ca, c))
        to_b = ("To", "<%s>" % ub)
        to_b_tag = ("To", "<%s>;tag=b%d" % (ub, c))
        invite = sip("INVITE %s SIP/2.0" % ub, [via_a] + base + [to_b, ("CSeq", "1 INVITE"),
                     ("Contact", "<sip:user%d@%s:5060>" % (caller, ca)), ("Content-Type", "application/sdp")],
                     sdp(ca, pa, c))
        w.udp(t, ca, 5060, PROXY, 5060, invite)
        w.udp(t + 1000, PROXY, 5060, cb, 5060, invite)
        w.udp(t + 3000, PROXY, 5060, ca, 5060, sip("SIP/2.0 100 Trying", [via_a] + base + [to_b, ("CSeq", "1 INVITE")]))
        ring = sip("SIP/2.0 180 Ringing", [via_a] + base + [to_b_tag, ("CSeq", "1 INVITE")])
        w.udp(t + 50000, cb, 5060, PROXY, 5060, ring)
        w.udp(t + 51000, PROXY, 5060, ca, 5060, ring)
        if c % 7 == 6:  # the caller gives up
            stats["cancelled"] += 1
            cancel = sip("CANCEL %s SIP/2.0" % ub, [via_a] + base + [to_b, ("CSeq", "1 CANCEL")])
            w.udp(t + 900000, ca, 5060, PROXY, 5060, cancel)
            w.udp(t + 901000, PROXY, 5060, ca, 5060, sip("SIP/2.0 200 OK", [via_a] + base + [to_b_tag,
                                                                                          ("CSeq", "1 CANCEL")]))
            w.udp(t + 910000, PROXY, 5060, ca, 5060, sip("SIP/2.0 487 Request Terminated", [via_a] + base +
                                                          [to_b_tag, ("CSeq", "1 INVITE")]))
            w.udp(t + 911000, ca, 5060, PROXY, 5060, sip("ACK %s SIP/2.0" % ub, [via_a] + base + [to_b_tag,
                                                                                                 ("CSeq", "1 ACK")]))
            continue
        if c % 11 == 10:  # busy
            stats["refused"] += 1
            w.udp(t + 300000, PROXY, 5060, ca, 5060, sip("SIP/2.0 486 Busy Here", [via_a] + base +
                                                          [to_b_tag, ("CSeq", "1 INVITE")]))
            w.udp(t + 301000, ca, 5060, PROXY, 5060, sip("ACK %s SIP/2.0" % ub, [via_a] + base + [to_b_tag,
                                                                                                 ("CSeq", "1 ACK")]))
            continue
        stats["answered"] += 1
        ok = sip("SIP/2.0 200 OK", [via_a] + base + [to_b_tag, ("CSeq", "1 INVITE"),
                 ("Contact", "<sip:user%d@%s:5060>" % (callee, cb)), ("Content-Type", "application/sdp")],
                 sdp(cb, pb, 1000 + c))
        ans = t + 1500000
        w.udp(ans, cb, 5060, PROXY, 5060, ok)
        w.udp(ans + 1000, PROXY, 5060, ca, 5060, ok)
        w.udp(ans + 3000, ca, 5060, PROXY, 5060, sip("ACK sip:user%d@%s:5060 SIP/2.0" % (callee, cb), [via_a] + base +
                                                     [to_b_tag, ("CSeq", "1 ACK")]))
        n = int(a.seconds * 50)
        for d, (src, sp, dst, dp) in enumerate(((ca, pa, cb, pb), (cb, pb, ca, pa))):
            ssrc = rng.getrandbits(32)
            trailing = 0  # drops after the stream's last packet: no receiver can tell them from its end
            for k in range(n):
                if a.loss and k >= 3 and rng.random() < a.loss:
                    stats["rtp_dropped"] += 1
                    trailing += 1
                    continue
                trailing = 0
                delay = int(rng.uniform(0, a.jitter) * 1000) if a.jitter else 0
                hdr = struct.pack("!BBHII", 0x80, 8 | (0x80 if k == 0 else 0), (d * 1000 + k) & 0xFFFF,
                                  (k * 160) & 0xFFFFFFFF, ssrc)
                w.udp(ans + 20000 + k * 20000 + delay, src, sp, dst, dp, hdr + bytes([0xD5]) * 160)
                stats["rtp_sent"] += 1
            stats["rtp_trailing_drops"] += trailing
        end = ans + 20000 + n * 20000 + 10000
        bye_from_caller = c % 2 == 0
        if bye_from_caller:
            bye = sip("BYE sip:user%d@%s:5060 SIP/2.0" % (callee, cb), [via_a] + base + [to_b_tag, ("CSeq", "2 BYE")])
            w.udp(end, ca, 5060, PROXY, 5060, bye)
            w.udp(end + 2000, PROXY, 5060, ca, 5060, sip("SIP/2.0 200 OK", [via_a] + base + [to_b_tag,
                                                                                          ("CSeq", "2 BYE")]))
        else:
            via_b = ("Via", "SIP/2.0/UDP %s:5060;branch=z9hG4bKb%d" % (cb, c))
            back = [("From", "<%s>;tag=b%d" % (ub, c)), ("To", "<%s>;tag=a%d" % (ua, c)), ("Call-ID", cid)]
            w.udp(end, cb, 5060, PROXY, 5060, sip("BYE sip:user%d@%s:5060 SIP/2.0" % (caller, ca), [via_b] + back +
                                                  [("CSeq", "1 BYE")]))
            w.udp(end + 2000, PROXY, 5060, cb, 5060, sip("SIP/2.0 200 OK", [via_b] + back + [("CSeq", "1 BYE")]))
    stats["rtp_lost_detectable"] = stats["rtp_dropped"] - stats["rtp_trailing_drops"]
    stats["packets"] = w.write(a.out)
    stats["calls"] = a.calls
    print(json.dumps(stats, sort_keys=True))


if __name__ == "__main__":
    main()
