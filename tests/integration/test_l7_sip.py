#!/usr/bin/python3
"""test_l7_sip.py - the SIP analyzer (and its SDP parser) against tshark, message by message.

Runs mcprobe with --l7-log on every capture of ../shared/corpus/sip_rtp and
on the other corpus captures that carry SIP (gre/ndpi_gre.pcapng: SIP in
PPP in GRE), and takes tshark's view of the same messages with
`tshark -T fields -e sip.Call-ID -e sip.Method -e sip.Status-Code
-e sip.from.user -e sip.to.user -e sip.CSeq.seq -e sip.CSeq.method` plus the
SDP media lines (sdp.media.media, sdp.media.port, sdp.media.proto) and
connection addresses (sdp.connection_info.address).

Each SIP message is one transaction of ours (docs/internals/analyzers-sip.md),
so the two sides are compared as sequences, per conversation (protocol and
the two endpoints, in frame order): the same number of messages, and for
each message the Call-ID, the method (requests) or status code (responses),
the user parts of the From and To URIs (taken from our sipFrom/sipTo URIs:
between "sip:" and "@"), the CSeq number and method, the time (ms), and,
when tshark dissected SDP, the media descriptions (type, port, protocol, in
order) and the RTP address (one of tshark's connection addresses).

sngrep_ipv6frag.pcap carries SIP in IPv6 fragments: the probe reassembles
them before the flow table, so those messages compare like any other.
Every difference left must be listed in KNOWN with its reason, and must
happen (a fix makes the test fail until the list is updated).  A run that
compared nothing exits 77 (skip).
"""
import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

EXTRA = ["gre/ndpi_gre.pcapng"]

FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport",
          "udp.dstport", "tcp.srcport", "tcp.dstport", "sip.Call-ID", "sip.Method", "sip.Status-Code",
          "sip.from.user", "sip.to.user", "sip.CSeq.seq", "sip.CSeq.method", "sdp.media.media", "sdp.media.port",
          "sdp.media.proto", "sdp.connection_info.address"]
SEP = "\x1f"

# (capture, frame number, field) -> why.  None left: the list stays for the differences to come.
KNOWN = {}


def last(v):
    """The innermost of a repeated field (tunnels: outer first)."""
    return v.split(SEP)[-1] if v else ""


def items(v):
    return [i for i in v.split(SEP) if i] if v else []


def ms_of(epoch):
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1000 + int((frac + "000")[:3])


def conversation(proto, a, b):
    return (proto, frozenset([a, b]))


def theirs(cap):
    rows = mctest.tshark_lines(cap, "sip", FIELDS, extra=["-E", "aggregator=" + SEP])
    out = collections.defaultdict(list)
    for r in rows:
        g = dict(zip(FIELDS, r + [""] * (len(FIELDS) - len(r))))
        tcp = bool(g["tcp.srcport"])
        src = last(g["ipv6.src"]) or last(g["ip.src"])
        dst = last(g["ipv6.dst"]) or last(g["ip.dst"])
        sp = int(last(g["tcp.srcport"] if tcp else g["udp.srcport"]))
        dp = int(last(g["tcp.dstport"] if tcp else g["udp.dstport"]))
        # one frame may hold several SIP messages (TCP): tshark aggregates their values
        ids, methods, codes = items(g["sip.Call-ID"]), items(g["sip.Method"]), items(g["sip.Status-Code"])
        n = max(len(ids), 1)
        if n > 1:
            for k in range(n):
                out[conversation(6 if tcp else 17, (src, sp), (dst, dp))].append(
                    {"frame": int(g["frame.number"]), "ms": ms_of(g["frame.time_epoch"]), "callid": ids[k],
                     "several": True})
            continue
        m = {"frame": int(g["frame.number"]), "ms": ms_of(g["frame.time_epoch"]), "callid": g["sip.Call-ID"],
             "method": g["sip.Method"] or None, "status": int(g["sip.Status-Code"]) if g["sip.Status-Code"] else None,
             "from": g["sip.from.user"], "to": g["sip.to.user"],
             "cseq": int(g["sip.CSeq.seq"]) if g["sip.CSeq.seq"] else None, "cseq_method": g["sip.CSeq.method"],
             "media": list(zip(items(g["sdp.media.media"]), [int(p.split("/")[0]) for p in items(g["sdp.media.port"])],
                               items(g["sdp.media.proto"]))),
             "addrs": items(g["sdp.connection_info.address"]), "tcp": tcp}
        out[conversation(6 if tcp else 17, (src, sp), (dst, dp))].append(m)
    return out


def user_of(uri):
    """The user part of a sip:/sips: URI, as tshark's sip.from.user (empty without one)."""
    if not uri:
        return ""
    scheme, _, rest = uri.partition(":")
    if scheme.lower() not in ("sip", "sips") or "@" not in rest:
        return ""
    return rest.split("@")[0].split(";")[0]


