#!/usr/bin/env python3
"""gen-fuzz-seeds.py - writes small valid seed frames for fuzz/fuzz_decode.c.

Each seed is one byte selecting the link type (an index into DLTS, which
must match the table in fuzz/fuzz_decode.c) followed by the frame.  The
frames are built here from scratch, one or more per decoder layer, so the
fuzzer starts from inputs that reach every decoder; nothing is copied from
captures.  Standard library only.

Usage: scripts/gen-fuzz-seeds.py [OUTDIR]   (default: fuzz/corpus/decode)
"""
import os
import struct
import sys

DLTS = [1, 113, 276, 0, 108, 12, 14, 101, 228, 229]


def dlt_byte(dlt):
    return bytes([DLTS.index(dlt)])


def be16(v):
    return struct.pack("!H", v)


def be32(v):
    return struct.pack("!I", v)


MACS = bytes([0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10])


def eth(etype, payload):
    return MACS + be16(etype) + payload


def vlan(vid, etype, payload):
    return be16(vid) + be16(etype) + payload


def ipv4(proto, payload, src=0x0A000001, dst=0x0A000002, ident=1, frag=0x4000, ihl=5):
    opts = b"\x01" * ((ihl - 5) * 4)
    total = 4 * ihl + len(payload)
    hdr = struct.pack("!BBHHHBBH", 0x40 | ihl, 0, total, ident, frag, 64, proto, 0)
    return hdr + be32(src) + be32(dst) + opts + payload


def ipv6(nh, payload, last=1):
    addr = bytes([0x20, 0x01, 0x0D, 0xB8] + [0] * 11)
    return (be32(0x60000000) + be16(len(payload)) + bytes([nh, 64])
            + addr + bytes([last]) + addr + bytes([last + 1]) + payload)


def tcp(sport=40000, dport=80, flags=0x02, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 0xFFFF, 0, 0) + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(t=8, c=0):
    return bytes([t, c, 0, 0, 0, 1, 0, 1])


def sctp():
    return struct.pack("!HHII", 2905, 2905, 0, 0) + bytes([1, 0, 0, 4])


def gre(proto, payload, key=None, seq=None, csum=False):
    flags = 0
    opt = b""
    if csum:
        flags |= 0x8000
        opt += b"\0\0\0\0"
    if key is not None:
        flags |= 0x2000
        opt += be32(key)
    if seq is not None:
        flags |= 0x1000
        opt += be32(seq)
    return be16(flags) + be16(proto) + opt + payload


def gtpu(teid, payload, ext=False, mtype=255):
    if ext:
        body = be16(0) + bytes([0, 0x85]) + bytes([1, 0x10, 0x09, 0]) + payload
        flags = 0x34
    else:
        body = payload
        flags = 0x30
    return bytes([flags, mtype]) + be16(len(body)) + be32(teid) + body


def vxlan(vni, payload):
    return bytes([0x08, 0, 0, 0]) + be32(vni << 8) + payload


ARP = be16(1) + be16(0x0800) + bytes([6, 4]) + be16(1) + bytes(20)
INNER4 = ipv4(6, tcp(1111, 22), src=0xC0A80001, dst=0xC0A80002)
INNER6 = ipv6(17, udp(5000, 53, b"dns"), last=0x10)


def pppoe(proto, payload, session=0x1234):
    ppp = be16(proto) + payload
    return bytes([0x11, 0]) + be16(session) + be16(len(ppp)) + ppp


