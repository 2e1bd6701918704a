#!/usr/bin/env python3
"""gen-l7-seeds-gtp.py - writes seed inputs for fuzz/fuzz_l7_gtpc.c.

Input format (see fuzz/fuzz_l7_gtpc.c): one mode byte (bit 0: with a cloud
aggregator), then records of a 2-byte header (bit 15: server direction,
low 14 bits: length) and the datagram.  The GTPv1-C and GTPv2-C messages are
built here from scratch: request/response pairs, a retransmission, the
hostile shapes the unit tests cover (unknown TV type, IE lengths that lie,
nested Bearer Contexts past the depth bound, extension header chains,
piggybacked messages, more F-TEIDs than kept); nothing is copied from
captures.  Standard library only.

Usage: scripts/gen-l7-seeds-gtp.py [OUTDIR]   (default: fuzz/corpus/l7_gtpc)
"""
import os
import struct
import sys

IMSI = bytes([0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9])
APN = b"\x08internet\x03mnc"


def v1(mtype, teid, seq, ies, flags=0x32, ext=b""):
    body = (struct.pack("!HBB", seq, 0, 0xc0 if ext else 0) + ext if flags & 7 else b"") + ies
    return struct.pack("!BBHI", flags, mtype, len(body), teid) + body


def tlv1(t, v):
    return struct.pack("!BH", t, len(v)) + v


def v2(mtype, teid, seq, ies, piggy=False):
    head = struct.pack("!I", teid) if teid is not None else b""
    body = head + struct.pack("!I", seq << 8) + ies
    flags = 0x40 | (0x08 if teid is not None else 0) | (0x10 if piggy else 0)
    return struct.pack("!BBH", flags, mtype, len(body)) + body


def ie(t, v, inst=0):
    return struct.pack("!BHB", t, len(v), inst) + v


def fteid(iface, teid, a):
    return ie(87, bytes([0x80 | iface]) + struct.pack("!I", teid) + bytes(a))


def bearer(ebi, *inner):
    return ie(93, ie(73, bytes([ebi])) + b"".join(inner))


def rec(msg, server=False):
    return struct.pack("!H", (0x8000 if server else 0) | len(msg)) + msg


def seeds():
    s = {}
    pdp_req = v1(16, 0, 0x1234, bytes([2]) + IMSI + bytes([3, 0, 0xf1, 0x10, 0x12, 0x34, 0x56]) +
                 b"\x10\x11\x11\x11\x11\x11\x22\x22\x22\x22\x14\x05" + tlv1(128, b"\xf1\x21") + tlv1(131, APN) +
                 tlv1(133, bytes([192, 0, 2, 1])) + tlv1(133, bytes([192, 0, 2, 2])) +
                 tlv1(134, b"\x91\x44\x77\x00\x90\x01\xf2") + tlv1(151, b"\x01") +
                 tlv1(152, b"\x00\x00\xf1\x10\xab\xcd\x01\x02") + tlv1(154, b"\x53\x61\x20\x00\x91\x78\x84\x56"))
    pdp_resp = v1(17, 0x22222222, 0x1234, b"\x01\x80\x10\x00\x00\x00\x44\x11\x00\x00\x00\x55" +
                  tlv1(128, b"\xf1\x8d\x0a\x01\x02\x03" + bytes(16)) + tlv1(133, bytes([198, 51, 100, 7])))
    s["v1_pair"] = b"\x00" + rec(pdp_req) + rec(pdp_resp, True)
    s["v1_retransmit_unanswered"] = b"\x01" + rec(pdp_req) + rec(pdp_req) + rec(v1(20, 5, 9, b"\x14\x05"))
    s["v1_unknown_tv"] = b"\x00" + rec(v1(16, 0, 1, b"\x64\x00"))
    s["v1_ext_chain"] = b"\x00" + rec(v1(1, 0, 3, b"\x0e\x01", flags=0x36, ext=b"\x01\xab\xcd\x00"))
    s["v1_ext_zero"] = b"\x00" + rec(v1(1, 0, 3, b"", flags=0x36, ext=b"\x00\xab\xcd\x00"))
    s["v1_tlv_lie"] = b"\x00" + rec(v1(16, 0, 1, b"\x83\x00\x40" + APN))
    csr = v2(32, 0, 77, ie(1, IMSI) + ie(76, b"\x44\x77\x00\x90\x01\xf2") + ie(75, b"\x53\x61\x20\x00\x91\x78\x84\x56") +
             ie(86, b"\x18\x00\xf1\x10\x12\x34\x00\xf1\x10\xf1\x23\x45\x67") + ie(83, b"\x13\x00\x62") +
             ie(82, b"\x06") + fteid(10, 0xa1, [10, 0, 0, 1]) + ie(71, APN) + ie(79, b"\x01" + bytes(4)) +
             bearer(5, fteid(4, 0xa2, [10, 0, 0, 1])))
    csresp = v2(33, 0xa1, 77, ie(2, b"\x10\x00") + fteid(11, 0xb1, [10, 0, 0, 2]) +
                ie(79, b"\x03\x40" + bytes([0x20, 1, 0xd, 0xb8]) + bytes(12) + bytes([100, 64, 0, 7])) +
                bearer(5, ie(2, b"\x10\x00"), fteid(1, 0xb2, [10, 0, 0, 3])))
    s["v2_pair"] = b"\x01" + rec(csr) + rec(csresp, True)
    s["v2_piggyback"] = b"\x00" + rec(v2(33, 0xa1, 8, ie(2, b"\x10\x00"), piggy=True) + v2(95, 1, 8, bearer(6)))
    deep = ie(73, b"\x05")
    for _ in range(6):
        deep = ie(93, deep)
    s["v2_too_deep"] = b"\x00" + rec(v2(32, 0, 1, deep))
    s["v2_ie_lie"] = b"\x00" + rec(v2(32, 0, 1, struct.pack("!BHB", 1, 200, 0) + IMSI))
    s["v2_group_lie"] = b"\x00" + rec(v2(32, 0, 1, struct.pack("!BHB", 93, 5, 0) + ie(73, b"\x05") + ie(1, IMSI)))
    s["v2_many_fteids"] = b"\x00" + rec(v2(95, 1, 1, b"".join(bearer(5 + i % 11, fteid(1, i, [10, 0, 0, 1]))
                                                              for i in range(20))))
    s["v2_delete_unanswered"] = b"\x00" + rec(v2(36, 0xb1, 2, bearer(5))) + rec(v2(37, 0xdead, 3, ie(2, b"\x10\x00")),
                                                                                True)
    s["short"] = b"\x00" + rec(b"\x48\x20\x00") + rec(b"\x32")
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                              "l7_gtpc")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
