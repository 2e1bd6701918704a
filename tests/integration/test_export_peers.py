#!/usr/bin/python3
"""Acceptance 3: real collectors read our exports.

For NetFlow v5, v9, IPFIX (one record per direction, the default) and IPFIX
--biflow (RFC 5103), mcprobe meters a capture and exports to a real nfcapd on
loopback while tcpdump records the export datagrams.  Then:
  * tshark dissects every export packet with no malformed item, no expert
    warning or error, and no "Unexpected flow sequence" note;
  * every record tshark dissects carries exactly the values of the matching
    --json record (the JSON and the wire carry the same data; in IPFIX --json
    has one biflow object per flow, split into one record per direction with
    packets where the wire carries uniflow records);
  * nfdump -R shows as many flows, packets and octets as the wire records.
    nfdump counts a biflow's reverse packets apart (out_packets), so for IPFIX
    --biflow its totals are compared with the forward direction only.
    Per-flow times, flags, packets and octets against nfdump are in
    test_export_nfdump.py.
The same tshark check is run on softflowd's IPFIX export of the same capture,
which shows sequence warnings: the check is able to fail.
"""
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

for tool in ("tshark", "nfcapd", "nfdump", "tcpdump"):
    mctest.need_tool(tool)
if os.geteuid() != 0:
    mctest.skip("capturing the export on loopback needs root")

# tshark field -> JSON key, per occurrence in a record (forward, then reverse).
FIELDS = {
    "cflow.srcaddr": ["sourceIPv4Address"], "cflow.dstaddr": ["destinationIPv4Address"],
    "cflow.srcaddr_v6": ["sourceIPv6Address"], "cflow.dstaddr_v6": ["destinationIPv6Address"],
    "cflow.srcport": ["sourceTransportPort"], "cflow.dstport": ["destinationTransportPort"],
    "cflow.protocol": ["protocolIdentifier"],
    "cflow.packets": ["packetDeltaCount", "reversePacketDeltaCount"],
    "cflow.packets64": ["packetDeltaCount", "reversePacketDeltaCount"],
    "cflow.octets": ["octetDeltaCount", "reverseOctetDeltaCount"],
    "cflow.octets64": ["octetDeltaCount", "reverseOctetDeltaCount"],
    "cflow.tcpflags": ["tcpControlBits", "reverseTcpControlBits"],
    "cflow.tos": ["ipClassOfService", "reverseIpClassOfService"],
    "cflow.abstimestart": ["flowStartMilliseconds", "reverseFlowStartMilliseconds"],
    "cflow.abstimeend": ["flowEndMilliseconds", "reverseFlowEndMilliseconds"],
    "cflow.timestart": ["flowStartSysUpTime"], "cflow.timeend": ["flowEndSysUpTime"],
    "cflow.vlanid": ["vlanId"], "cflow.inputint": ["ingressInterface"], "cflow.outputint": ["egressInterface"],
    "cflow.flow_end_reason": ["flowEndReason"],
    "cflow.icmp_type_code_ipv4": ["icmpTypeCodeIPv4"], "cflow.icmp_type_code_ipv6": ["icmpTypeCodeIPv6"],
}
ADDRESS = ("sourceIPv4Address", "destinationIPv4Address", "sourceIPv6Address", "destinationIPv6Address")
CORE = ("protocolIdentifier", "packetDeltaCount", "octetDeltaCount")


