#!/usr/bin/python3
"""Acceptance 4: tunnelled captures yield flows keyed on the inner hosts,
with the tunnel recorded.

For each capture, tshark gives per frame the innermost IP addresses and the
tunnel identifier (GTP-U TEID, VXLAN VNI, GRE key, MPLS label, VLAN tags,
PPPoE session); mcprobe's flows, exported with the tunnel elements, must
cover exactly the same inner host pairs and carry the same identifiers.
"""
import ipaddress
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

TEMPLATE = ("sourceIPv4Address,destinationIPv4Address,sourceIPv6Address,destinationIPv6Address,protocolIdentifier,"
            "packetDeltaCount,reversePacketDeltaCount,vlanId,dot1qCustomerVlanId,mplsTopLabelStackSection,tunnelType,"
            "tunnelId,tunnelSourceIPv4Address,tunnelDestinationIPv4Address,tunnelSourceIPv6Address,"
            "tunnelDestinationIPv6Address")

# capture, tunnelType, tshark filter selecting tunnelled frames, tshark id field, flow field holding the id
CASES = [
    ("gtp_u/pcapplusplus_gtp-u.pcap", 2, "gtp.message == 255", "gtp.teid", "tunnelId"),
    ("gtp_u/omec_ngic-rtc_uplink_100flows.pcap", 2, "gtp.message == 255", "gtp.teid", "tunnelId"),
    ("gtp_u/zeek_gtp7_ipv6.pcap", 2, "gtp.message == 255", "gtp.teid", "tunnelId"),
    ("vxlan/zeek_vxlan-encapsulated-http.pcap", 3, "vxlan && ip.src && !arp", "vxlan.vni", "tunnelId"),
    ("vxlan/ndpi_vxlan.pcap", 3, "vxlan && !arp", "vxlan.vni", "tunnelId"),
    ("gre/zeek_gre-sample.pcap", 1, "gre && (ip.proto == 47)", None, None),
    ("gre/suricata_gre-udp.pcap", 1, "gre", None, None),
    ("ipip/ndpi_4in4tunnel.pcap", 4, "ip.proto == 4", None, None),
    ("ipip/ndpi_6in4tunnel.pcap", 4, "ip.proto == 41", None, None),
    ("mpls/arkime_mpls-basic.pcap", 0, "mpls && ip", "mpls.label", "mplsTopLabelStackSection"),
    ("vlan/arkime_twovlan.pcap", 0, "vlan && ip", "vlan.id", "vlanId"),
    ("pppoe/suricata_pppoe-session-http.pcap", 6, "pppoes && ip", "pppoe.session_id", "tunnelId"),
]


def addr(a):
    return str(ipaddress.ip_address(a))


def main():
    mctest.need_corpus()
    mctest.need_tool("tshark")
    c = mctest.Checker()
    for rel, ttype, flt, id_field, flow_field in CASES:
        cap = os.path.join(mctest.CORPUS, rel)
        if not os.path.exists(cap):
            print("SKIP %s: not in this corpus" % rel)
            continue
        flows, _ = mctest.probe_file(cap, ["-T", TEMPLATE])
        fields = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst"] + ([id_field] if id_field else [])
        # ICMP errors quote an IP header: their last IP occurrence is not the innermost packet
        rows = mctest.tshark_lines(cap, "(%s) && !(icmpv6.type < 128) && !(icmp.type in {3,4,5,11,12})" % flt, fields)
        want_pairs, want_ids = set(), set()
        for r in rows:
            r = r + [""] * (len(fields) - len(r))
            v4s, v4d, v6s, v6d = (x.split(",") for x in r[:4])
            # innermost header: the last IP occurrence of the frame (IPv6 inside IPv4 wins for 6in4)
            if v6s[-1] and (not v4s[-1] or "ip.proto == 41" in flt or "zeek_gtp7" in rel):
                pair = frozenset((addr(v6s[-1]), addr(v6d[-1])))
            elif v4s[-1]:
                pair = frozenset((addr(v4s[-1]), addr(v4d[-1])))
            else:
                continue
            want_pairs.add(pair)
            if id_field and r[4]:
                ids = r[4].split(",")
                want_ids.add(int(ids[0], 0))
        got_pairs, got_ids = set(), set()
        for f in flows:
            if ttype and f["tunnelType"] != ttype:
                continue
            src = f.get("sourceIPv6Address") or f.get("sourceIPv4Address")
            dst = f.get("destinationIPv6Address") or f.get("destinationIPv4Address")
            pair = frozenset((addr(src), addr(dst)))
            if pair not in want_pairs:
                continue
            got_pairs.add(pair)
            if flow_field:
                v = int(f[flow_field])
                got_ids.add(v >> 4 if flow_field == "mplsTopLabelStackSection" else v)
            if ttype and ttype != 6:
                c.check(f.get("tunnelSourceIPv4Address", "0.0.0.0") != "0.0.0.0" or
                        f.get("tunnelSourceIPv6Address", "::") != "::",
                        "%s: flow %s has no outer endpoints" % (rel, sorted(pair)))
        c.check(want_pairs and got_pairs == want_pairs, "%s: inner host pairs differ: tshark %s, mcprobe %s" % (
            rel, sorted(map(sorted, want_pairs - got_pairs))[:3], sorted(map(sorted, got_pairs - want_pairs))[:3]))
        if id_field:
            c.check(want_ids and got_ids >= want_ids if flow_field == "vlanId" else got_ids == want_ids,
                    "%s: tunnel ids differ: tshark %s, mcprobe %s" % (rel, sorted(want_ids)[:8], sorted(got_ids)[:8]))
    c.done()


if __name__ == "__main__":
    main()
