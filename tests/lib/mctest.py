"""mctest.py - helpers shared by the integration tests (python3 standard library only).

Every test runs the built mcprobe (env MCPROBE) against real captures in
../shared/corpus (skipped with exit code 77 and a clear message when absent)
and real peers (tshark, nfcapd/nfdump).
"""
import collections
import glob
import ipaddress
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile

SKIP = 77
SRC = os.environ.get("MC_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
MCPROBE = os.environ.get("MCPROBE", os.path.join(SRC, "build", "release", "mcprobe"))
CORPUS = os.path.abspath(os.path.join(SRC, "..", "shared", "corpus"))


def free_port(kind=socket.SOCK_STREAM):
    """A port free on 127.0.0.1 now (TCP by default; socket.SOCK_DGRAM for UDP)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_lines_until(proc, pattern, timeout, seen):
    """Reads proc's stderr lines into seen until one matches pattern (a regex); True when one did.

    The pipe is read raw (os.read): a buffered readline after select would keep
    a second line that came in the same chunk in Python's buffer, where select
    no longer sees it, and wait for the timeout with the answer in hand.
    """
    import time
    end = time.time() + timeout
    fd = proc.stderr.fileno()
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(fd, 65536).decode(errors="replace")
        if not chunk:
            return False
        lines = chunk.splitlines(keepends=True)
        seen.extend(lines)
        if any(re.search(pattern, line) for line in lines):
            return True
    return False


def udp_socket(port):
    """(bound, bytes queued) of the UDP socket on 127.0.0.1:port, from /proc/net/udp."""
    want = "0100007F:%04X" % port
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want:
                return True, int(cols[4].split(":")[1], 16)
    return False, 0


def wait_until(cond, what, timeout=20.0):
    """Polls cond until it is true; RuntimeError naming what was waited for at the timeout."""
    import time
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def need_corpus():
    if not os.path.isdir(CORPUS):
        skip("../shared/corpus is absent: real-capture tests need it beside the repository")


def need_tool(name):
    from shutil import which
    if not which(name):
        skip(name + " is not installed (run scripts/setup.sh)")


def corpus_captures(pattern="*"):
    """The captures of a corpus category; skips the test (77) when the corpus or the category is absent."""
    need_corpus()
    files = []
    for ext in ("pcap", "pcapng", "cap"):
        files += glob.glob(os.path.join(CORPUS, pattern, "*." + ext))
    if not files:
        skip("no capture matches %s in ../shared/corpus" % pattern)
    return sorted(files)


def run_probe(args, check=True, timeout=300):
    """Runs mcprobe with args; returns (returncode, stderr)."""
    p = subprocess.run([MCPROBE, "--stats-interval", "0", "-q"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("mcprobe %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p.returncode, p.stderr.decode()


def probe_file(capture, extra=(), workdir=None):
    """Meters one capture; returns (flows from --json, counters dict)."""
    wd = workdir or tempfile.mkdtemp(prefix="mct")
    jpath = os.path.join(wd, "flows.json")
    cpath = os.path.join(wd, "counters.txt")
    run_probe(["-i", capture, "--json", jpath, "--counters", cpath] + list(extra))
    flows = [json.loads(line) for line in open(jpath) if line.strip()]
    counters = {}
    for line in open(cpath):
        name, value = line.split()
        counters[name] = int(value)
    return flows, counters


def tshark_lines(capture, display_filter, fields, extra=()):
    """Returns tshark -T fields rows (lists of strings) for frames matching the filter."""
    cmd = ["tshark", "-n", "-r", capture, "-Y", display_filter, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"] + list(extra)
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    return [line.split("\t") for line in out.splitlines()]


def tshark_rtp_streams(capture):
    """The streams of `tshark -q -z rtp,streams` (RTP found heuristically too), as dicts: src, sport, dst,
    dport, ssrc, pkts, lost, max_delta, max_jitter."""
    out = subprocess.run(["tshark", "-n", "-r", capture, "-q", "-z", "rtp,streams", "-o", "rtp.heuristic_rtp:TRUE"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    streams = []
    for line in out.splitlines():
        w = line.split()
        if len(w) < 16 or not w[6].startswith("0x"):
            continue
        # start end src sport dst dport ssrc payload... pkts lost (pct) min mean max minj meanj maxj [X]
        tail = w[7:]
        while tail and not tail[0].isdigit():
            tail = tail[1:]
        streams.append({"src": w[2], "sport": int(w[3]), "dst": w[4], "dport": int(w[5]), "ssrc": int(w[6], 16),
                        "pkts": int(tail[0]), "lost": int(tail[1]), "max_delta": float(tail[5]),
                        "max_jitter": float(tail[8])})
    return streams


def conn_key(a, pa, b, pb):
    """A TCP/UDP connection whichever way it is written: its two (address, port) ends."""
    return frozenset([(str(ipaddress.ip_address(a)), int(pa)), (str(ipaddress.ip_address(b)), int(pb))])


def transactions_by_conn(capture, protocol, workdir):
    """The --l7-log transactions of one protocol mcprobe writes for capture, by conn_key, in order."""
    path = os.path.join(workdir, "l7.json")
    if os.path.exists(path):
        os.unlink(path)
    run_probe(["-i", capture, "--l7-log", path])
    by_conn = collections.OrderedDict()
    if not os.path.exists(path):
        return by_conn
    for line in open(path):
        t = json.loads(line)
        if t.get("protocol") != protocol:
            continue
        src = t.get("sourceIPv4Address") or t.get("sourceIPv6Address")
        dst = t.get("destinationIPv4Address") or t.get("destinationIPv6Address")
        by_conn.setdefault(conn_key(src, t["sourceTransportPort"], dst, t["destinationTransportPort"]), []).append(t)
    return by_conn


def flow_packets(f):
    return int(f.get("packetDeltaCount", 0)) + int(f.get("reversePacketDeltaCount", 0))


def flow_octets(f):
    return int(f.get("octetDeltaCount", 0)) + int(f.get("reverseOctetDeltaCount", 0))


# forward key -> the key of the same value seen from the other direction
_SWAPPED = {"sourceIPv4Address": "destinationIPv4Address", "destinationIPv4Address": "sourceIPv4Address",
            "sourceIPv6Address": "destinationIPv6Address", "destinationIPv6Address": "sourceIPv6Address",
            "sourceTransportPort": "destinationTransportPort", "destinationTransportPort": "sourceTransportPort"}


def uniflow_records(flows):
    """The IPFIX records of biflow --json objects as the default (uniflow) export sends them: one per
    direction with packets; the reverse one has the endpoints swapped and the reverse elements' values."""
    out = []
    for f in flows:
        fwd = dict((k, v) for k, v in f.items() if not k.startswith("reverse"))
        if int(f.get("packetDeltaCount", 0)):
            out.append(fwd)
        if int(f.get("reversePacketDeltaCount", 0)):
            rev = dict((_SWAPPED.get(k, k), v) for k, v in fwd.items())
            for k, v in f.items():
                if k.startswith("reverse"):
                    rev[k[7].lower() + k[8:]] = v
            out.append(rev)
    return out


class Checker:
    """Collects failures so one run reports every mismatch, then exits."""

    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: " + what)

    def done(self):
        if self.passed == 0 and self.failed == 0:
            skip("no check ran (nothing to compare): a test that checked nothing is not a pass")
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
