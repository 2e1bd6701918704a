#!/usr/bin/python3
"""Acceptance 2: on plain TCP/UDP captures, per-flow packets and octets each
way equal what tshark reports for the same conversation.

tshark gives, per frame, the directed 5-tuple and ip.len (IPv6: 40 +
payload length); mcprobe's --json flows give the same per direction.  Both
are summed per directed 5-tuple (a conversation split by a timeout is summed
back), and every 5-tuple must match exactly.
"""
import collections
import ipaddress
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

# Untunnelled, unfragmented TCP/UDP captures (tunnels and fragments have their own tests).
PLAIN = [
    "mixed/ndpi_1kxun.pcap", "mixed/ndpi_android.pcap", "mixed/ndpi_iphone.pcap", "mixed/pcapplusplus_example.pcap",
    "mixed/tcpreplay_test.pcap", "mixed/zeek_wikipedia.pcap", "http/zeek_http-methods.pcap",
    "http/zeek_http-pipelined-requests.pcap", "http/arkime_http-post-upload.pcap", "dns/ndpi_dns.pcap",
    "dns/tcpdump_dns_tcp.pcap", "ipv6/pcapplusplus_four_ipv6_http_streams.pcap", "ipv6/zeek_ftp-ipv6.pcap",
    "mysql/zeek_mysql.pcap", "sip_rtp/suricata_sip-method.pcap",
]

FIELDS = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "ip.len", "ipv6.plen"]


def norm(a):
    return str(ipaddress.ip_address(a))


def tshark_conversations(cap):
    conv = collections.defaultdict(lambda: [0, 0])
    rows = mctest.tshark_lines(cap, "(tcp or udp) and not icmp and not icmpv6", FIELDS)
    for r in rows:
        r = dict(zip(FIELDS, r + [""] * (len(FIELDS) - len(r))))
        if "," in r["ip.src"] + r["ipv6.src"] or (r["ip.src"] and r["ipv6.src"]):
            continue  # tunnelled or ICMP-quoted: not a plain frame
        if r["ip.src"]:
            src, dst, proto, octets = r["ip.src"], r["ip.dst"], int(r["ip.proto"]), int(r["ip.len"])
        else:
            src, dst, proto = r["ipv6.src"], r["ipv6.dst"], int(r["ipv6.nxt"].split(",")[-1])
            octets = 40 + int(r["ipv6.plen"])
        sp = r["tcp.srcport"] or r["udp.srcport"]
        dp = r["tcp.dstport"] or r["udp.dstport"]
        if "," in sp or "," in dp or not sp:
            continue
        key = (proto, norm(src), int(sp), norm(dst), int(dp))
        conv[key][0] += 1
        conv[key][1] += octets
    return conv


def probe_conversations(flows):
    conv = collections.defaultdict(lambda: [0, 0])
    for f in flows:
        if f.get("protocolIdentifier") not in (6, 17):
            continue
        src = f.get("sourceIPv4Address") or f.get("sourceIPv6Address")
        dst = f.get("destinationIPv4Address") or f.get("destinationIPv6Address")
        sp, dp, proto = f["sourceTransportPort"], f["destinationTransportPort"], f["protocolIdentifier"]
        fwd = (proto, norm(src), sp, norm(dst), dp)
        rev = (proto, norm(dst), dp, norm(src), sp)
        for key, pk, oc in ((fwd, "packetDeltaCount", "octetDeltaCount"),
                            (rev, "reversePacketDeltaCount", "reverseOctetDeltaCount")):
            if f.get(pk, 0):
                conv[key][0] += f[pk]
                conv[key][1] += f[oc]
    return conv


mctest.need_corpus()
mctest.need_tool("tshark")
c = mctest.Checker()
for rel in PLAIN:
    cap = os.path.join(mctest.CORPUS, rel)
    if not os.path.exists(cap):
        print("SKIP %s: not in this corpus" % rel)
        continue
    flows, _ = mctest.probe_file(cap)
    want = tshark_conversations(cap)
    got = probe_conversations(flows)
    bad = [k for k in want if tuple(want[k]) != tuple(got.get(k, (0, 0)))]
    c.check(not bad, "%s: %d of %d directed conversations differ, e.g. %s tshark %s mcprobe %s" % (
        rel, len(bad), len(want), bad[:1], [want[k] for k in bad[:1]], [got.get(k) for k in bad[:1]]))
    c.check(len(want) > 0, "%s: tshark found no TCP/UDP conversation" % rel)
c.done()
