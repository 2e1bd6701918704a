#!/usr/bin/env python3
"""gen-l7-seeds-rtp.py - writes seed inputs for fuzz/fuzz_l7_rtp.c.

Input format (see the target): one mode byte (bit 0: port 5005), then
records of a 2-byte header (bit 15: server direction, low 14 bits: length)
and one UDP datagram each.

The datagrams are written here from RFC 3550 and RFC 3551: RTP streams
(PCMU, PCMA, G.729, a dynamic type, telephone-event) in sequence, with
loss, duplicates, reordering and the sequence wrap-around, CSRCs,
extensions and padding; RTCP compound packets (SR, RR, SDES, BYE),
multiplexed and alone; and the hostile shapes the unit tests cover
(padding larger than the packet, extension and CSRC lengths that lie,
RTCP counts and lengths that lie, SSRC flapping, non-RTP).  Standard
library only.

Usage: scripts/gen-l7-seeds-rtp.py [CORPUSDIR]   (default: fuzz/corpus; writes l7_rtp/)
"""
import os
import struct
import sys


def rec(direction, payload):
    return struct.pack("!H", (0x8000 if direction else 0) | len(payload)) + payload


def rtp(pt, seq, ts, ssrc, payload=b"\xd5" * 160, marker=0, csrc=(), ext=None, pad=0):
    b0 = 0x80 | (0x20 if pad else 0) | (0x10 if ext is not None else 0) | len(csrc)
    out = struct.pack("!BBHII", b0, pt | (0x80 if marker else 0), seq & 0xffff, ts & 0xffffffff, ssrc)
    out += b"".join(struct.pack("!I", c) for c in csrc)
    if ext is not None:
        out += struct.pack("!HH", 0xbede, len(ext) // 4) + ext
    out += payload
    if pad:
        out += b"\0" * (pad - 1) + bytes([pad])
    return out


def block(ssrc, fraction=0, lost=0, seq=0, jitter=0):
    return struct.pack("!IB", ssrc, fraction) + (lost & 0xffffff).to_bytes(3, "big") + struct.pack("!IIII", seq, jitter, 0, 0)


def sr(ssrc, blocks=()):
    body = struct.pack("!IIIIII", ssrc, 0xe0000000, 0, 1234, 10, 1600) + b"".join(blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 200, len(body) // 4) + body


def rr(ssrc, blocks=()):
    body = struct.pack("!I", ssrc) + b"".join(blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 201, len(body) // 4) + body


def sdes(ssrc, cname=b"user@host"):
    item = bytes([1, len(cname)]) + cname + b"\0"
    item += b"\0" * (-(4 + len(item)) % 4)
    body = struct.pack("!I", ssrc) + item
    return struct.pack("!BBH", 0x81, 202, len(body) // 4) + body


def bye(ssrc):
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def stream(pt, n, ssrc, start=0, step=160, direction=0, skip=(), dup=(), swap=()):
    seqs = [start + i for i in range(n) if start + i not in skip]
    for s in dup:
        seqs.insert(seqs.index(s) + 1, s)
    for s in swap:
        i = seqs.index(s)
        seqs[i], seqs[i + 1] = seqs[i + 1], seqs[i]
    return b"".join(rec(direction, rtp(pt, s, (s - start) * step, ssrc)) for s in seqs)


def main():
    out = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus", "l7_rtp")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "pcma": b"\0" + stream(8, 30, 0x1111),
        "both_ways": b"\0" + stream(0, 20, 1) + stream(18, 20, 2, step=160, direction=1),
        "loss_dup_reorder": b"\0" + stream(0, 40, 7, skip=(5, 6, 20), dup=(10,), swap=(30,)),
        "wraparound": b"\0" + stream(8, 20, 9, start=65530),
        "dynamic_events": b"\0" + stream(96, 10, 3, step=960) + b"".join(
            rec(0, rtp(101, 10 + i, 9600, 3, payload=b"\x05\x0a\x00\xa0", marker=i == 0)) for i in range(5)),
        "csrc_ext_pad": b"\0" + b"".join(
            rec(0, rtp(0, i, i * 160, 4, csrc=(1, 2), ext=b"\x10\xaa\0\0", pad=4)) for i in range(8)),
        "rtcp_mux": b"\0" + stream(0, 10, 5) + rec(1, rr(6, [block(5, 64, 3, 9, 80)]) + sdes(6)) +
        rec(0, sr(5, [block(6)]) + sdes(5) + bye(5)),
        "rtcp_alone": b"\x01" + rec(0, sr(5, [block(6, 10, 2, 100, 40)]) + sdes(5)) +
        rec(1, rr(6, [block(5, 0, -1, 50, 20)] * 9) + sdes(6)),
        "ssrc_flap": b"\0" + stream(0, 5, 0xa) + b"".join(
            rec(0, rtp(0, 100 + i, 0, 0xa if i % 2 else 0xb)) for i in range(20)) + stream(8, 8, 0xb, start=900),
        "hostile_padding": b"\0" + stream(0, 4, 1) + rec(0, rtp(0, 4, 640, 1)[:-1] + b"\xff") +
        rec(0, bytes([0xa0]) + rtp(0, 5, 800, 1)[1:-1] + b"\xc8"),
        "hostile_ext_csrc": b"\0" + stream(0, 4, 1) + rec(0, rtp(0, 4, 640, 1, ext=b"")[:-160][:16] + b"\xff\xff") +
        rec(0, bytes([0x8f]) + rtp(0, 5, 800, 1)[1:40]),
        "hostile_rtcp": b"\x01" + rec(0, struct.pack("!BBHI", 0x9f, 201, 1, 5)) +
        rec(0, struct.pack("!BBHI", 0x81, 200, 40, 5)) + rec(1, struct.pack("!BBH", 0x40, 201, 0)),
        "not_rtp": b"\0" + b"".join(rec(0, rtp(0, i * 977, 5, i)) for i in range(12)) +
        rec(0, b"\x01\x02") + rec(1, b"GET / HTTP/1.0\r\n\r\n"),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
