#!/usr/bin/env python3
"""gen-reasm-seeds.py - writes seed scripts for fuzz/fuzz_reasm.c.

A seed is one byte choosing the link type of raw frames (index into
[101 raw, 1 Ethernet, 113 SLL, 276 SLL2]), then records:

  0xff, len(be16), bytes                 a raw frame, as is
  flags, dt, off(be16), len(be16), bytes a raw-IP fragment built by the target:
      flags bit 0 IPv6, bit 1 more fragments, bit 2 IPv6 hop-by-hop first,
      bit 3 cut the frame by 5 octets, bits 4-5 source, bits 6-7 identification;
      dt advances the clock by dt * 20 ms; off is in 8-octet units.

The seeds cover in-order and out-of-order datagrams, duplicates, overlaps
that agree and that conflict, a conflicting last fragment, timeouts, the
datagram cap, and an Ethernet frame whose fragments carry GTP-U (built here
as raw frames).  Nothing is copied from captures.  Standard library only.

Usage: scripts/gen-reasm-seeds.py [OUTDIR]   (default: fuzz/corpus/reasm)
"""
import os
import struct
import sys

V6, MORE, HBH, CUT = 1, 2, 4, 8


def be16(v):
    return struct.pack("!H", v)


def frag(flags, dt, off_bytes, data, src=0, ident=0):
    assert off_bytes % 8 == 0
    flags |= (src & 3) << 4 | (ident & 3) << 6
    assert flags != 0xFF
    return bytes([flags, dt]) + be16(off_bytes // 8) + be16(len(data)) + data


def raw(frame):
    return b"\xff" + be16(len(frame)) + frame


def udp(sport, dport, payload):
    return be16(sport) + be16(dport) + be16(8 + len(payload)) + b"\0\0" + payload


def pattern(n, k=3):
    return bytes((i * 7 + k) & 0xFF for i in range(n))


def cut(dgram, sizes):
    """Splits dgram into fragments of the given sizes (the rest in the last)."""
    out, off = [], 0
    for s in sizes:
        out.append((off, dgram[off:off + s]))
        off += s
    out.append((off, dgram[off:]))
    return out


def v4_datagram(flags_extra=0, order=None, ident=0, dt=0):
    d = udp(1000, 53, pattern(2000))
    parts = cut(d, [800, 800])
    order = order or range(len(parts))
    recs = b""
    for i in order:
        off, data = parts[i]
        more = MORE if i < len(parts) - 1 else 0
        recs += frag(more | flags_extra, dt, off, data, ident=ident)
    return recs


def ipv4(proto, src, dst, payload, ident=0, flags_off=0):
    total = 20 + len(payload)
    return (bytes([0x45, 0]) + be16(total) + be16(ident) + be16(flags_off) + bytes([64, proto]) + b"\0\0" +
            bytes(src) + bytes(dst) + payload)


def eth(etype, payload):
    return bytes([0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10]) + be16(etype) + payload


def gtp_seed():
    inner_tcp = be16(4000) + be16(80) + b"\0" * 8 + bytes([0x50, 0x18]) + b"\0" * 6 + pattern(1600, 5)
    inner = ipv4(6, [10, 9, 9, 1], [10, 9, 9, 2], inner_tcp)
    gtp = bytes([0x30, 0xFF]) + be16(len(inner)) + bytes([0x11, 0x22, 0x33, 0x44]) + inner
    outer = udp(2152, 2152, gtp)
    a, b = outer[:1480], outer[1480:]
    f1 = ipv4(17, [192, 0, 2, 1], [192, 0, 2, 2], a, ident=0x4242, flags_off=0x2000)
    f2 = ipv4(17, [192, 0, 2, 1], [192, 0, 2, 2], b, ident=0x4242, flags_off=1480 // 8)
    return bytes([1]) + raw(eth(0x0800, f2)) + raw(eth(0x0800, f1))


def seeds():
    s = {}
    s["v4_in_order"] = b"\0" + v4_datagram()
    s["v4_reverse"] = b"\0" + v4_datagram(order=[2, 1, 0])
    s["v6_hbh_out_of_order"] = b"\0" + v4_datagram(V6 | HBH, order=[1, 0, 2], ident=1)
    s["v6_plain"] = b"\0" + v4_datagram(V6, ident=2)
    d = udp(1000, 53, pattern(2000))
    s["duplicate_overlap"] = b"\0" + (frag(MORE, 0, 0, d[:800]) + frag(MORE, 0, 0, d[:800]) +
                                      frag(MORE, 0, 400, d[400:1200]) + frag(0, 0, 1200, d[1200:]))
    evil = bytearray(d)
    evil[500] ^= 0xFF
    s["overlap_conflict"] = b"\0" + frag(MORE, 0, 0, d[:800]) + frag(MORE, 0, 400, bytes(evil[400:1200]))
    s["last_conflict"] = b"\0" + frag(0, 0, 1600, d[1600:2000]) + frag(0, 0, 1600, d[1600:])
    s["timeout"] = b"\0" + frag(MORE, 0, 0, d[:800]) + frag(0, 60, 800, d[800:])
    s["cap"] = b"\0" + b"".join(frag(MORE, 1, 0, d[:800], src=i & 3, ident=i >> 2) for i in range(12))
    s["truncated"] = b"\0" + frag(MORE | CUT, 0, 0, d[:800]) + frag(0, 0, 800, d[800:])
    s["bad_length"] = b"\0" + frag(MORE, 0, 0, d[:800]) + frag(MORE, 0, 800, d[800:807])
    s["gtp_inside"] = gtp_seed()
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                             "reasm")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