def ours(log):
    out = collections.defaultdict(list)
    if not os.path.exists(log):
        return out
    for line in open(log):
        o = json.loads(line)
        if o.get("protocol") != "sip":
            continue
        v6 = "sourceIPv6Address" in o
        src = o["sourceIPv6Address" if v6 else "sourceIPv4Address"]
        dst = o["destinationIPv6Address" if v6 else "destinationIPv4Address"]
        media = []
        for d in (o.get("sipSdpMedia") or "").split(","):
            w = d.split()
            if len(w) >= 3:
                media.append((w[0], int(w[1].split("/")[0]), w[2]))
        m = {"ms": o["transactionStartMilliseconds"], "callid": o.get("sipCallId", ""),
             "method": o.get("sipMethod"), "status": o.get("sipStatusCode"),
             "from": user_of(o.get("sipFrom")), "to": user_of(o.get("sipTo")),
             "cseq": o.get("sipCSeq"), "cseq_method": o.get("sipCSeqMethod", ""),
             "media": media, "sdp": "sipSdpMedia" in o, "rtp_addr": o.get("sipRtpAddress"),
             "rtp_port": o.get("sipRtpPort")}
        out[conversation(o["protocolIdentifier"], (src, o["sourceTransportPort"]),
                         (dst, o["destinationTransportPort"]))].append(m)
    return out


COMPARED = ["callid", "method", "status", "from", "to", "cseq", "cseq_method", "ms"]


def compare(name, mine, want, chk, known):
    n = 0
    for conv in sorted(set(mine) | set(want), key=repr):
        a, b = mine.get(conv, []), want.get(conv, [])
        what = "%s %s" % (name, sorted(conv[1]))
        if len(a) != len(b):
            why = known.pop((name, "count", repr(sorted(conv[1]))), None)
            chk.check(why is not None, "%s: %d messages from mcprobe, %d from tshark" % (what, len(a), len(b)))
            continue
        for o, t in zip(a, b):
            n += 1
            where = "%s frame %d" % (what, t["frame"])
            if t.get("several"):
                chk.check(o["callid"] == t["callid"], "%s: Call-ID %r, tshark %r" % (where, o["callid"], t["callid"]))
                continue
            for f in COMPARED:
                if f == "ms" and t["tcp"]:
                    # ours is the message's first byte, tshark's the segment that completed it
                    ok = o["ms"] <= t["ms"]
                else:
                    ok = o[f] == t[f]
                if not ok:
                    ok = known.pop((name, t["frame"], f), None) is not None
                chk.check(ok, "%s: %s mcprobe %r tshark %r" % (where, f, o[f], t[f]))
            if t["media"] or t["addrs"]:
                ok = o["sdp"] and o["media"] == t["media"]
                if not ok:
                    ok = known.pop((name, t["frame"], "media"), None) is not None
                chk.check(ok, "%s: SDP media mcprobe %r tshark %r" % (where, o["media"], t["media"]))
                rtp = [m for m in t["media"] if m[2].upper().startswith("RTP/") and m[1]]
                if rtp:
                    ok = o["rtp_port"] == rtp[0][1] and o["rtp_addr"] in t["addrs"]
                    if not ok:
                        ok = known.pop((name, t["frame"], "rtp"), None) is not None
                    chk.check(ok, "%s: RTP endpoint mcprobe %r:%r tshark %r %r" %
                              (where, o["rtp_addr"], o["rtp_port"], t["addrs"], rtp[0][1]))
            else:
                chk.check(not o["media"], "%s: SDP media %r where tshark has none" % (where, o["media"]))
    return n


def counters_of(path):
    c = {}
    for line in open(path):
        k, v = line.split()
        c[k] = int(v)
    return c


def main():
    mctest.need_corpus()
    mctest.need_tool("tshark")
    caps = mctest.corpus_captures("sip_rtp") + [os.path.join(mctest.CORPUS, e) for e in EXTRA
                                                if os.path.exists(os.path.join(mctest.CORPUS, e))]
    chk = mctest.Checker()
    known = dict(KNOWN)
    wd = tempfile.mkdtemp(prefix="mct_sip")
    total = 0
    for cap in caps:
        name = os.path.relpath(cap, mctest.CORPUS)
        log = os.path.join(wd, "l7.json")
        cpath = os.path.join(wd, "counters.txt")
        if os.path.exists(log):
            os.unlink(log)
        mctest.run_probe(["-i", cap, "--l7-log", log, "--counters", cpath])
        ctr = counters_of(cpath)
        mine, want = ours(log), theirs(cap)
        n = compare(name, mine, want, chk, known)
        total += n
        nm, nw = sum(len(v) for v in mine.values()), sum(len(v) for v in want.values())
        # every message tshark saw is one the analyzer parsed (l7.sip.messages counts them all)
        chk.check(ctr.get("l7.sip.messages", 0) == nw, "%s: l7.sip.messages %d, tshark %d SIP messages" %
                  (name, ctr.get("l7.sip.messages", 0), nw))
        print("%s: %d messages compared (%d ours, %d tshark); not_sip %d, keepalives %d, sdp bodies %d" %
              (name, n, nm, nw, ctr.get("l7.sip.not_sip", 0), ctr.get("l7.sip.keepalives", 0),
               ctr.get("l7.sip.sdp_bodies", 0)))
    for k, why in known.items():
        chk.check(False, "listed difference did not happen: %s: %s" % (k, why))
    if total == 0 and not chk.failed:
        mctest.skip("no SIP message compared")
    chk.done()


if __name__ == "__main__":
    main()
