#!/usr/bin/python3
"""Issue 11: IPFIX over TCP (RFC 7011 10.4) into mccollector --ipfix-tcp.

mcprobe exports IPFIX over UDP only, so the test records what it sends: mcprobe
meters a corpus capture with -V 10 --biflow -n 127.0.0.1:PORT --mtu 600 (many
small messages, templates resent every 20) to a UDP socket of the test
(every datagram it counted as sent must be there) and writes its own --json.  Those very messages then go to mccollector over ONE TCP
connection, written in chunks of seeded random sizes (1 byte to several
messages: the collector must cut the stream by the IPFIX header's length,
across reads and with several messages in one read), and the connection is
closed.  mccollector's --json lines must equal mcprobe's --json objects as
multisets (json.dumps with sorted keys), and input.tcp.messages must equal the
messages sent; nothing may be counted malformed, held or badly framed.

Then two exporters at once, each on its own connection with writes
interleaved: mcprobe's biflow export of one capture and its uniflow export
(one record per direction, another template under the same template id) of
another.  Each connection is its own exporter with its own templates, so the
collector's lines must equal the first export's --json plus the second's
--json as the uniflow records it sent (mctest.uniflow_records).
Skipped, saying so, when ../shared/corpus is absent.
"""
import collections
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

MCCOLLECTOR = os.environ.get("MCCOLLECTOR", os.path.join(mctest.SRC, "build", "release", "mccollector"))
CAPTURE_A = "mixed/pcapplusplus_example.pcap"
CAPTURE_B = "mixed/ndpi_1kxun.pcap"
MTU = 600  # small messages: many of them, and many cut across writes
SANITIZER_ERRORS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error")


def key(o):
    return json.dumps(o, sort_keys=True)


def probe_export(capture, work, name, biflow):
    """Runs mcprobe on capture exporting IPFIX to a UDP socket of ours; returns (the datagrams it sent, in
    order, its --json objects, datagrams it counted as sent)."""
    rs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rs.bind(("127.0.0.1", 0))
    rs.settimeout(0.2)
    got, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                got.append(rs.recv(65536))
            except socket.timeout:
                pass

    t = threading.Thread(target=reader)
    t.start()
    pj, pc = os.path.join(work, name + ".json"), os.path.join(work, name + ".ctr")
    try:
        mctest.run_probe(["-i", capture, "-n", "127.0.0.1:%d" % rs.getsockname()[1], "-V", "10", "--json", pj,
                          "--counters", pc, "--export-pps", "5000", "--mtu", str(MTU)] +
                         (["--biflow"] if biflow else []))
        time.sleep(0.5)
    finally:
        stop.set()
        t.join()
        rs.close()
    with open(pj) as f:
        objs = [json.loads(x) for x in f if x.strip()]
    with open(pc) as f:
        ctr = dict((n, int(v)) for n, v in (line.split() for line in f if line.strip()))
    return got, objs, ctr.get("export.packets", -1)


def templates_of(msgs):
    """{template id: specifier bytes} of the template sets in msgs (the last definition of each id)."""
    out = {}
    for m in msgs:
        off = 16
        while off + 4 <= len(m):
            sid, sl = struct.unpack("!HH", m[off:off + 4])
            if sl < 4:
                break
            if sid == 2:
                p, end = off + 4, off + sl
                while p + 4 <= end:
                    tid, n = struct.unpack("!HH", m[p:p + 4])
                    q = p + 4
                    for _ in range(n):
                        fid = struct.unpack("!H", m[q:q + 2])[0]
                        q += 8 if fid & 0x8000 else 4
                    out[tid] = m[p + 4:q]
                    p = q
            off += sl
    return out


class Collector:
    def __init__(self, work, name):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.port = mctest.free_port()
        self.json = os.path.join(self.dir, "c.json")
        self.ctr = os.path.join(self.dir, "c.txt")
        self.errf = open(os.path.join(self.dir, "stderr.txt"), "wb")
        self.p = subprocess.Popen([MCCOLLECTOR, "-b", "127.0.0.1", "-p", "0", "--ipfix-tcp", str(self.port),
                                   "--no-store", "--json", self.json, "--counters", self.ctr, "--stats-interval",
                                   "0", "-q"], stdout=subprocess.DEVNULL, stderr=self.errf)
        end = time.time() + 20
        want = "0100007F:%04X" % self.port
        while not any(r[1] == want and r[3] == "0A" for r in self.rows()):
            if time.time() > end or self.p.poll() is not None:
                raise RuntimeError("mccollector did not listen on TCP port %d" % self.port)
            time.sleep(0.05)

    @staticmethod
    def rows():
        with open("/proc/net/tcp") as f:
            return [line.split() for line in f.readlines()[1:]]

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        time.sleep(1.0)  # what was written is read and decoded
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=120)
        self.errf.close()
        with open(self.errf.name, errors="replace") as f:
            err = f.read()
        with open(self.json) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        with open(self.ctr) as f:
            ctr = dict((n, int(v)) for n, v in (line.split() for line in f if line.strip()))
        return self.p.returncode, lines, ctr, err


