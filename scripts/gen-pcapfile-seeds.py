#!/usr/bin/env python3
"""gen-pcapfile-seeds.py - writes small seed captures for fuzz/fuzz_pcapfile.c.

Classic pcap in both byte orders and both timestamp resolutions, and pcapng
with one or several interfaces (different link types, snapshot lengths and
if_tsresol; more than 64 of them), Simple and obsolete Packet Blocks,
records longer than their snapshot length, skipped blocks and a second
section in the other byte order.  The frames are built here from scratch;
nothing is copied from captures.  Standard library only.

Usage: scripts/gen-pcapfile-seeds.py [OUTDIR]   (default: fuzz/corpus/pcapfile)
"""
import os
import struct
import sys


def ipv4_udp(n, host=1):
    payload = bytes((host + i) & 0xFF for i in range(n))
    udp = struct.pack("!HHHH", 40000 + host, 53, 8 + n, 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), host, 0x4000, 64, 17, 0,
                      bytes([10, 0, 0, host]), bytes([10, 0, 0, 1]))
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:]
    return hdr + udp


def eth(ip):
    return bytes([0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10]) + struct.pack("!H", 0x0800) + ip


def sll(ip):
    return struct.pack("!HHH8sH", 0, 1, 6, bytes([0, 6, 7, 8, 9, 10, 0, 0]), 0x0800) + ip


def classic(order, nsec, link, frames):
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    for i, f in enumerate(frames):
        frac = 123456789 if nsec else 123456
        out += struct.pack(order + "IIII", 1700000000 + i, frac, len(f), len(f) + (i & 1) * 4) + f
    return out


def pad4(b):
    return b + bytes(-len(b) % 4)


def block(order, btype, body):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def shb(order):
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def option(order, code, value):
    return struct.pack(order + "HH", code, len(value)) + pad4(value)


def idb(order, link, snaplen, tsresol=None):
    opts = option(order, 2, b"eth0")
    if tsresol is not None:
        opts += option(order, 9, bytes([tsresol]))
    opts += struct.pack(order + "HH", 0, 0)
    return block(order, 1, struct.pack(order + "HHI", link, 0, snaplen) + opts)


def epb(order, ifid, ts, frame, wirelen=None, opts=b""):
    wirelen = len(frame) if wirelen is None else wirelen
    body = struct.pack(order + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(frame), wirelen)
    return block(order, 6, pad4(body + frame) + opts)


def spb(order, frame):
    return block(order, 3, struct.pack(order + "I", len(frame)) + frame)


def pb(order, ifid, ts, frame):
    body = struct.pack(order + "HHIIII", ifid, 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
    return block(order, 2, body + frame)


def seeds():
    f1, f2, f3 = eth(ipv4_udp(10, 1)), eth(ipv4_udp(0, 2)), eth(ipv4_udp(33, 3))
    s = sll(ipv4_udp(7, 4))
    yield "classic_le_us", classic("<", False, 1, [f1, f2, f3])
    yield "classic_be_us", classic(">", False, 1, [f1, f2])
    yield "classic_le_ns", classic("<", True, 1, [f3, f1])
    yield "classic_be_ns_fcs", classic(">", True, 0x14000071, [s])
    yield "classic_header_only", classic("<", False, 1, [])
    yield "pcapng_le_single", shb("<") + idb("<", 1, 65535) + epb("<", 0, 1700000000123456, f1) + \
        epb("<", 0, 1700000001000000, f2, 1514, option("<", 1, b"comment") + struct.pack("<HH", 0, 0))
    yield "pcapng_be_multi", shb(">") + idb(">", 1, 1514) + idb(">", 113, 96, 9) + \
        block(">", 4, struct.pack(">HH", 0, 0)) + \
        epb(">", 0, 1700000000123456, f1) + epb(">", 1, 1700000000123456789, s) + \
        block(">", 5, struct.pack(">III", 1, 0, 0)) + spb(">", f3) + pb(">", 1, 5, s)
    yield "pcapng_two_sections", shb("<") + idb("<", 113, 262144, 0x80 | 10) + epb("<", 0, 5 * 1024 + 512, s) + \
        block("<", 0x40000BAD, b"custom") + shb(">") + idb(">", 1, 0, 6) + idb(">", 113, 0, 3) + \
        epb(">", 1, 1700000000123, s) + epb(">", 0, 1700000000123456, f2)
    # records longer than the SnapLen (cut), and more interfaces than the first table holds
    yield "classic_over_snaplen", classic("<", False, 1, [f1, f3]).replace(struct.pack("<I", 65535),
                                                                          struct.pack("<I", 40), 1)
    yield "pcapng_over_snaplen", shb("<") + idb("<", 1, 40) + epb("<", 0, 1, f1) + spb("<", f3)
    yield "pcapng_many_ifs", shb("<") + b"".join(idb("<", 1 + 112 * (i % 2), 0) for i in range(70)) + \
        epb("<", 0, 1, f1) + epb("<", 64, 2, f2) + epb("<", 69, 3, s)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                                "pcapfile")
    os.makedirs(out, exist_ok=True)
    n = 0
    for name, data in seeds():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)
        n += 1
    print(f"wrote {n} seeds to {out}")


if __name__ == "__main__":
    main()
