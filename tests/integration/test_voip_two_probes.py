#!/usr/bin/python3
"""test_voip_two_probes.py - a call's media tied to its signalling across two probes, through the cloud.

scripts/split-pcap.py --plane sip splits a capture into its SIP and the rest
(RTP, RTCP), as a probe at the proxy and a probe on the media path would see
them.  The signalling probe reads its file into a cloud (a private
redis-server), then the media probe reads its file into the same cloud.  A
third probe reads the whole capture into a cloud of its own: the reference,
which needs no lookup since it sees both.  Then:
  * every RTP flow the reference tied to a call, the media probe exported
    with the same rtpCallId, learned from voip.rtp.<addr>:<port> in the
    cloud (l7.rtp.calls_found_cloud counts them), and no other flow got one;
  * each call's hash in the shared cloud holds both directions' RTP figures
    (rtp_to_caller_*, rtp_to_callee_*: packets, lost, jitter, MOS, codec) as
    the reference's (the media probe wrote them, the signalling probe the
    rest of the hash);
  * the media probe raises events.voip.call.quality once for each stream
    whose MOS ends below --voip-mos-alert (the reference raises those too);
  * control: the media probe without cloud lookups ties no flow to a call.
On the generated capture (scripts/gen-voip-pcap.py, loss and jitter injected)
always, and on the corpus's SIP captures when ../shared is there.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402

T = ("sourceIPv4Address,destinationIPv4Address,sourceIPv6Address,destinationIPv6Address,sourceTransportPort,"
     "destinationTransportPort,protocolIdentifier,rtpPackets,reverseRtpPackets,rtpCallId")
FIGURES = ("packets", "lost", "jitter_ms", "jitter_max_ms", "mos", "codec")
MOS_ALERT = "4.3"  # above the MOS of the generated capture's lossy streams: some streams raise it


def run(cap, srv, wd, tag, extra=()):
    """Reads cap into srv's cloud: (RTP flows by 5-tuple, counters)."""
    flows, ctr = mctest.probe_file(cap, ["--redis", srv.addr, "-T", T, "--voip-mos-alert", MOS_ALERT] + list(extra),
                                   workdir=tempfile.mkdtemp(prefix=tag, dir=wd))
    rtp = {}
    for f in flows:
        if f.get("rtpPackets") or f.get("reverseRtpPackets"):
            key = (f.get("sourceIPv4Address") or f.get("sourceIPv6Address"), f["sourceTransportPort"],
                   f.get("destinationIPv4Address") or f.get("destinationIPv6Address"), f["destinationTransportPort"])
            rtp[key] = f.get("rtpCallId", "")
    return rtp, ctr


def media_figures(r):
    """{call id: {rtp_to_<side>_<figure>: value}} of every voip.call.* hash."""
    names = {"rtp_to_%s_%s" % (side, f) for side in ("caller", "callee") for f in FIGURES}
    return {k[len("voip.call."):]: {f: v for f, v in r.hgetall(k).items() if f in names}
            for k in r.scan_iter("voip.call.*", count=1000)}


def quality_events(r):
    return sorted((json.loads(f["data"])["call_id"], json.loads(f["data"])["stream_to"])
                  for _, f in r.xrange("events") if f["type"] == "voip.call.quality")


def check_capture(c, cap):
    name = os.path.relpath(cap, mctest.CORPUS) if cap.startswith(mctest.CORPUS) else os.path.basename(cap)
    wd = tempfile.mkdtemp(prefix="mc2p")
    sig, media = os.path.join(wd, "signalling.pcap"), os.path.join(wd, "media.pcap")
    out = subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "split-pcap.py"), "--plane", "sip",
                          cap, sig, media], stdout=subprocess.PIPE, check=True).stdout.decode()
    shared, ref = mcredis.Server(), mcredis.Server()
    try:
        want, _ = run(cap, ref, wd, "ref")
        tied = {k: v for k, v in want.items() if v}
        if not tied:
            print("NOTE %s: the reference ties no RTP flow to a call: nothing to compare (%s)" % (name, out.strip()))
            return 0
        run(sig, shared, wd, "sig")
        got, ctr = run(media, shared, wd, "media")
        for k, cid in want.items():
            c.check(got.get(k) == cid, "%s: RTP flow %s:%s -> %s:%s: the media probe says call %r, the reference %r" %
                    (name, k[0], k[1], k[2], k[3], got.get(k), cid))
        c.check(ctr.get("l7.rtp.calls_found_cloud", 0) == len(tied),
                "%s: l7.rtp.calls_found_cloud %s, flows tied %d" % (name, ctr.get("l7.rtp.calls_found_cloud"),
                                                                     len(tied)))
        have, exp = media_figures(shared.client()), media_figures(ref.client())
        n = 0
        for cid, fig in exp.items():
            if not fig:
                continue
            n += 1
            c.check(have.get(cid) == fig, "%s %s: the shared cloud's media figures %s, the reference's %s" %
                    (name, cid, have.get(cid), fig))
        c.check(n > 0, "%s: calls with media figures in the reference (%d)" % (name, n))
        # a running call's figures go out once a second: the reference, which knows the call from its
        # first packet, may have seen a stream dip below the threshold and recover; the media probe (a
        # file's answers come at its end) raises it for every stream whose final MOS is below
        low = sorted((cid, side) for cid, fig in exp.items() for side in ("caller", "callee")
                     if float(fig.get("rtp_to_%s_mos" % side, 5)) < float(MOS_ALERT))
        ev, ref_ev = quality_events(shared.client()), quality_events(ref.client())
        c.check(ev == low and set(ev) <= set(ref_ev), "%s: voip.call.quality events %s, streams ending below %s: %s, "
                "the reference's events %s" % (name, ev, MOS_ALERT, low, ref_ev))
        # control: without reading the cloud the media probe cannot know the calls
        alone, _ = run(media, shared, wd, "alone", ["--no-cloud-lookups"])
        c.check(alone and not any(alone.values()), "%s: without lookups no media flow has a call" % name)
        print("%s: %d RTP flows tied to their calls across two probes (%s), %d calls' media figures equal" %
              (name, len(tied), out.strip(), n))
        return len(tied)
    finally:
        shared.stop()
        ref.stop()


def main():
    mcredis.need_redis()
    gen = os.path.join(tempfile.mkdtemp(prefix="mcvoip2"), "voip.pcap")
    subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-voip-pcap.py"), gen, "--calls", "23",
                    "--seconds", "2", "--loss", "0.03", "--jitter", "5"], check=True, stdout=subprocess.DEVNULL)
    caps = [gen]
    if os.path.isdir(mctest.CORPUS):
        caps += mctest.corpus_captures("sip_rtp")
    else:
        print("NOTE: ../shared/corpus is absent: only the generated capture is compared")
    c = mctest.Checker()
    total = sum(check_capture(c, cap) for cap in caps)
    c.check(total > 0, "RTP flows compared (%d)" % total)
    c.done()


if __name__ == "__main__":
    main()