def chunks(data, rnd):
    """data cut into writes of random sizes: single bytes, pieces of a message, several messages."""
    out, i = [], 0
    while i < len(data):
        r = rnd.random()
        n = rnd.randint(1, 16) if r < 0.4 else rnd.randint(17, MTU) if r < 0.85 else rnd.randint(MTU, 5 * MTU)
        out.append(data[i:i + n])
        i += n
    return out


def send_interleaved(conns, streams, rnd):
    """Writes every stream's chunks on its connection, the connections taking turns at random."""
    pending = [collections.deque(chunks(b"".join(s), rnd)) for s in streams]
    writes = 0
    while any(pending):
        k = rnd.choice([i for i, q in enumerate(pending) if q])
        conns[k].sendall(pending[k].popleft())
        writes += 1
        if writes % 16 == 0:
            time.sleep(0.002)  # let the collector read mid-message
    for s in conns:
        s.close()
    return writes


def compare(c, label, lines, want):
    g, w = collections.Counter(map(key, lines)), collections.Counter(map(key, want))
    c.check(g == w and want, "%s: mccollector's %d JSON objects equal mcprobe's %d" % (label, len(lines), len(want)))
    for x in list(g - w)[:2]:
        print("   only mccollector: " + x[:300])
    for x in list(w - g)[:2]:
        print("   only mcprobe:     " + x[:300])


def check_run(c, label, rc, ctr, err, messages):
    c.check(rc == 0, "%s: mccollector exits 0 (%d)" % (label, rc))
    bad = [m for m in SANITIZER_ERRORS if m in err]
    c.check(not bad, "%s: no sanitizer report (%s)" % (label, bad))
    if rc or bad:
        print("   stderr: " + err[-2000:])
    c.check(ctr.get("input.tcp.messages") == messages and ctr.get("collector.ipfix.messages") == messages,
            "%s: input.tcp.messages %s and collector.ipfix.messages %s = the %d messages sent" %
            (label, ctr.get("input.tcp.messages"), ctr.get("collector.ipfix.messages"), messages))
    for name in ("input.tcp.bad_framing", "input.tcp.too_many", "collector.sets.malformed",
                 "collector.records.malformed", "collector.templates.bad", "collector.pending.held"):
        c.check(ctr.get(name, 0) == 0, "%s: %s = %d" % (label, name, ctr.get(name, 0)))


def main():
    mctest.need_corpus()
    if not os.path.exists(MCCOLLECTOR):
        mctest.skip("mccollector is not built at %s" % MCCOLLECTOR)
    caps = [os.path.join(mctest.CORPUS, x) for x in (CAPTURE_A, CAPTURE_B)]
    for p in caps:
        if not os.path.exists(p):
            mctest.skip("%s is not in ../shared/corpus" % p)
    c = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mcctcp")
    rnd = random.Random(7011)

    msgs_a, objs_a, sent_a = probe_export(caps[0], work, "a", True)
    c.check(len(msgs_a) == sent_a and msgs_a, "mcprobe's %d IPFIX messages of %s all recorded (%d)" %
            (sent_a, CAPTURE_A, len(msgs_a)))
    c.check(all(m[:2] == b"\x00\x0a" and struct.unpack("!H", m[2:4])[0] == len(m) for m in msgs_a),
            "every recorded datagram is one IPFIX message")

    # one connection, random chunks
    label = "one TCP exporter (%s, biflow)" % os.path.basename(CAPTURE_A)
    col = Collector(work, "one")
    writes = send_interleaved([col.connect()], [msgs_a], rnd)
    rc, lines, ctr, err = col.stop()
    print("   %s: %d messages (%d bytes) in %d writes" % (label, len(msgs_a), sum(map(len, msgs_a)), writes))
    check_run(c, label, rc, ctr, err, len(msgs_a))
    c.check(ctr.get("input.tcp.connections") == 1, "%s: one connection counted" % label)
    compare(c, label, lines, objs_a)

    # two exporters at once, the same template id with other definitions
    msgs_b, objs_b, sent_b = probe_export(caps[1], work, "b", False)
    c.check(len(msgs_b) == sent_b and msgs_b, "mcprobe's %d IPFIX messages of %s all recorded (%d)" %
            (sent_b, CAPTURE_B, len(msgs_b)))
    ta, tb = templates_of(msgs_a), templates_of(msgs_b)
    clash = [t for t in ta if t in tb and ta[t] != tb[t]]
    c.check(bool(clash), "the two exports define template ids %s differently" % clash)
    label = "two TCP exporters at once"
    col = Collector(work, "two")
    writes = send_interleaved([col.connect(), col.connect()], [msgs_a, msgs_b], rnd)
    rc, lines, ctr, err = col.stop()
    print("   %s: %d + %d messages in %d writes" % (label, len(msgs_a), len(msgs_b), writes))
    check_run(c, label, rc, ctr, err, len(msgs_a) + len(msgs_b))
    c.check(ctr.get("input.tcp.connections") == 2, "%s: two connections counted" % label)
    compare(c, label, lines, objs_a + mctest.uniflow_records(objs_b))
    if c.failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("   files kept in " + work)
    c.done()


if __name__ == "__main__":
    main()
