#!/usr/bin/python3
"""test_l7_rtp.py - the RTP analyzer against `tshark -q -z rtp,streams`, stream by stream.

Runs mcprobe on every capture of ../shared/corpus/rtp and sip_rtp with the
RTP elements in --json (biflow objects: the reverse direction's keys carry
the `reverse` prefix), and takes tshark's stream table with
`-o rtp.heuristic_rtp:TRUE` (RTP without signalling is only found that way).
Each tshark stream (5-tuple and SSRC) must be one of our directions with:

* packets equal;
* lost: tshark's "Lost" is expected minus every packet received, so a
  duplicate makes it go down (the RFC 2833 captures' end-of-event packets
  sent three times give -2); ours counts duplicates apart, so
  ours.rtpLostPackets - ours.rtpDuplicatePackets must equal it exactly;
* max delta within 0.0015 ms: tshark prints 3 decimals, both measure the
  same pcap microseconds and skip the same packets (marker, comfort noise
  and the packet after it, timestamp gone back);
* max jitter within 0.0015 ms, with one explained exception: TShark 4.0
  takes the arrival reference of a packet whose payload type has no known
  clock (RFC 4733 telephone-event, an unnamed dynamic type) but keeps the
  timestamp reference of the last clocked packet, so the next packet's
  transit difference mixes two packets; Wireshark 4.2 and later and RFC
  3550 A.8 use one reference packet.  For every stream the test recomputes
  both from tshark's own per-packet fields: the 4.0 algorithm must give
  tshark's number and the single-reference one ours (each within 0.0015
  ms), and a difference between tshark and us is accepted only then, and
  printed.

Known differences, each checked to happen:

* sip_rtp/ndpi_FAX-...: after the re-INVITE to T.38 tshark dissects the
  last 27 RTP packets of 10.35.60.100:15580 as T.38 (the SDP gave that port
  to udptl); they are RTP (version 2, the stream's SSRC and sequence):
  ours has them, so ours = tshark + the packets tshark labels T.38 whose
  UDP payload is RTP of the same SSRC.
* rtp/ndpi_rtp.pcapng: 192.113.193.227:50003 sends two SSRCs interleaved
  (audio and telephone-event); a direction follows one SSRC (a new one
  must send MC_RTP_SSRC_SWITCH packets in a row to take over), so the
  other is not a stream of ours: its packets are l7.rtp.other_ssrc.
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

FIELDS = ["sourceIPv4Address", "destinationIPv4Address", "sourceIPv6Address", "destinationIPv6Address",
          "sourceTransportPort", "destinationTransportPort", "protocolIdentifier", "packetDeltaCount",
          "l7Protocol"]
RTP = ["rtpSsrc", "rtpPackets", "rtpLostPackets", "rtpDuplicatePackets", "rtpJitterMaxMs", "rtpMaxDeltaMs"]
TOL = 0.0015
HEUR = ["-o", "rtp.heuristic_rtp:TRUE"]
CLOCK = {0: 8000, 3: 8000, 4: 8000, 5: 8000, 6: 16000, 7: 8000, 8: 8000, 9: 8000, 10: 44100, 11: 44100,
         12: 8000, 13: 8000, 14: 90000, 15: 8000, 16: 11025, 17: 22050, 18: 8000, 25: 90000, 26: 90000,
         28: 90000, 31: 90000, 32: 90000, 33: 90000, 34: 90000}
# streams of tshark we do not follow: (capture, ssrc) -> why
NOT_FOLLOWED = {("rtp/ndpi_rtp.pcapng", 0x001A757D): "second SSRC interleaved in one direction"}


def packets_of(cap, s, proto="rtp"):
    """(time us, seq, ts, pt, marker) of a stream's packets as tshark dissects them."""
    flt = "%s && ip.src==%s && udp.srcport==%d && ip.dst==%s && udp.dstport==%d" % (
        proto, s["src"], s["sport"], s["dst"], s["dport"])
    rows = mctest.tshark_lines(cap, flt, ["frame.time_epoch", "udp.payload"], extra=HEUR)
    out = []
    for epoch, payload in rows:
        b = bytes.fromhex(payload.replace(":", ""))
        if len(b) < 12 or b[0] >> 6 != 2 or struct.unpack("!I", b[8:12])[0] != s["ssrc"]:
            continue
        sec, _, frac = epoch.partition(".")
        us = int(sec) * 1000000 + int((frac + "000000")[:6])
        out.append((us, struct.unpack("!H", b[2:4])[0], struct.unpack("!I", b[4:8])[0], b[1] & 0x7f, b[1] >> 7))
    return out


