#!/usr/bin/python3
"""Issue 11, acceptance 2: the export captures in ../shared/corpus, replayed
to mccollector on loopback, decode to what tshark shows; and mcprobe --json
equals mccollector --json for the same flows.

1. Every UDP datagram of netflow_v5/, netflow_v9/, ipfix/ and sflow/ is sent
   to a running mccollector in capture order, each original exporter
   (source address and port) from its own local socket, so templates stay
   per exporter as they were.  For NetFlow/IPFIX, per file and per field
   (addresses, ports, protocol, packets, octets), the multiset of values in
   mccollector's JSON lines equals tshark's cflow dissection of the same
   file.  A data set that came before its template cannot be shown by
   tshark (it dissects in order) while mccollector holds it and decodes it
   when the template comes: such records are counted
   (collector.pending.decoded) and must be exactly the surplus; so are the
   records past a v9 header's count (collector.nf9.bad_count), which
   tshark stops at and mccollector reads.  For sFlow
   the flow samples stored equal tshark's count of flow samples (the sampled
   headers' fields are compared with tshark in the sFlow unit test).
2. mcprobe exports corpus captures (IPFIX biflows, v9, v5) to mccollector
   and writes --json itself: the two sets of JSON objects are equal, key for
   key and value for value.
Files with no flow tshark can show (templates and options only, or data
whose templates are not in the capture) must give no flow either.
Skipped, saying so, when ../shared/corpus or tshark are absent.
"""
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

MCCOLLECTOR = os.environ.get("MCCOLLECTOR", os.path.join(mctest.SRC, "build", "release", "mccollector"))
# tshark's field and mccollector's key, per compared field
FIELDS = [("cflow.srcaddr", ("sourceIPv4Address",)), ("cflow.dstaddr", ("destinationIPv4Address",)),
          ("cflow.srcaddrv6", ("sourceIPv6Address",)), ("cflow.dstaddrv6", ("destinationIPv6Address",)),
          ("cflow.srcport", ("sourceTransportPort",)), ("cflow.dstport", ("destinationTransportPort",)),
          ("cflow.protocol", ("protocolIdentifier",)),
          # tshark shows an RFC 5103 reverse counter under the forward counter's field
          ("cflow.packets", ("packetDeltaCount", "reversePacketDeltaCount")),
          ("cflow.octets", ("octetDeltaCount", "reverseOctetDeltaCount"))]
GROUPS = [["netflow_v5/graylog_netflow5.pcap"], ["netflow_v5/graylog_netgraph-netflow5.pcap"],
          ["netflow_v9/akvorado_nfv9-data+templates.pcap"], ["netflow_v9/graylog_netflow9.pcap"],
          ["netflow_v9/graylog_nprobe-netflow9-2.pcap"], ["netflow_v9/graylog_nprobe-netflow9-3.pcap"],
          ["netflow_v9/graylog_nprobe-netflow9-4.pcap"], ["netflow_v9/pmacct_101-NFv9-CISCO-cust_primitives.pcap"],
          ["netflow_v9/pmacct_111-NFv9-IPv6-IPv4-mix.pcap"], ["netflow_v9/ndpi_netflowv9.pcap"],
          ["ipfix/akvorado_ipfixprobe-templates.pcap", "ipfix/akvorado_ipfixprobe-data.pcap"],
          ["ipfix/ndpi_netflow-fritz.pcap"], ["ipfix/pmacct_100-IPFIXv10-CISCO.pcap"],
          ["ipfix/pmacct_111-IPFIXv10-IPv6-IPv4-mix.pcap"],
          ["ipfix/pmacct_112-IPFIXv10-CISCO-options-map-reassignment.pcap"],
          ["ipfix/pmacct_400-IPFIXv10-BMP-CISCO-SRv6.pcap"], ["ipfix/pmacct_501-IPFIXv10-BGP-IPv6-CISCO-MPLS.pcap"]]
SFLOW = ["sflow/ndpi_sflow.pcap", "sflow/tcpdump_sflow-print-v6.pcap",
         "sflow/tcpdump_sflow_multiple_counter_30_pdus.pcap"]