def seeds():
    s = {}
    e = lambda et, p: dlt_byte(1) + eth(et, p)
    s["eth_ipv4_tcp"] = e(0x0800, ipv4(6, tcp(payload=b"GET /")))
    s["eth_ipv4_udp_dns"] = e(0x0800, ipv4(17, udp(1024, 53, b"\x12\x34")))
    s["eth_ipv4_icmp"] = e(0x0800, ipv4(1, icmp()))
    s["eth_ipv4_sctp"] = e(0x0800, ipv4(132, sctp()))
    s["eth_ipv4_options"] = e(0x0800, ipv4(17, udp(1, 2), ihl=7))
    s["eth_ipv4_frag_first"] = e(0x0800, ipv4(17, udp(1, 2, b"x" * 8), ident=0x4242, frag=0x2000))
    s["eth_ipv4_frag_later"] = e(0x0800, ipv4(17, b"y" * 16, ident=0x4242, frag=3))
    s["eth_ipv6_tcp"] = e(0x86DD, ipv6(6, tcp()))
    s["eth_ipv6_icmpv6"] = e(0x86DD, ipv6(58, icmp(128)))
    hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0])
    dst = bytes([44, 0, 1, 4, 0, 0, 0, 0])
    frag = bytes([17, 0]) + be16(1) + be32(0xCAFE)
    s["eth_ipv6_ext_frag"] = e(0x86DD, ipv6(0, hbh + dst + frag + udp(7, 9, b"z")))
    ah = bytes([17, 1, 0, 0]) + be32(1) + be32(1)
    s["eth_ipv6_ah"] = e(0x86DD, ipv6(51, ah + udp(500, 500)))
    s["eth_arp"] = e(0x0806, ARP)
    s["eth_lldp"] = e(0x88CC, bytes([2, 7, 4]) + bytes(7))
    s["eth_llc_stp"] = dlt_byte(1) + MACS + be16(38) + bytes([0x42, 0x42, 0x03]) + bytes(35)
    s["eth_snap_ipv4"] = dlt_byte(1) + MACS + be16(36) + bytes([0xAA, 0xAA, 3, 0, 0, 0]) + be16(0x0800) + ipv4(17, udp(1, 2))
    s["eth_qinq"] = e(0x88A8, vlan(100, 0x8100, vlan(200, 0x0800, ipv4(17, udp(1, 2)))))
    s["eth_mpls2"] = e(0x8847, be32((16 << 12) | 0x40) + be32((17 << 12) | 0x140) + ipv4(1, icmp()))
    s["eth_mpls_pw"] = e(0x8847, be32((18 << 12) | 0x140) + be32(0) + eth(0x0800, ipv4(17, udp(1, 2))))
    s["eth_pppoe_ipv6"] = e(0x8864, pppoe(0x0057, ipv6(17, udp(546, 547))))
    s["eth_pppoe_lcp"] = e(0x8864, pppoe(0xC021, bytes([1, 1, 0, 4])))
    s["eth_pppoe_discovery"] = e(0x8863, bytes([0x11, 0x09, 0, 0, 0, 0]))
    s["eth_gre_key_ipv4"] = e(0x0800, ipv4(47, gre(0x0800, INNER4, key=0xABCD)))
    s["eth_gre_csum_seq_ipv6"] = e(0x0800, ipv4(47, gre(0x86DD, INNER6, csum=True, seq=1)))
    s["eth_gre_teb"] = e(0x0800, ipv4(47, gre(0x6558, eth(0x0800, INNER4), key=5)))
    pptp = (be16(0x3001) + be16(0x880B) + be16(4 + len(INNER4)) + be16(0x77) + be32(1)
            + bytes([0xFF, 0x03]) + be16(0x0021) + INNER4)
    s["eth_gre_pptp"] = e(0x0800, ipv4(47, pptp))
    erspan2 = be16(0x1000 | 10) + be16(42) + be32(0)
    s["eth_gre_erspan2"] = e(0x0800, ipv4(47, gre(0x88BE, erspan2 + eth(0x0800, INNER4), seq=1)))
    erspan3 = be16(0x2000 | 10) + be16(43) + be32(0) + be16(0) + be16(0x0001) + bytes(8)
    s["eth_gre_erspan3"] = e(0x0800, ipv4(47, gre(0x22EB, erspan3 + eth(0x86DD, INNER6), seq=1)))
    s["eth_gtpu_ext_ipv6"] = e(0x0800, ipv4(17, udp(2152, 2152, gtpu(0x11223344, INNER6, ext=True))))
    s["eth_gtpu_ipv4"] = e(0x0800, ipv4(17, udp(2152, 2152, gtpu(0x55, INNER4))))
    s["eth_gtpu_echo"] = e(0x0800, ipv4(17, udp(2152, 2152, bytes([0x32, 1]) + be16(4) + be32(0) + be32(0x10000))))
    s["eth_vxlan_arp"] = e(0x0800, ipv4(17, udp(33333, 4789, vxlan(42, eth(0x0806, ARP)))))
    s["eth_vxlan_ipv4"] = e(0x0800, ipv4(17, udp(33333, 4789, vxlan(43, eth(0x0800, INNER4)))))
    s["eth_6in4"] = e(0x0800, ipv4(41, INNER6))
    s["eth_4in6"] = e(0x86DD, ipv6(4, INNER4))
    s["sll_ipv4"] = dlt_byte(113) + be16(0) + be16(1) + be16(6) + bytes(8) + be16(0x0800) + INNER4
    s["sll2_ipv6"] = dlt_byte(276) + be16(0x86DD) + be16(0) + be32(2) + be16(1) + bytes([0, 6]) + bytes(8) + INNER6
    s["null_le_ipv4"] = dlt_byte(0) + struct.pack("<I", 2) + INNER4
    s["null_le_ipv6"] = dlt_byte(0) + struct.pack("<I", 30) + INNER6
    s["loop_ipv4"] = dlt_byte(108) + be32(2) + INNER4
    s["raw_ipv4"] = dlt_byte(12) + INNER4
    s["raw_ipv6"] = dlt_byte(101) + INNER6
    s["dlt_ipv4"] = dlt_byte(228) + INNER4
    s["dlt_ipv6"] = dlt_byte(229) + INNER6
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus", "decode")
    os.makedirs(out, exist_ok=True)
    for name, frame in sorted(seeds().items()):
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(frame)
    print("wrote %d seeds to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