def max_jitter(rows, tshark40):
    """Max jitter over regular packets: one reference packet (RFC 3550 A.8, ours), or TShark 4.0's two."""
    if not rows:
        return 0.0
    base = rows[0][0]
    rows = [((r[0] - base) / 1000.0,) + tuple(r[1:]) for r in rows]
    t0, _, ts0, pt0, _ = rows[0]
    ref_t, ref_ts, lastnom = t0, ts0, 0.0
    j = mx = 0.0
    prev_pt = pt0
    for t, _, ts, pt, m in rows[1:]:
        clk = CLOCK.get(pt, 0)
        if tshark40:
            intime = ((ts - ts0) & 0xffffffff) < 0x80000000
            if intime and clk:
                nom = ((ts - ts0) & 0xffffffff) / (clk // 1000)
                j += (abs(t - (ref_t + nom - lastnom)) - j) / 16
                lastnom = nom
        else:
            dts = (ts - ref_ts) & 0xffffffff
            dts = dts - (1 << 32) if dts >= 1 << 31 else dts
            intime = dts >= 0
            if clk:
                j += (abs((t - ref_t) - dts * 1000.0 / clk) - j) / 16
        if not m and pt not in (13, 19) and prev_pt not in (13, 19) and intime and clk:
            mx = max(mx, j)
        prev_pt = pt
        if intime:
            ref_t = t
            if not tshark40:
                ref_ts = ts
    return mx


def our_directions(flows):
    dirs = []
    for f in flows:
        if f.get("l7Protocol") != "rtp":
            continue
        src = f.get("sourceIPv4Address") or f.get("sourceIPv6Address")
        dst = f.get("destinationIPv4Address") or f.get("destinationIPv6Address")
        sp, dp = f["sourceTransportPort"], f["destinationTransportPort"]
        for rev, a, ap, b, bp in ((False, src, sp, dst, dp), (True, dst, dp, src, sp)):
            k = (lambda n: "reverse" + n[0].upper() + n[1:]) if rev else (lambda n: n)
            if f.get(k("rtpPackets"), 0):
                dirs.append(dict([("src", a), ("sport", ap), ("dst", b), ("dport", bp)] +
                                 [(n, f[k(n)]) for n in RTP]))
    return dirs


def main():
    mctest.need_tool("tshark")
    caps = mctest.corpus_captures("rtp") + mctest.corpus_captures("sip_rtp")
    chk = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mcrtp")
    spec = ",".join(FIELDS + RTP + ["reverse" + n[0].upper() + n[1:] for n in RTP])
    explained = t38_seen = 0
    for cap in caps:
        name = os.path.relpath(cap, mctest.CORPUS)
        flows, ctr = mctest.probe_file(cap, ["-T", spec], work)
        ours = our_directions(flows)
        matched = []
        for s in mctest.tshark_rtp_streams(cap):
            what = "%s %s:%d > %s:%d ssrc 0x%08X" % (name, s["src"], s["sport"], s["dst"], s["dport"], s["ssrc"])
            o = [d for d in ours if (d["src"], d["sport"], d["dst"], d["dport"], d["rtpSsrc"]) ==
                 (s["src"], s["sport"], s["dst"], s["dport"], s["ssrc"])]
            if (name, s["ssrc"]) in NOT_FOLLOWED:
                chk.check(not o and ctr.get("l7.rtp.other_ssrc", 0) == s["pkts"],
                          "%s: %s, expected its %d packets in l7.rtp.other_ssrc, have %d" % (
                              what, NOT_FOLLOWED[(name, s["ssrc"])], s["pkts"], ctr.get("l7.rtp.other_ssrc", 0)))
                continue
            if not chk.check(len(o) == 1, "%s: not one stream of ours (%d)" % (what, len(o))) and not o:
                continue
            o = o[0]
            matched.append(o)
            rows = packets_of(cap, s)
            extra = packets_of(cap, s, "t38")  # RTP packets tshark gave to T.38 by the SDP (see above)
            t38_seen += len(extra)
            chk.check(o["rtpPackets"] == s["pkts"] + len(extra), "%s: packets %d, tshark %d (+%d it calls T.38)" % (
                what, o["rtpPackets"], s["pkts"], len(extra)))
            chk.check(o["rtpLostPackets"] - o["rtpDuplicatePackets"] == s["lost"],
                      "%s: lost %d - duplicates %d != tshark's %d" % (
                          what, o["rtpLostPackets"], o["rtpDuplicatePackets"], s["lost"]))
            chk.check(abs(o["rtpMaxDeltaMs"] - s["max_delta"]) <= TOL, "%s: max delta %.4f, tshark %.3f" % (
                what, o["rtpMaxDeltaMs"], s["max_delta"]))
            mine = max_jitter(sorted(rows + extra), False)
            theirs = max_jitter(rows, True)
            chk.check(abs(mine - o["rtpJitterMaxMs"]) <= 1e-6, "%s: max jitter %.6f, RFC 3550 A.8 from tshark's "
                      "packets %.6f" % (what, o["rtpJitterMaxMs"], mine))
            chk.check(abs(theirs - s["max_jitter"]) <= TOL, "%s: tshark's max jitter %.3f is not TShark 4.0's "
                      "algorithm (%.4f): the explanation does not hold" % (what, s["max_jitter"], theirs))
            if abs(o["rtpJitterMaxMs"] - s["max_jitter"]) > TOL:
                unclocked = sum(1 for r in rows if r[3] not in CLOCK)
                chk.check(unclocked > 0, "%s: max jitter %.4f, tshark %.3f, and no unclocked packet explains it"
                          % (what, o["rtpJitterMaxMs"], s["max_jitter"]))
                explained += 1
                print("explained: %s: max jitter %.4f, tshark %.3f (TShark 4.0 mixes references around %d "
                      "packets of no known clock)" % (what, o["rtpJitterMaxMs"], s["max_jitter"], unclocked))
        for d in ours:
            chk.check(d in matched, "%s: our stream %s:%d > %s:%d ssrc %d is not one of tshark's" % (
                name, d["src"], d["sport"], d["dst"], d["dport"], d["rtpSsrc"]))
    # the known differences must happen: a fix elsewhere makes this fail until the doc is updated
    chk.check(t38_seen == 27, "expected the 27 RTP packets tshark dissects as T.38, saw %d" % t38_seen)
    chk.check(explained == 2, "expected 2 max-jitter differences explained by TShark 4.0, saw %d" % explained)
    chk.done()


main()