def datagrams(path):
    """[(exporter, dst port, payload bytes)] of the UDP datagrams of a capture, in order."""
    out = subprocess.run(["tshark", "-r", path, "-Y", "udp", "-T", "fields", "-e", "ip.src",
                          "-e", "ipv6.src", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload",
                          "-e", "frame.protocols", "-E", "occurrence=f"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True).stdout.decode()
    res = []
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) < 6 or not cols[4]:
            continue
        layers = cols[5].split(":")
        if any(x.startswith("icmp") for x in layers[:layers.index("udp")]):
            continue  # an ICMP error quoting a datagram, not a datagram (a sampled header may hold ICMP)
        res.append(((cols[0] or cols[1], cols[2]), int(cols[3]), bytes.fromhex(cols[4].replace(":", ""))))
    return res


def tshark_values(path, ports):
    """{json key: Counter of values} tshark shows in the cflow records of a capture."""
    args = ["tshark", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"]
    for p in sorted(ports):
        args += ["-d", "udp.port==%d,cflow" % p]
    for field, _ in FIELDS:
        args += ["-e", field]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    vals = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        for (field, (key, *_)), col in zip(FIELDS, line.split("\t")):
            for v in col.split(";") if col else []:
                vals[key][v] += 1
    return vals


class Collector:
    def __init__(self, work, extra=()):
        self.port, self.sport = mctest.free_port(socket.SOCK_DGRAM), mctest.free_port(socket.SOCK_DGRAM)
        self.json = os.path.join(work, "c.json")
        self.ctr = os.path.join(work, "c.txt")
        self.p = subprocess.Popen([MCCOLLECTOR, "-b", "127.0.0.1", "-p", str(self.port), "--sflow", str(self.sport),
                                   "--no-store", "--json", self.json, "--counters", self.ctr, "--stats-interval",
                                   "0", "-q"] + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.time() + 10
        while not self.listening() and time.time() < end:
            time.sleep(0.05)

    def listening(self):
        want = "0100007F:%04X" % self.port
        return any(line.split()[1] == want for line in open("/proc/net/udp").readlines()[1:])

    def stop(self):
        time.sleep(0.5)
        self.p.send_signal(signal.SIGTERM)
        err = self.p.communicate(timeout=60)[1].decode()
        if self.p.returncode != 0:
            raise RuntimeError("mccollector exited %d: %s" % (self.p.returncode, err[-400:]))
        lines = [json.loads(x) for x in open(self.json) if x.strip()] if os.path.exists(self.json) else []
        ctr = dict((n, int(v)) for n, v in (line.split() for line in open(self.ctr)))
        return lines, ctr


def replay(dgrams, port):
    socks = {}
    for exporter, _, payload in dgrams:
        s = socks.get(exporter)
        if s is None:
            s = socks[exporter] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
        s.sendto(payload, ("127.0.0.1", port))
        time.sleep(0.001)
    for s in socks.values():
        s.close()


def json_values(lines):
    vals = collections.defaultdict(collections.Counter)
    for obj in lines:
        for _, keys in FIELDS:
            for k in keys:
                if k in obj:
                    vals[keys[0]][str(obj[k])] += 1
    return vals


def check_flows(c, group, work):
    paths = [os.path.join(mctest.CORPUS, g) for g in group]
    if len(paths) > 1:  # templates in one file, data in the next: tshark must see them as one capture
        merged = os.path.join(work, "merged.pcap")
        subprocess.run(["mergecap", "-a", "-w", merged] + paths, check=True)
        paths = [merged]
    dgrams = [d for p in paths for d in datagrams(p)]
    col = Collector(work)
    replay(dgrams, col.port)
    lines, ctr = col.stop()
    want = tshark_values(paths[0], {d[1] for d in dgrams})
    got = json_values(lines)
    late = ctr.get("collector.pending.decoded", 0)
    label = "+".join(os.path.basename(g) for g in group)
    if not any(want.values()):
        # no flow tshark can show: only templates and options (the Fritz!Box, pmacct 112), or data whose
        # templates are not in the capture (nDPI's netflowv9): mccollector must not invent any
        held = ctr.get("collector.pending.held", 0)
        opts = ctr.get("collector.records.options", 0)
        c.check(not lines and (held or opts or ctr.get("collector.templates.added", 0)),
                "%s: no flow shown by tshark, none by mccollector (%d options records, %d sets held for a "
                "template that never came)" % (label, opts, held))
        return
    # a v9 header whose count is below the records it holds (graylog's netflow9.pcap: count 1, three
    # flowsets): tshark stops at the count, mccollector reads every flowset and counts the header
    short_count = ctr.get("collector.nf9.bad_count", 0)
    compared = 0
    for _, (key, *_) in FIELDS:
        missing = want[key] - got[key]
        extra = got[key] - want[key]
        compared += sum(want[key].values())
        c.check(not missing, "%s: %s: every value tshark shows is decoded (missing %s)" %
                (label, key, list(missing.items())[:3]))
        c.check(sum(extra.values()) <= late * 30 or short_count,  # a held set carries at most its records
                "%s: %s: values beyond tshark's only from sets held for their template (%d extra, %d held sets)"
                % (label, key, sum(extra.values()), late))
        if extra and short_count:
            print("   %s: %s: %d values beyond tshark's: a v9 header counted fewer records than it holds, "
                  "tshark stops at the count" % (label, key, sum(extra.values())))
    c.check(compared > 0, "%s: tshark showed values to compare (%d)" % (label, compared))
    bad = sum(v for k, v in ctr.items() if k.endswith(("malformed", "too_short", "bad_length", "bad_count")))
    print("   %s: %d datagrams, %d records as JSON, %d values compared, %d sets decoded late, %d malformed" %
          (label, len(dgrams), len(lines), compared, late, bad))


def check_sflow(c, path, work):
    dgrams = datagrams(os.path.join(mctest.CORPUS, path))
    col = Collector(work)
    replay(dgrams, col.sport)
    lines, ctr = col.stop()
    out = subprocess.run(["tshark", "-r", os.path.join(mctest.CORPUS, path), "-T", "fields", "-e",
                          "sflow_245.sampletype", "-E", "occurrence=a", "-E", "aggregator=;"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    types = [t for line in out.splitlines() for t in line.split(";") if t]
    flow_samples = sum(1 for t in types if t.endswith(":1") or t.endswith(":3") or t in ("1", "3"))
    c.check(len(lines) == flow_samples and ctr.get("collector.sflow.datagrams", 0) > 0,
            "%s: %d flow records, tshark shows %d flow samples" % (path, len(lines), flow_samples))


def check_probe_json(c, capture, version, work):
    col = Collector(work)
    pj = os.path.join(work, "probe.json")
    # IPFIX biflows: the probe's --json is one object per flow, so the records sent must be too
    mode = ["-V", "10", "--biflow"] if version == 10 else ["-V", str(version)]
    mctest.run_probe(["-i", capture, "-n", "127.0.0.1:%d" % col.port, "--json", pj, "--export-pps", "5000"] + mode)
    lines, _ = col.stop()
    mine = [json.loads(x) for x in open(pj) if x.strip()]
    key = lambda o: json.dumps(o, sort_keys=True)  # noqa: E731
    g, w = collections.Counter(map(key, lines)), collections.Counter(map(key, mine))
    c.check(g == w and mine, "v%d %s: mccollector's %d JSON objects equal mcprobe's %d" %
            (version, os.path.basename(capture), len(lines), len(mine)))
    for x in list((g - w))[:2]:
        print("   only mccollector: " + x[:300])
    for x in list((w - g))[:2]:
        print("   only mcprobe:     " + x[:300])


def main():
    mctest.need_corpus()
    mctest.need_tool("tshark")
    if not os.path.exists(MCCOLLECTOR):
        mctest.skip("mccollector is not built at %s" % MCCOLLECTOR)
    c = mctest.Checker()
    base = tempfile.mkdtemp(prefix="mcccorpus")
    n = 0
    for group in GROUPS:
        if not all(os.path.exists(os.path.join(mctest.CORPUS, g)) for g in group):
            c.check(False, "corpus file missing: %s" % group)
            continue
        n += 1
        os.makedirs(os.path.join(base, str(n)))
        check_flows(c, group, os.path.join(base, str(n)))
    for path in SFLOW:
        n += 1
        os.makedirs(os.path.join(base, str(n)))
        check_sflow(c, path, os.path.join(base, str(n)))
    for cap in ("mixed/pcapplusplus_example.pcap", "ipv6/zeek_ftp-ipv6.pcap", "sip_rtp/zeek_sip-rtp.pcap"):
        path = os.path.join(mctest.CORPUS, cap)
        if not os.path.exists(path):
            continue
        for v in (10, 9, 5):
            if v == 5 and cap.startswith("ipv6/"):
                continue  # v5 carries no IPv6 flow
            n += 1
            os.makedirs(os.path.join(base, str(n)))
            check_probe_json(c, path, v, os.path.join(base, str(n)))
    c.done()


if __name__ == "__main__":
    main()
