#!/usr/bin/python3
"""Issue 11, acceptance 1: real exporters feed mccollector and nfcapd at once,
and the flows mccollector stores equal nfdump's decode of the same stream.

Each exporter sends to a real nfcapd, which repeats every datagram (-R) to
mccollector: both decode the very same bytes.  Exporters: softflowd (NetFlow
v5, v9, IPFIX) and mcprobe (v5, v9, IPFIX) reading corpus captures, pmacctd
with its nfprobe plugin (v9 and IPFIX) reading one, and fprobe (v5, v9)
metering UDP datagrams this test sends on lo.  For every record: protocol,
addresses, ports, first and last seen (ms), packets and octets of the rows
in mccollector's SQLite store must equal nfdump's records, as multisets.
The collector's JSON lines must be as many as its rows.

Known differences, normalised on both sides and said here:
  * v5/v9 times are 32-bit sysUpTime ms relative to the export header.
    mccollector places a time on the circle nearest the header (a router's
    uptime wraps every 49.7 days); nfdump adds without wrapping.  They differ
    by 2^32 ms only when a record's times lie more than 2^31 ms from its
    header, which softflowd reading an old capture produces: v5/v9 times are
    compared modulo 2^32 and the moved records counted and printed;
  * softflowd's IPFIX gives flowEndSysUpTime (21) before flowStartSysUpTime
    (22), both counting from systemInitTimeMilliseconds (160) in an options
    record; nfdump 1.7.1 shows every such record's first and last swapped
    (first later than last).  The test asserts that reading, then compares
    with first and last exchanged; mccollector's rows start before they end;
  * ICMP "ports".
nfdump shows ICMP type and code instead of ports and the exporters disagree
on where they put them (v5 dstport, icmpTypeCodeIPv4), so ICMP records are
compared with ports 0.
Skipped, saying so, when ../shared/corpus or nfcapd/nfdump are absent; an
exporter that is not installed is reported and skipped, never passed.
"""
import calendar
import collections
import ipaddress
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

MCCOLLECTOR = os.environ.get("MCCOLLECTOR", os.path.join(mctest.SRC, "build", "release", "mccollector"))
CAPTURES = ["mixed/pcapplusplus_example.pcap", "mixed/zeek_wikipedia.pcap", "ipv6/zeek_ftp-ipv6.pcap",
            "mixed/ndpi_iphone.pcap"]
ICMP = (1, 58)
WRAP = 1 << 32  # sysUpTime period, ms
IPV6_ONLY = ("ipv6/zeek_ftp-ipv6.pcap",)  # nothing for v5 to carry


def utc_ms(text):
    whole, _, frac = text.partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac or 0)


def norm(proto, src, sport, dst, dport, first, last, pkts, octs):
    if proto in ICMP:
        sport = dport = 0
    return (proto, str(ipaddress.ip_address(src)), sport, str(ipaddress.ip_address(dst)), dport, first, last,
            pkts, octs)