def run_export(cmd, work, port):
    """Runs cmd (an exporter) against nfcapd on port while tcpdump records; returns (pcap, nfcapd dir)."""
    nfdir = os.path.join(work, "nfcapd")
    os.makedirs(nfdir)
    cap = os.path.join(work, "export.pcap")
    nf = subprocess.Popen(["nfcapd", "-w", nfdir, "-b", "127.0.0.1", "-p", str(port), "-B", "8388608"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    td = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-B", "16384", "-w", cap, "udp dst port %d" % port],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        time.sleep(1.0)
    finally:
        td.send_signal(signal.SIGINT)
        nf.send_signal(signal.SIGTERM)
        td.wait(timeout=30)
        nf.wait(timeout=30)
    return cap, nfdir


def tshark_problems(cap, port):
    """Frames with malformed items or expert warnings/errors, and sequence complaints."""
    base = ["tshark", "-n", "-r", cap, "-d", "udp.port==%d,cflow" % port]
    bad = subprocess.run(base + ["-Y", "_ws.malformed || _ws.expert.severity >= 6291456"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode().splitlines()
    seq = subprocess.run(base + ["-V"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    return bad, seq.count("Unexpected flow sequence")


def tshark_records(cap, port):
    """Every dissected flow record as a dict JSON-key -> value."""
    pdml = subprocess.run(["tshark", "-n", "-r", cap, "-d", "udp.port==%d,cflow" % port, "-T", "pdml"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    records = []
    for el in ET.fromstring(pdml).iter("field"):
        show = el.get("show") or ""
        if not (el.get("name") == "" and (show.startswith("Flow ") or show.startswith("pdu "))):
            continue
        rec, seen = {}, collections.Counter()
        for f in el.iter("field"):
            keys = FIELDS.get(f.get("name"))
            if not keys:
                continue
            n = seen[f.get("name")]
            seen[f.get("name")] += 1
            if n >= len(keys):
                continue
            key = keys[n]
            rec[key] = f.get("show") if key in ADDRESS else int(f.get("value"), 16)
        records.append(rec)
    return records


def json_view(rec, keys):
    return tuple(sorted((k, str(rec[k]) if k in ADDRESS else int(rec[k])) for k in keys if k in rec))


def compare_records(c, label, wire, flows):
    if any("flowStartSysUpTime" in f for f in flows):
        # tshark shows a NetFlow v9 FIRST/LAST_SWITCHED of 0 as an absolute time
        for r in wire:
            for a, b in (("flowStartMilliseconds", "flowStartSysUpTime"), ("flowEndMilliseconds", "flowEndSysUpTime")):
                if a in r:
                    r[b] = r.pop(a)
    c.check(len(wire) == len(flows), "%s: tshark dissects %d records, --json has %d" % (label, len(wire), len(flows)))
    keys = set()
    for r in wire:
        keys |= set(r)
    c.check(all(k in keys for k in CORE), "%s: tshark records lack core fields (%s)" % (label, sorted(keys)))
    # compare the fields tshark knows, as multisets of records
    want = collections.Counter(json_view(f, keys) for f in flows)
    got = collections.Counter(json_view(r, keys) for r in wire)
    diff = (want - got) + (got - want)
    c.check(not diff, "%s: %d records differ between the wire and --json, e.g. %s" % (
        label, sum(diff.values()), list(diff)[:2]))


def nfdump_totals(nfdir):
    out = subprocess.run(["nfdump", "-R", nfdir, "-q", "-o", "fmt:%pkt %byt"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True).stdout.decode().split("\n")
    rows = [line.split() for line in out if line.strip()]
    return len(rows), sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)


def main():
    work = tempfile.mkdtemp(prefix="mcpeers")
    c = mctest.Checker()
    try:
        captures = [os.path.join(work, "demo.pcap")]
        subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-demo-pcap.py"), captures[0]],
                       check=True, stdout=subprocess.DEVNULL)
        extra = os.path.join(mctest.CORPUS, "mixed", "ndpi_1kxun.pcap")
        if os.path.exists(extra):
            captures.append(extra)
        else:
            print("note: ../shared/corpus absent: only the generated capture is exported")
        # the analyzers' elements (IANA HTTP ones, ours under PEN 32473) ride the same records
        l7_fields = ("sourceIPv4Address,destinationIPv4Address,sourceTransportPort,destinationTransportPort,"
                     "protocolIdentifier,packetDeltaCount,octetDeltaCount,flowStartMilliseconds,flowEndMilliseconds,"
                     "reversePacketDeltaCount,reverseOctetDeltaCount,applicationId,applicationName,l7Protocol,"
                     "l7TransactionCount,dnsQueryName,dnsQueryType,dnsResponseCode,dnsAnswers,httpRequestMethod,"
                     "httpRequestHost,httpRequestTarget,httpStatusCode,httpUserAgent,mysqlUser,mysqlQuery")
        modes = [("v5", ["-V", "5"]), ("v9", ["-V", "9"]), ("ipfix", ["-V", "10"]),
                 ("ipfix-biflow", ["-V", "10", "--biflow"]),
                 ("ipfix-l7", ["-V", "10", "--biflow", "-T", l7_fields, "--mtu", "8000"])]
        for capture in captures:
            for name, args in modes:
                label = "%s %s" % (os.path.basename(capture), name)
                wd = tempfile.mkdtemp(dir=work)
                port = mctest.free_port(socket.SOCK_DGRAM)
                jpath = os.path.join(wd, "flows.json")
                cmd = [mctest.MCPROBE, "-i", capture, "-n", "127.0.0.1:%d" % port, "--json", jpath, "-q",
                       "--stats-interval", "0", "--export-pps", "2000"] + args
                cap, nfdir = run_export(cmd, wd, port)
                flows = [json.loads(line) for line in open(jpath)]
                if name == "ipfix":
                    flows = mctest.uniflow_records(flows)  # the wire's records
                bad, seq = tshark_problems(cap, port)
                c.check(not bad, "%s: tshark flags %d frames as malformed or with warnings: %s" % (label, len(bad), bad[:3]))
                c.check(seq == 0, "%s: tshark reports %d unexpected flow sequences" % (label, seq))
                compare_records(c, label, tshark_records(cap, port), flows)
                n, pkts, octs = nfdump_totals(nfdir)
                fwd_only = name in ("ipfix-biflow", "ipfix-l7")
                want_p = sum(int(f["packetDeltaCount"]) + (0 if fwd_only else int(f.get("reversePacketDeltaCount", 0))) for f in flows)
                want_o = sum(int(f["octetDeltaCount"]) + (0 if fwd_only else int(f.get("reverseOctetDeltaCount", 0))) for f in flows)
                c.check((n, pkts, octs) == (len(flows), want_p, want_o),
                        "%s: nfdump shows %d flows %d packets %d octets, --json %d / %d / %d" % (
                            label, n, pkts, octs, len(flows), want_p, want_o))
        # the same tshark check catches softflowd's IPFIX sequence numbering
        if shutil.which("softflowd"):
            wd = tempfile.mkdtemp(dir=work)
            port = mctest.free_port(socket.SOCK_DGRAM)
            short = os.path.join("/tmp", "mcpd%d.pcap" % os.getpid())  # softflowd truncates long paths
            shutil.copy(captures[0], short)
            try:
                cap, _ = run_export(["softflowd", "-r", short, "-n", "127.0.0.1:%d" % port, "-v", "10", "-c", "none",
                                     "-d", "-p", os.path.join(wd, "sfd.pid")], wd, port)
            finally:
                os.unlink(short)
            _, seq = tshark_problems(cap, port)
            print("softflowd IPFIX export: tshark reports %d unexpected flow sequences" % seq)
            c.check(seq > 0, "the sequence check did not catch softflowd's IPFIX sequence numbers: it cannot fail")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
