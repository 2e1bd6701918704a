#!/usr/bin/env python3
"""gen-collector-seeds.py - writes seed inputs for fuzz/fuzz_collector_{ipfix,nf9,nf5}.c.

A seed is one or more datagrams joined by the 4-byte marker b"MCDG" (the
targets split on it and feed the datagrams in turn to one decoder state).
The seeds cover templates then data, data before its template, options
templates, variable-length and enterprise fields, withdrawals, sequence
gaps, padding, and hostile lengths (sets and records that lie about their
size, zero and huge field counts).  Nothing is copied from captures.
Standard library only.

Usage: scripts/gen-collector-seeds.py [OUTDIR]   (default: fuzz/corpus)
"""
import os
import struct
import sys

SEP = b"MCDG"


def be16(v):
    return struct.pack("!H", v & 0xFFFF)


def be32(v):
    return struct.pack("!I", v & 0xFFFFFFFF)


def ipfix_msg(sets, seq=0, domain=1, secs=1700000000):
    body = b"".join(sets)
    return be16(10) + be16(16 + len(body)) + be32(secs) + be32(seq) + be32(domain) + body


def set_(sid, payload):
    return be16(sid) + be16(4 + len(payload)) + payload


def ipfix_tmpl(tid, fields):
    """fields: (id, len, pen or None)"""
    out = be16(tid) + be16(len(fields))
    for fid, flen, pen in fields:
        if pen is None:
            out += be16(fid) + be16(flen)
        else:
            out += be16(0x8000 | fid) + be16(flen) + be32(pen)
    return out


def varlen(b):
    return (bytes([len(b)]) if len(b) < 255 else b"\xff" + be16(len(b))) + b


def ipfix_seeds():
    t = ipfix_tmpl(256, [(8, 4, None), (1, 8, None), (2, 4, 32473), (371, 0xFFFF, None)])
    rec = bytes([10, 0, 0, 1]) + struct.pack("!Q", 1000) + be32(7) + varlen(b"alice")
    rec2 = bytes([10, 0, 0, 2]) + struct.pack("!Q", 5) + be32(8) + varlen(b"x" * 300)
    opt = be16(400) + be16(2) + be16(1) + be16(149) + be16(4) + be16(34) + be16(4)
    seeds = {
        "template_data": ipfix_msg([set_(2, t), set_(256, rec + rec2 + b"\0")]),
        "data_then_template": ipfix_msg([set_(256, rec)]) + SEP + ipfix_msg([set_(2, t)], seq=1),
        "options": ipfix_msg([set_(3, opt + b"\0\0"), set_(400, be32(1) + be32(100))]),
        "withdraw": ipfix_msg([set_(2, t)]) + SEP + ipfix_msg([set_(2, be16(256) + be16(0))])
        + SEP + ipfix_msg([set_(2, be16(2) + be16(0)), set_(3, be16(3) + be16(0))]),
        "seq_gap": ipfix_msg([set_(2, t), set_(256, rec)]) + SEP + ipfix_msg([set_(256, rec)], seq=50),
        "set_len_lies": ipfix_msg([be16(256) + be16(200) + rec]),
        "varlen_overrun": ipfix_msg([set_(2, t), set_(256, rec[:-6] + b"\xc8ab")]),
        "huge_count": ipfix_msg([set_(2, be16(300) + be16(0xFFFF) + be16(8) + be16(4))]),
        "zero_len_fields": ipfix_msg([set_(2, be16(301) + be16(2) + be16(8) + be16(0) + be16(1) + be16(0)),
                                      set_(301, b"\0" * 8)]),
        "msg_len_lies": be16(10) + be16(9000) + be32(0) + be32(0) + be32(1) + set_(2, t),
    }
    return seeds


def nf9_pkt(flowsets, seq=0, count=1, source=42, up=10000):
    return be16(9) + be16(count) + be32(up) + be32(1700000000) + be32(seq) + be32(source) + b"".join(flowsets)


def nf9_seeds():
    t = be16(260) + be16(4) + be16(8) + be16(4) + be16(2) + be16(4) + be16(7) + be16(2) + be16(4) + be16(1)
    rec = bytes([10, 0, 0, 1]) + be32(10) + be16(1000) + b"\x11"
    opt = be16(270) + be16(4) + be16(8) + be16(1) + be16(4) + be16(34) + be16(4) + be16(35) + be16(1)
    return {
        "template_data": nf9_pkt([set_(0, t), set_(260, rec + rec + b"\0\0")], count=3),
        "data_then_template": nf9_pkt([set_(260, rec + b"\0")]) + SEP + nf9_pkt([set_(0, t)], seq=1),
        "options": nf9_pkt([set_(1, opt + b"\0\0"), set_(270, be32(0) + be32(64) + b"\x02\0\0\0")], count=2),
        "seq_gap": nf9_pkt([set_(0, t), set_(260, rec)], seq=1) + SEP + nf9_pkt([set_(260, rec)], seq=9),
        "flowset_len_lies": nf9_pkt([be16(260) + be16(300) + rec]),
        "bad_options_len": nf9_pkt([set_(1, be16(271) + be16(3) + be16(5) + b"\0" * 8)]),
        "varlen_in_v9": nf9_pkt([set_(0, be16(261) + be16(1) + be16(371) + be16(0xFFFF))]),
    }


def nf5_pkt(recs, seq=0, count=None, up=10000):
    count = len(recs) if count is None else count
    return (be16(5) + be16(count) + be32(up) + be32(1700000000) + be32(500000000) + be32(seq)
            + b"\x01\x02" + be16(0x4000 | 100) + b"".join(recs))


def nf5_rec(k):
    return (bytes([10, 0, 0, k]) + bytes([192, 0, 2, 1]) + be32(0) + be16(3) + be16(4) + be32(10) + be32(1500)
            + be32(1000) + be32(9000) + be16(40000) + be16(443) + b"\0\x1b\x06\x20" + be16(64500) + be16(64501)
            + b"\x18\x10\0\0")


def nf5_seeds():
    return {
        "two_records": nf5_pkt([nf5_rec(1), nf5_rec(2)]),
        "seq_gap": nf5_pkt([nf5_rec(1)]) + SEP + nf5_pkt([nf5_rec(2)], seq=7),
        "count_lies": nf5_pkt([nf5_rec(1)], count=3),
        "count_31": nf5_pkt([nf5_rec(1)] * 31),
        "uptime_wrap": nf5_pkt([nf5_rec(1)], up=5),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus")
    for name, seeds in (("collector_ipfix", ipfix_seeds()), ("collector_nf9", nf9_seeds()),
                        ("collector_nf5", nf5_seeds())):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        for k, v in sorted(seeds.items()):
            with open(os.path.join(d, k), "wb") as f:
                f.write(v)
        print("%s: %d seeds" % (d, len(seeds)))


if __name__ == "__main__":
    main()
