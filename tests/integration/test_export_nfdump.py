#!/usr/bin/python3
"""Issue 12, acceptance 2: nfdump, the most used open collector, reads every
record mcprobe exports as the probe metered it, flow by flow.

For each corpus capture mcprobe exports to a real nfcapd in four modes:
NetFlow v5, NetFlow v9, IPFIX (default: one record per direction) and IPFIX
--biflow (RFC 5103).  `nfdump -o json` reads the records back and each one
must equal, exactly, a record the probe meant to send: addresses, ports,
protocol, first and last seen (milliseconds), TCP flags, packets, octets.
The records the probe meant are its own --json of the same run; in IPFIX
that is one biflow object per flow, split here into one record per
direction that saw packets.  The IPFIX run's --json (absolute epoch
milliseconds) is also the reference for v5 and v9, whose --json carries
times relative to the exporter's boot (sysUpTime): nfdump must show the
same absolute times, and the v5/v9 --json the same records once shifted by
one constant (the boot nfdump reconstructs from the headers).

Differences that cannot be avoided are asserted as such and printed:
  * v5 has no IPv6 record: the IPv6 flows are counted in
    export.v5.skipped_ipv6 and must be exactly the IPv6 flows of the IPFIX run;
  * v5 has no ICMP type field and mcprobe leaves the v5 ports of an ICMP flow
    0, so nfdump shows ICMP type 0 code 0; in v9 nfdump 1.7 reads
    icmpTypeCodeIPv4 (32, RFC 3954's ICMP_TYPE) but not icmpTypeCodeIPv6
    (139, which RFC 3954 does not define), so ICMPv6 records show type 0 code
    0 there too (IPFIX carries both, and nfdump shows both);
  * v5 and v9 carry times as 32-bit sysUpTime milliseconds, relative to the
    export packet's header: a record whose export comes more than 2^32 ms
    (49.7 days) after its packets cannot carry them, and nfdump places it a
    multiple of 2^32 ms away.  Only a capture spanning that long can show it
    (mixed/ndpi_1kxun.pcap runs from 2016 to 2022, mpls/zeek_mixed-vlan-mpls
    from 2000 to 2010, with gaps of years: their flows are exported at the
    first packet after a gap); there the times are compared modulo 2^32 ms
    and the wrapped records counted, everywhere else exactly;
  * nfdump 1.7 has no RFC 5103 support: in a biflow record the reverse
    start, end and TCP flags elements (same ids as the forward ones) are
    read over the forward ones, so nfdump shows a biflow's first/last/flags
    as the reverse direction's (1970-01-01 and no flags when unanswered);
    only its packets and octets each way (in_ and out_) are read right.
    This is why uniflow records are the default.  The test asserts exactly
    that reading, so it checks the reverse values sent; the forward values
    of biflows are checked against tshark in test_export_peers.py.
Skipped, saying so, when ../shared/corpus or nfcapd/nfdump are absent.
"""
import calendar
import collections
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

# The mixed/ captures, and tunnels, IPv6, VLAN, MPLS, PPPoE and ICMP from the rest.
CAPTURES = [
    "mixed/ndpi_1kxun.pcap", "mixed/ndpi_android.pcap", "mixed/ndpi_iphone.pcap",
    "mixed/pcapplusplus_example.pcap", "mixed/tcpreplay_test.pcap", "mixed/zeek_wikipedia.pcap",
    "ipv6/zeek_ftp-ipv6.pcap", "ipv6/arkime_v6.pcap", "ipip/ndpi_6in4tunnel.pcap", "ipip/zeek_Teredo.pcap",
    "gtp_u/pcapplusplus_gtp-u.pcap", "gtp_u/zeek_gtp1_gn_normal_incl_fragmentation.pcap",
    "vxlan/ndpi_vxlan.pcap", "gre/zeek_gre-sample.pcap", "mpls/zeek_mixed-vlan-mpls.pcap",
    "vlan/zeek_vlan-qinqinq.pcap", "pppoe/suricata_pppoe-session-http.pcap",
]
MODES = [("ipfix", ["-V", "10"]), ("ipfix-biflow", ["-V", "10", "--biflow"]), ("v9", ["-V", "9"]),
         ("v5", ["-V", "5"])]