def nfdump_records(nfdir):
    out = subprocess.run(["nfdump", "-R", nfdir, "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, TZ="UTC"), check=True).stdout.decode()
    out = out.replace("No matching flows\n", "")
    recs = json.loads(out) if out.strip() else []
    return [norm(r["proto"], r.get("src4_addr") or r.get("src6_addr"), r.get("src_port", 0),
                 r.get("dst4_addr") or r.get("dst6_addr"), r.get("dst_port", 0), utc_ms(r["first"]),
                 utc_ms(r["last"]), r["in_packets"], r["in_bytes"]) for r in recs]


def store_rows(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT proto, src, src_port, dst, dst_port, start_ms, end_ms, packets, octets FROM flows "
                       "WHERE ip_version IN (4, 6)").fetchall()
    con.close()
    return [norm(*r) for r in rows]


def collect(work, export):
    """Starts mccollector and nfcapd (repeating to it), runs export(port); returns (nfdump, store, json lines)."""
    os.makedirs(work)
    nfdir = os.path.join(work, "nfcapd")
    os.makedirs(nfdir)
    nport, cport = mctest.free_port(socket.SOCK_DGRAM), mctest.free_port(socket.SOCK_DGRAM)
    db, jpath = os.path.join(work, "flows.db"), os.path.join(work, "flows.json")
    coll = subprocess.Popen([MCCOLLECTOR, "-b", "127.0.0.1", "-p", str(cport), "--store", db, "--json", jpath,
                             "--stats-interval", "0", "-q", "--counters", os.path.join(work, "counters.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    nf = None
    try:
        mctest.wait_until(lambda: mctest.udp_socket(cport)[0], "mccollector to listen on port %d" % cport)
        nf = subprocess.Popen(["nfcapd", "-w", nfdir, "-b", "127.0.0.1", "-p", str(nport), "-B", "8388608",
                               "-R", "127.0.0.1/%d" % cport], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mctest.wait_until(lambda: mctest.udp_socket(nport)[0], "nfcapd to listen on port %d" % nport)
        export(nport)
        mctest.wait_until(lambda: mctest.udp_socket(nport)[1] == 0, "nfcapd to read its socket")
        time.sleep(0.3)
        mctest.wait_until(lambda: mctest.udp_socket(cport)[1] == 0, "mccollector to read its socket")
        time.sleep(0.3)
    finally:
        if nf:
            nf.send_signal(signal.SIGTERM)
            nf.wait(timeout=30)
        coll.send_signal(signal.SIGTERM)
        err = coll.communicate(timeout=60)[1].decode()
    if coll.returncode != 0:
        raise RuntimeError("mccollector exited %d: %s" % (coll.returncode, err[-500:]))
    lines = [json.loads(x) for x in open(jpath) if x.strip()] if os.path.exists(jpath) else []
    return nfdump_records(nfdir), store_rows(db), lines


def wrap32(recs):
    """v5/v9 times modulo 2^32 ms (see the docstring): the records as compared, and how many were moved."""
    return [r[:5] + (r[5] % WRAP, r[6] % WRAP) + r[7:] for r in recs]


def compare(c, label, got, want, uptime=False):
    if uptime:
        moved = len(collections.Counter(got) - collections.Counter(want))
        got, want = wrap32(got), wrap32(want)
        if moved:
            print("   %s: %d records placed 2^32 ms from nfdump's (sysUpTime wrap, see above)" % (label, moved))
    g, w = collections.Counter(got), collections.Counter(want)
    extra, missing = g - w, w - g
    c.check(not extra and not missing and len(want) > 0,
            "%s: %d stored flows equal nfdump's %d" % (label, len(got), len(want)))
    for r in list(extra)[:3]:
        print("   only mccollector: %r" % (r,))
    for r in list(missing)[:3]:
        print("   only nfdump:      %r" % (r,))


def run_case(c, label, work, export, uptime=False, nfdump_swaps=False):
    try:
        nfd, rows, lines = collect(work, export)
    except (RuntimeError, subprocess.SubprocessError) as e:
        c.check(False, "%s: %s" % (label, e))
        return
    c.check(all(r[5] <= r[6] for r in rows), "%s: every stored flow starts before it ends" % label)
    if nfdump_swaps:
        c.check(nfd and all(r[5] >= r[6] for r in nfd) and any(r[5] > r[6] for r in nfd),
                "%s: nfdump shows first after last (its reading, see above)" % label)
        nfd = [r[:5] + (r[6], r[5]) + r[7:] for r in nfd]
    compare(c, label, rows, nfd, uptime)
    c.check(len(lines) == len(rows), "%s: one JSON line per stored flow (%d, %d)" % (label, len(lines), len(rows)))


def softflowd_export(capture, version):
    short = os.path.join("/tmp", "mccp%d.pcap" % os.getpid())  # softflowd truncates long paths

    def run(port):
        if os.path.lexists(short):
            os.unlink(short)
        os.symlink(capture, short)
        try:
            subprocess.run(["softflowd", "-r", short, "-n", "127.0.0.1:%d" % port, "-v", str(version), "-c", "none",
                            "-d"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=True)
        finally:
            os.unlink(short)
    return run


def mcprobe_export(capture, version):
    def run(port):
        mctest.run_probe(["-i", capture, "-n", "127.0.0.1:%d" % port, "-V", str(version), "--export-pps", "5000"])
    return run


def pmacct_export(capture, version, work):
    def run(port):
        conf = os.path.join(work, "pmacctd.conf")
        with open(conf, "w") as f:
            f.write("daemonize: false\npcap_savefile: %s\npcap_savefile_wait: false\nplugins: nfprobe\n"
                    "nfprobe_receiver: 127.0.0.1:%d\nnfprobe_version: %d\nnfprobe_timeouts: maxlife=1\n"
                    "aggregate: src_host, dst_host, src_port, dst_port, proto, tos\n" % (capture, port, version))
        subprocess.run(["pmacctd", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        time.sleep(1.0)  # the plugin process flushes after the core has ended
    return run


def fprobe_export(dev):
    """fprobe (NetFlow v5; its other versions, 1 and 7, are not in the issue) on a dummy interface, metering
    datagrams routed out of it: only the test's own traffic is on it (a filter on lo made fprobe meter nothing)."""
    def run(port):
        p = subprocess.Popen(["fprobe", "-i", dev, "-n", "5", "-s", "1", "-d", "1", "-e", "2", "-l", "2",
                              "127.0.0.1:%d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)  # fprobe opens the interface
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(40):
                s.sendto(b"x" * (10 + i), ("198.18.77.%d" % (2 + i % 4), 5000 + i % 3))
                time.sleep(0.01)
            s.close()
            time.sleep(1.0)
        finally:
            p.send_signal(signal.SIGTERM)  # fprobe sends its flow cache on the way out
            p.wait(timeout=30)
        time.sleep(0.5)
    return run


def dummy_interface():
    """An interface routing 198.18.77.0/24 (RFC 2544 benchmarking space) where packets sent are seen by
    captures and go nowhere: a dummy, or an ifb (kernels without the dummy module); None when neither can
    be made (not root)."""
    dev = "mcfp%d" % (os.getpid() % 10000)
    for kind in ("dummy", "ifb"):
        cmds = [["ip", "link", "add", dev, "type", kind], ["ip", "addr", "add", "198.18.77.1/24", "dev", dev],
                ["ip", "link", "set", dev, "up"]]
        if all(subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
               for cmd in cmds):
            return dev
        subprocess.run(["ip", "link", "del", dev], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None


def main():
    mctest.need_corpus()
    for tool in ("nfcapd", "nfdump"):
        mctest.need_tool(tool)
    if not os.path.exists(MCCOLLECTOR):
        mctest.skip("mccollector is not built at %s" % MCCOLLECTOR)
    c = mctest.Checker()
    base = tempfile.mkdtemp(prefix="mccpeers")
    caps = [os.path.join(mctest.CORPUS, x) for x in CAPTURES if os.path.exists(os.path.join(mctest.CORPUS, x))]
    c.check(len(caps) == len(CAPTURES), "the corpus captures are there (%d of %d)" % (len(caps), len(CAPTURES)))
    n = 0
    for cap in caps:
        name = os.path.basename(cap)
        for v in (5, 9, 10):
            if v == 5 and os.path.relpath(cap, mctest.CORPUS) in IPV6_ONLY:
                continue
            n += 1
            run_case(c, "mcprobe v%d %s" % (v, name), os.path.join(base, str(n)), mcprobe_export(cap, v), v < 10)
            if shutil.which("softflowd"):
                n += 1
                run_case(c, "softflowd v%d %s" % (v, name), os.path.join(base, str(n)), softflowd_export(cap, v),
                         v < 10, v == 10)
    if shutil.which("softflowd") is None:
        print("SKIP part: softflowd is not installed")
    if shutil.which("pmacctd"):
        for v in (9, 10):
            n += 1
            work = os.path.join(base, str(n))
            run_case(c, "pmacctd nfprobe v%d" % v, work, pmacct_export(caps[0], v, base))
    else:
        print("SKIP part: pmacctd is not installed")
    dev = dummy_interface() if shutil.which("fprobe") else None
    if dev:
        try:
            n += 1
            run_case(c, "fprobe v5", os.path.join(base, str(n)), fprobe_export(dev), True)
        finally:
            subprocess.run(["ip", "link", "del", dev], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        print("SKIP part: fprobe is not installed, or no dummy interface can be made (not root?)")
    shutil.rmtree(base, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
