#!/usr/bin/python3
"""Acceptance 1: packet conservation on every capture of ../shared/corpus.

Every frame with an IP header is counted in exactly one exported flow: the
packets summed over the exported flows (both directions) equal the frames
`tshark -Y 'ip or ipv6'` counts; non-IP and undecodable frames are counted by
reason, and the three add up to the frames in the file.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

mctest.need_corpus()
mctest.need_tool("tshark")
c = mctest.Checker()
for cap in mctest.corpus_captures():
    name = os.path.relpath(cap, mctest.CORPUS)
    try:
        flows, ctr = mctest.probe_file(cap)
    except RuntimeError as e:
        c.check(False, "%s: %s" % (name, e))
        continue
    total = len(mctest.tshark_lines(cap, "frame", ["frame.number"]))
    ip_frames = len(mctest.tshark_lines(cap, "ip or ipv6", ["frame.number"]))
    in_flows = sum(mctest.flow_packets(f) for f in flows)
    ip, nonip, bad = ctr["decode.ip.frames"], ctr["decode.nonip.frames"], ctr["decode.bad.frames"]
    c.check(ctr["capture.packets"] == total, "%s: captured %d frames, tshark %d" % (name, ctr["capture.packets"], total))
    c.check(ip + nonip + bad == total, "%s: ip %d + non-ip %d + bad %d != %d frames" % (name, ip, nonip, bad, total))
    c.check(in_flows == ip, "%s: %d packets in flows but %d frames metered" % (name, in_flows, ip))
    c.check(in_flows == ip_frames, "%s: %d packets in flows, tshark counts %d ip/ipv6 frames" % (name, in_flows, ip_frames))
    if bad or nonip:
        reasons = {k: v for k, v in ctr.items() if v and (k.startswith("decode.nonip.") or ".frames" not in k and k.startswith("decode.") and not k.endswith(".packets"))}
        print("%s: non-ip %d, undecodable %d: %s" % (name, nonip, bad, reasons))
c.done()