# IP versions whose ICMP type and code nfdump reads from each dialect's records (see above)
ICMP_READ = {"ipfix": (4, 6), "ipfix-biflow": (4, 6), "v9": (4,), "v5": ()}
FLAG_CHARS = "CEUAPRSF"  # nfdump's tcp_flags string, 0x80 .. 0x01
ICMP = (1, 58)
U32 = 0xffffffff
WRAP = 1 << 32  # sysUpTime period, ms


def export_to_nfcapd(capture, args, work):
    """Runs mcprobe on capture into a fresh nfcapd; returns (nfdump records, --json objects, counters)."""
    os.makedirs(work)
    nfdir = os.path.join(work, "nfcapd")
    os.makedirs(nfdir)
    port = mctest.free_port(socket.SOCK_DGRAM)
    jpath, cpath = os.path.join(work, "flows.json"), os.path.join(work, "counters.txt")
    nf = subprocess.Popen(["nfcapd", "-w", nfdir, "-b", "127.0.0.1", "-p", str(port), "-B", "8388608"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        mctest.wait_until(lambda: mctest.udp_socket(port)[0], "nfcapd to listen on port %d" % port)
        mctest.run_probe(["-i", capture, "-n", "127.0.0.1:%d" % port, "--json", jpath, "--counters", cpath,
                          "--export-pps", "5000"] + args)
        # every datagram is in nfcapd's socket once the probe has exited: wait until it read them all
        mctest.wait_until(lambda: mctest.udp_socket(port)[1] == 0, "nfcapd to read its socket")
        time.sleep(0.2)
    finally:
        nf.send_signal(signal.SIGTERM)
        nf.wait(timeout=30)
    out = subprocess.run(["nfdump", "-R", nfdir, "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, TZ="UTC"), check=True).stdout.decode()
    out = out.replace("No matching flows\n", "")  # nfdump's words for an empty list
    records = json.loads(out) if out.strip() else []
    flows = [json.loads(line) for line in open(jpath) if line.strip()]
    counters = dict((n, int(v)) for n, v in (line.split() for line in open(cpath)))
    return records, flows, counters


def utc_ms(text):
    """nfdump's 'YYYY-MM-DDTHH:MM:SS.mmm' (TZ=UTC) as epoch milliseconds."""
    whole, _, frac = text.partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac or 0)


def flag_bits(text):
    return sum(0x80 >> i for i, ch in enumerate(text) if ch != ".")


def addr(a):
    return str(ipaddress.ip_address(a))


def nfdump_view(r, biflow):
    """One nfdump record as (endpoints, first, last, flags, in packets, in octets[, out packets, out octets])."""
    src, dst = r.get("src4_addr") or r.get("src6_addr"), r.get("dst4_addr") or r.get("dst6_addr")
    if r["proto"] in ICMP:
        ports = (0, r.get("icmp_type", 0) * 256 + r.get("icmp_code", 0))
    else:
        ports = (r.get("src_port", 0), r.get("dst_port", 0))
    v = ((r["proto"], addr(src), ports[0], addr(dst), ports[1]), utc_ms(r["first"]), utc_ms(r["last"]),
         flag_bits(r.get("tcp_flags", "")), r["in_packets"], r["in_bytes"])
    return v + (r.get("out_packets", 0), r.get("out_bytes", 0)) if biflow else v


def endpoints(f, reverse, icmp_read):
    src = f.get("sourceIPv4Address") or f.get("sourceIPv6Address")
    dst = f.get("destinationIPv4Address") or f.get("destinationIPv6Address")
    sp, dp = f.get("sourceTransportPort", 0), f.get("destinationTransportPort", 0)
    proto = f["protocolIdentifier"]
    if reverse:
        src, dst, sp, dp = dst, src, dp, sp
    if proto in ICMP and (6 if "sourceIPv6Address" in f else 4) in icmp_read:
        # nfdump shows icmpTypeCodeIPv4/IPv6 as the ICMP type and code of either direction's record
        sp, dp = 0, f.get("icmpTypeCodeIPv4", f.get("icmpTypeCodeIPv6", 0))
    return (proto, addr(src), sp, addr(dst), dp)


def uniflow_records(flows, times, icmp_read, clamp=False):
    """The records of biflow (IPFIX --json) objects, one per direction with packets, as nfdump_view gives them.

    times(f, reverse) -> (first, last) of that direction."""
    out = []
    for f in flows:
        for reverse, pk, ok, fl in ((False, "packetDeltaCount", "octetDeltaCount", "tcpControlBits"),
                                    (True, "reversePacketDeltaCount", "reverseOctetDeltaCount",
                                     "reverseTcpControlBits")):
            if not f.get(pk, 0):
                continue
            pkts, octs = f[pk], f[ok]
            if clamp:
                pkts, octs = min(pkts, U32), min(octs, U32)
            out.append((endpoints(f, reverse, icmp_read),) + times(f, reverse) +
                       (f.get(fl, 0) & 0xff, pkts, octs))
    return out


def abs_times(f, reverse):
    if reverse:
        return f["reverseFlowStartMilliseconds"], f["reverseFlowEndMilliseconds"]
    return f["flowStartMilliseconds"], f["flowEndMilliseconds"]


def own_uniflow(flows, icmp_read):
    """v5/v9 --json records (one per direction already), times relative to the exporter's boot."""
    return [(endpoints(f, False, icmp_read), f["flowStartSysUpTime"], f["flowEndSysUpTime"],
             f.get("tcpControlBits", 0) & 0xff, f["packetDeltaCount"], f["octetDeltaCount"]) for f in flows]


def compare(c, label, what, got, want):
    """got and want as multisets of records; reports the first few differences each way."""
    g, w = collections.Counter(got), collections.Counter(want)
    extra, missing = g - w, w - g
    c.check(not extra and not missing and (got or not want),
            "%s: %s: %d of %d records differ (%d expected): nfdump/got only %s; expected only %s" % (
                label, what, sum(extra.values()), len(got), len(want), sorted(extra)[:3], sorted(missing)[:3]))


def shift(records, delta):
    return [(r[0], r[1] + delta, r[2] + delta) + r[3:] for r in records]


def collector_boot(got, own):
    """The boot nfdump reconstructed: the commonest (absolute - relative) start over records found once each side."""
    def once(records):
        by = collections.defaultdict(list)
        for r in records:
            by[(r[0],) + r[3:]].append(r[1])
        return dict((k, v[0]) for k, v in by.items() if len(v) == 1)
    g, o = once(got), once(own)
    diffs = collections.Counter(g[k] - o[k] for k in g if k in o)
    return diffs.most_common(1)[0][0] if diffs else 0


def modulo_wrap(records):
    return [(r[0], r[1] % WRAP, r[2] % WRAP) + r[3:] for r in records]


def compare_uptime(c, label, what, got, want, long_capture, count=True):
    """v5/v9: exact, or, in a capture spanning more than 2^32 ms, exact modulo 2^32 ms (see the docstring)."""
    if not long_capture:
        compare(c, label, what, got, want)
        return
    compare(c, label, what + " (times modulo 2^32 ms)", modulo_wrap(got), modulo_wrap(want))
    if not count:
        return  # want's times are sysUpTime themselves, wrapped where they pass 2^32 ms after the boot
    wrapped = sum((collections.Counter(got) - collections.Counter(want)).values())
    print("note: %s: %s: %d of %d records are placed a multiple of 2^32 ms away: exported more than 49.7 days "
          "after their packets, beyond what sysUpTime carries" % (label, what, wrapped, len(got)))


def check_capture(c, rel, work):
    cap = os.path.join(mctest.CORPUS, rel)
    if not os.path.exists(cap):
        print("note: %s is not in this corpus" % rel)
        return
    runs = {}
    for name, args in MODES:
        runs[name] = export_to_nfcapd(cap, args, os.path.join(work, rel.replace("/", "_") + "." + name))
    ref = runs["ipfix"][1]  # biflow objects, absolute times
    want_uni = uniflow_records(ref, abs_times, ICMP_READ["ipfix"])
    times = [t for f in ref for t in abs_times(f, False) + abs_times(f, True) if t]
    long_capture = bool(times) and max(times) - min(times) >= WRAP
    stats = []
    for name, _ in MODES:
        records, flows, counters = runs[name]
        label = "%s %s" % (rel, name)
        c.check(len(records) == counters.get("export.records", -1),
                "%s: nfdump read %d records, the probe sent %d" % (label, len(records),
                                                                   counters.get("export.records", -1)))
        if name == "ipfix":
            compare(c, label, "nfdump vs --json", [nfdump_view(r, False) for r in records], want_uni)
        elif name == "ipfix-biflow":
            # --biflow changes the wire only: the same JSON objects as the default run
            c.check(sorted(map(json.dumps, flows)) == sorted(map(json.dumps, ref)),
                    "%s: --json differs from the default IPFIX run's" % label)
            # nfdump 1.7 reads the reverse start/end/flags over the forward ones (see the docstring)
            want = [(endpoints(f, False, ICMP_READ[name]), f["reverseFlowStartMilliseconds"], f["reverseFlowEndMilliseconds"],
                     f["reverseTcpControlBits"] & 0xff, f["packetDeltaCount"], f["octetDeltaCount"],
                     f["reversePacketDeltaCount"], f["reverseOctetDeltaCount"]) for f in flows]
            compare(c, label, "nfdump vs --json (nfdump reads reverse times and flags)",
                    [nfdump_view(r, True) for r in records], want)
        else:
            v5 = name == "v5"
            ref_here = [f for f in ref if not (v5 and "sourceIPv6Address" in f)]
            got = [nfdump_view(r, False) for r in records]
            # absolute times against the IPFIX run
            compare_uptime(c, label, "nfdump vs the IPFIX run's --json", got,
                           uniflow_records(ref_here, abs_times, ICMP_READ[name], clamp=v5), long_capture)
            # this run's own --json, once shifted by the boot nfdump reconstructed
            own = own_uniflow(flows, ICMP_READ[name])
            boot = collector_boot(got, own)
            compare_uptime(c, label, "nfdump vs --json + boot", got, shift(own, boot), long_capture, count=False)
            n_icmp = sum(1 for r in got if r[0][0] in ICMP and r[0][4] == 0)
            if n_icmp:
                print("note: %s: %d ICMP records show type 0 code 0 (no ICMP type nfdump reads in this dialect "
                      "for their IP version)" % (label, n_icmp))
            if v5:
                n6 = len(ref) - len(ref_here)
                c.check(counters.get("export.v5.skipped_ipv6", -1) == n6,
                        "%s: export.v5.skipped_ipv6 is %d, the capture has %d IPv6 flows" % (
                            label, counters.get("export.v5.skipped_ipv6", -1), n6))
                if n6:
                    print("note: %s: %d IPv6 flows not in v5 (counted in export.v5.skipped_ipv6)" % (label, n6))
        stats.append("%s %d" % (name, len(records)))
    unanswered = sum(1 for f in ref if not f.get("reversePacketDeltaCount"))
    print("%s: %d flows (%d unanswered); nfdump records: %s" % (rel, len(ref), unanswered, ", ".join(stats)))


def main():
    mctest.need_corpus()
    for tool in ("nfcapd", "nfdump"):
        mctest.need_tool(tool)
    work = tempfile.mkdtemp(prefix="mcnfdump")
    c = mctest.Checker()
    try:
        for rel in CAPTURES:
            check_capture(c, rel, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
