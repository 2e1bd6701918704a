#!/usr/bin/env python3
"""gen-capture-edge-cases.py - writes small captures at the edges of the pcap and pcapng formats.

Each is one a capture tool can write or a damaged file can hold; the reader
must read the first kind and name what is wrong with the second:

  many-ifs.pcapng        100 interfaces (Ethernet and Linux SLL in turn), one
                         UDP packet on each: 100 flows (libpcap and tshark
                         read it)
  over-snaplen.pcap      classic pcap, SnapLen 128; the 3rd of 5 records has
                         200 captured octets: counted and cut to 128 (as
                         libpcap does; tshark reads it whole)
  over-snaplen.pcapng    interface SnapLen 128; the 3rd of 5 packets has 200
                         captured octets: the same
  over-max.pcap          classic pcap; the 2nd of 3 records claims (and has)
                         262,145 captured octets, one more than libpcap's
                         maximum: the read stops there with an error
  bad-ifid.pcapng        the 2nd of 3 packets names interface 7 of 1: the
                         read stops there with an error naming the offset of
                         that block

The frames are built here (IPv4/UDP with correct checksums); nothing is
copied from captures.  Standard library only; the same run writes the same
bytes.  Importable: edge_cases() returns {name: (bytes, facts)}, facts being
what a reader must find (packets read, the offset of the bad record, ...).

Usage: scripts/gen-capture-edge-cases.py OUTDIR
"""
import os
import struct
import sys

T0 = 1700000000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(sport, dport, payload_len):
    payload = bytes((sport + i) & 0xFF for i in range(payload_len))
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    udp = struct.pack("!HHHH", sport, dport, 8 + payload_len, 0) + payload
    ucs = csum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), sport & 0xFFFF, 0x4000, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def eth(ip):
    return bytes([0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10]) + struct.pack("!H", 0x0800) + ip


def sll(ip):
    return struct.pack("!HHH8sH", 0, 1, 6, bytes([0, 6, 7, 8, 9, 10, 0, 0]), 0x0800) + ip


# ---- classic pcap ----

def classic(snaplen, records):
    """records: (frame, claimed caplen or None) pairs; little-endian, microseconds, Ethernet."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    offsets = []
    for i, (frame, caplen) in enumerate(records):
        offsets.append(len(out))
        n = len(frame) if caplen is None else caplen
        out += struct.pack("<IIII", T0 + i, 0, n, len(frame)) + frame
    return out, offsets


# ---- pcapng ----

def block(btype, body):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def shb():
    return block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype, snaplen):
    return block(1, struct.pack("<HHI", linktype, 0, snaplen) + struct.pack("<HH", 0, 0))


def epb(ifid, i, frame):
    ts = (T0 + i) * 1000000
    return block(6, struct.pack("<IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def edge_cases():
    cases = {}

    out = shb()
    for i in range(100):
        out += idb(113 if i % 2 else 1, 0)
    for i in range(100):
        ip = ipv4_udp(20000 + i, 5000, 20)
        out += epb(i, i, sll(ip) if i % 2 else eth(ip))
    cases["many-ifs.pcapng"] = (out, {"packets": 100, "flows": 100})

    frames = [eth(ipv4_udp(30000 + i, 5000, 200 - 42 if i == 2 else 40)) for i in range(5)]
    data, _ = classic(128, [(f, None) for f in frames])
    cases["over-snaplen.pcap"] = (data, {"packets": 5, "over_snaplen": 1, "flows": 5})

    out = shb() + idb(1, 128)
    for i, f in enumerate(frames):
        out += epb(0, i, f)
    cases["over-snaplen.pcapng"] = (out, {"packets": 5, "over_snaplen": 1, "flows": 5})

    big = bytes(262145)
    data, offsets = classic(0, [(frames[0], None), (big, None), (frames[1], None)])
    cases["over-max.pcap"] = (data, {"packets": 1, "over_max_caplen": 1, "error_offset": offsets[1]})

    out = shb() + idb(1, 0) + epb(0, 0, frames[0])
    bad = len(out)
    out += epb(7, 1, frames[1]) + epb(0, 2, frames[3])
    cases["bad-ifid.pcapng"] = (out, {"packets": 1, "error_offset": bad})
    return cases


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("Usage: ")[1].strip())
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, (data, _) in sorted(edge_cases().items()):
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
