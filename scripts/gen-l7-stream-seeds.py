#!/usr/bin/python3
"""gen-l7-stream-seeds.py - seeds for fuzz/fuzz_l7_stream.c: segment lists
(dir|flags<<1, sequence offset, length, ACK offset; 7 bytes each) covering
in-order data, reordering, overlaps, retransmissions and holes the peer
acknowledges.  Usage: scripts/gen-l7-stream-seeds.py [OUTDIR]"""
import os
import struct
import sys

ACK = 0x10


def seg(d, off, n, ackoff=0, flags=ACK):
    return struct.pack("!BHHH", d | (flags << 1), off, n, ackoff)


SEEDS = {
    "in_order": seg(0, 0, 100) + seg(1, 0, 50, 100) + seg(0, 100, 100, 50),
    "reordered": seg(0, 200, 100) + seg(0, 100, 100) + seg(0, 0, 100),
    "overlap": seg(0, 0, 100) + seg(0, 50, 100) + seg(0, 140, 30),
    "retransmit": seg(0, 0, 100) + seg(0, 0, 100) + seg(0, 20, 10),
    "hole_acked": seg(0, 0, 10) + seg(0, 20, 10) + seg(1, 0, 0, 30),
    "over_budget": b"".join(seg(0, 100 + 900 * i, 900) for i in range(6)),
    "wrap_and_fin": seg(0, 0, 4000) + seg(0, 4000, 100, 0, ACK | 0x01) + seg(1, 0, 0, 4101),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz",
                                                            "corpus", "l7_stream")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
