#!/usr/bin/env python3
"""gen-l7-seeds-dns.py - writes seed inputs for fuzz/fuzz_l7_dns.c.

Input format (see fuzz/fuzz_l7_dns.c): one mode byte (bit 0: TCP, bit 1:
with a cloud aggregator), then
records of a 2-byte header (bit 15: server direction, bit 14: a 7-byte hole
before the record on TCP, low 14 bits: length) and the payload.  The DNS
messages are built here from scratch: valid pairs over UDP and TCP, and the
hostile shapes the unit tests cover (pointer loops, forward pointers, counts
that lie, truncation, TCP length prefix lies, holes); nothing is copied
from captures.  Standard library only.

Usage: scripts/gen-l7-seeds-dns.py [OUTDIR]   (default: fuzz/corpus/l7_dns)
"""
import os
import struct
import sys


def be16(v):
    return struct.pack("!H", v)


def be32(v):
    return struct.pack("!I", v)


def name(dotted):
    out = b""
    for label in dotted.split(".") if dotted else []:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return be16(qid) + be16(flags) + be16(qd) + be16(an) + be16(ns) + be16(ar)


def query(qid, qname, qtype=1):
    return header(qid, 0x0100) + name(qname) + be16(qtype) + be16(1)


def rr(owner, rtype, ttl, rdata):
    return owner + be16(rtype) + be16(1) + be32(ttl) + be16(len(rdata)) + rdata


def response(qid, qname, qtype, answers, rcode=0, an=None):
    body = b"".join(answers)
    return header(qid, 0x8180 | rcode, 1, len(answers) if an is None else an) + name(qname) + be16(qtype) + \
        be16(1) + body


PTR_Q = b"\xc0\x0c"  # the question's name


def rec(payload, server=False, hole=False):
    return be16((0x8000 if server else 0) | (0x4000 if hole else 0) | len(payload)) + payload


def framed(msg):
    return be16(len(msg)) + msg


def seeds():
    q = query(0x1234, "www.example.com")
    r = response(0x1234, "www.example.com", 1, [
        rr(PTR_Q, 5, 300, b"\x03web" + b"\xc0\x10"),
        rr(PTR_Q, 1, 60, bytes([192, 0, 2, 1])),
        rr(PTR_Q, 28, 120, bytes([0x20, 1, 0x0d, 0xb8] + [0] * 11 + [1])),
        rr(b"\xc0\x10", 15, 3600, be16(10) + b"\x04mail\xc0\x10"),
        rr(PTR_Q, 12, 100, b"\xc0\x10"),
        rr(PTR_Q, 16, 30, b"\x02hi"),
    ])
    out = {}
    out["udp_pair"] = b"\0" + rec(q) + rec(r, True)
    odd = header(0x4242, 0x0100) + b"\x05a\"b\\c\x03\x00\x01\x7f\x00" + be16(1) + be16(1)
    out["udp_pair_cloud"] = b"\2" + rec(q) + rec(r, True) + rec(odd) + \
        rec(response(0x4242, "x", 1, [], rcode=3), True)
    out["tcp_pair_cloud"] = b"\3" + rec(framed(q)) + rec(framed(r), True)
    out["udp_nxdomain_unanswered"] = b"\0" + rec(query(1, "a.example", 28)) + rec(query(2, "b.example")) + \
        rec(response(1, "a.example", 28, [], rcode=3), True) + rec(query(2, "b.example"))
    out["udp_response_only"] = b"\0" + rec(r, True)
    many = b"\0"
    for i in range(12):
        many += rec(query(100 + i, "n%d.example" % i))
    out["udp_pending_full"] = many + rec(response(111, "n11.example", 1, []), True)
    # hostile
    out["ptr_self"] = b"\0" + rec(header(1, 0x0100) + b"\xc0\x0c" + be16(1) + be16(1))
    out["ptr_into_own_labels"] = b"\0" + rec(header(1, 0x0100) + b"\x03abc\xc0\x0c" + be16(1) + be16(1))
    loop = response(5, "a.b", 1, [], an=1)
    here = len(loop)
    loop += be16(0xc000 | (here + 2)) + be16(0xc000 | here)
    out["ptr_forward_loop"] = b"\0" + rec(loop, True)
    chain = bytearray(b"\x01x\x00")
    prev = 0
    for _ in range(40):
        chain += be16(0xc000 | prev)
        prev = len(chain) - 2
    out["ptr_chain"] = b"\0" + rec(header(1, 0x0100) + bytes(chain[3:]) + be16(1) + be16(1))
    out["counts_lie"] = b"\0" + rec(q) + rec(response(0x1234, "www.example.com", 1,
                                                      [rr(PTR_Q, 1, 5, bytes([1, 2, 3, 4]))], an=500), True)
    out["qdcount_lie"] = b"\0" + rec(header(9, 0x0100, qd=0xffff) + name("x.example") + be16(1) + be16(1))
    out["truncated"] = b"\0" + rec(q[:7]) + rec(q[:20]) + rec(r[:len(r) - 3], True)
    out["bad_rdata"] = b"\0" + rec(response(3, "e.example", 1, [rr(PTR_Q, 1, 5, b"\1\2\3\4\5"),
                                                                rr(PTR_Q, 5, 5, b"\x01x")]), True)
    out["labels"] = b"\0" + rec(header(1, 0x0100) + b"\x41\x01x\x00" + be16(1) + be16(1)) + \
        rec(header(2, 0x0100) + (b"\x3f" + b"a" * 63) * 4 + b"\0" + be16(1) + be16(1))
    # TCP
    out["tcp_pair"] = b"\1" + rec(framed(q)) + rec(framed(r), True)
    two = framed(query(11, "a.example")) + framed(query(12, "b.example"))
    resp = framed(response(11, "a.example", 1, [rr(PTR_Q, 1, 10, bytes([1, 1, 1, 1]))])) + \
        framed(response(12, "b.example", 1, [rr(PTR_Q, 1, 20, bytes([2, 2, 2, 2]))]))
    split = b"".join(rec(resp[i:i + 5], True) for i in range(0, len(resp), 5))
    out["tcp_two_split"] = b"\1" + rec(two) + split
    out["tcp_length_lies"] = b"\1" + rec(be16(0) + be16(5) + b"12345" + framed(q) + be16(len(q) - 4) +
                                         q[:-4] + be16(4000) + q)
    out["tcp_hole"] = b"\1" + rec(framed(q)[10:], hole=True) + rec(framed(query(7, "c.example")))
    big = response(41, "big.example", 1, [rr(PTR_Q, 1, 5, bytes([10, 1, 1, i])) for i in range(200)])
    bigf = framed(big) + framed(response(41, "big.example", 1, [rr(PTR_Q, 1, 5, bytes([9, 9, 9, 9]))]))
    out["tcp_over_cap"] = b"\1" + rec(framed(query(41, "big.example"))) + \
        b"".join(rec(bigf[i:i + 700], True) for i in range(0, len(bigf), 700))
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                                "l7_dns")
    os.makedirs(outdir, exist_ok=True)
    for k, v in sorted(seeds().items()):
        with open(os.path.join(outdir, "seed-" + k), "wb") as f:
            f.write(v)
    print("wrote %d seeds to %s" % (len(seeds()), outdir))


if __name__ == "__main__":
    main()
