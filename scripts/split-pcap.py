#!/usr/bin/python3
"""split-pcap.py - split a capture into its signalling and the rest, for one probe each.

Usage: scripts/split-pcap.py --plane sip|gtp IN OUT_SIGNALLING OUT_REST

What two probes at two places of a network see: the probe of the SIP proxy
sees the signalling, the probe of the media path the RTP; the probe of a
mobile core's control plane (Gn-C, S11, S5-C) the GTP-C, the probe of its
user plane (Gn-U, S1-U, S5-U) the GTP-U.  Each frame of IN
goes to exactly one output, unchanged and in order, in IN's format (classic
pcap in either byte order and time resolution, or pcapng: its section and
interface blocks go to both outputs, each packet block to one).

--plane sip: signalling is SIP: UDP or TCP with port 5060 or 5061 at either
end, or a payload that starts like a SIP message (a request line ending in
SIP/2.0, or a status line); everything else (RTP, RTCP, ...) is the rest.

--plane gtp: signalling is the GTP control plane (GTPv1-C, GTPv2-C): UDP
with port 2123 at either end; everything else (GTP-U on 2152, ...) is the
rest.

Link types read: Ethernet (with 802.1Q/802.1ad tags), raw IP and Linux
cooked (SLL); frames of other link types, or not IP, go to the rest.  Prints
one JSON line: frames written to each output.  Standard library only.
"""
import argparse
import json
import re
import struct
import sys

SIP_PORTS = {5060, 5061}
GTPC_PORT = 2123
SIP_START = re.compile(rb"^(SIP/2\.0 \d{3} |[A-Z]+ [^ \r\n]+ SIP/2\.0\r?\n)")


def l4(link, frame):
    """(protocol, sport, dport, payload) of an IPv4/IPv6 TCP or UDP frame, else None."""
    if link == 1:  # Ethernet
        off, et = 14, struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
        while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
            et = struct.unpack_from("!H", frame, off + 2)[0]
            off += 4
    elif link == 113:  # Linux cooked
        off, et = 16, struct.unpack_from("!H", frame, 14)[0] if len(frame) >= 16 else 0
    elif link in (101, 228, 229, 12):  # raw IP
        off, et = 0, 0x0800 if frame[:1] and frame[0] >> 4 == 4 else 0x86DD
    else:
        return None
    ip = frame[off:]
    if et == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
        hl, proto = (ip[0] & 15) * 4, ip[9]
        if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:
            return None  # a later fragment: no transport header
        t = ip[hl:]
    elif et == 0x86DD and len(ip) >= 40 and ip[0] >> 4 == 6:
        proto, t = ip[6], ip[40:]
    else:
        return None
    if proto == 17 and len(t) >= 8:
        return proto, struct.unpack_from("!H", t, 0)[0], struct.unpack_from("!H", t, 2)[0], t[8:]
    if proto == 6 and len(t) >= 20:
        return proto, struct.unpack_from("!H", t, 0)[0], struct.unpack_from("!H", t, 2)[0], t[(t[12] >> 4) * 4:]
    return None


def is_sip(link, frame):
    x = l4(link, frame)
    if not x:
        return False
    _, sport, dport, payload = x
    return sport in SIP_PORTS or dport in SIP_PORTS or bool(SIP_START.match(payload[:200]))


def is_gtpc(link, frame):
    x = l4(link, frame)
    return bool(x) and x[0] == 17 and GTPC_PORT in (x[1], x[2])


def split_classic(data, plane, outs):
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    for o in outs:
        o.write(data[:24])
    off, n = 24, [0, 0]
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, off + 8)[0]
        rec = data[off:off + 16 + incl]
        i = 0 if plane(link, rec[16:]) else 1
        outs[i].write(rec)
        n[i] += 1
        off += 16 + incl
    return n


def split_pcapng(data, plane, outs):
    off, n, links, endian = 0, [0, 0], [], "<"
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        block = data[off:off + blen]
        if btype == 1:  # interface description
            links.append(struct.unpack_from(endian + "H", block, 8)[0])
        if btype in (6, 3):  # enhanced / simple packet
            if btype == 6:
                ifc, cap = struct.unpack_from(endian + "I", block, 8)[0], struct.unpack_from(endian + "I", block, 20)[0]
                frame = block[28:28 + cap]
            else:
                ifc, frame = 0, block[12:blen - 4]
            i = 0 if ifc < len(links) and plane(links[ifc], frame) else 1
            outs[i].write(block)
            n[i] += 1
        else:
            for o in outs:
                o.write(block)
        off += blen
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plane", choices=["sip", "gtp"], required=True, help="what the first output keeps")
    ap.add_argument("input")
    ap.add_argument("signalling")
    ap.add_argument("rest")
    a = ap.parse_args()
    plane = {"sip": is_sip, "gtp": is_gtpc}[a.plane]
    data = open(a.input, "rb").read()
    with open(a.signalling, "wb") as s, open(a.rest, "wb") as r:
        if data[:4] == b"\x0a\x0d\x0d\x0a":
            n = split_pcapng(data, plane, (s, r))
        elif data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
            n = split_classic(data, plane, (s, r))
        else:
            sys.exit("split-pcap.py: %s: not a pcap or pcapng file" % a.input)
    print(json.dumps({"signalling": n[0], "rest": n[1]}))


if __name__ == "__main__":
    main()
