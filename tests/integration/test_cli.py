#!/usr/bin/python3
"""The probe's interface: --help, config file, docs in sync, live capture and a clean SIGINT.

* docs/mcprobe.conf is exactly `mcprobe --dump-config`, and every option and
  every counter is documented in docs/mcprobe.md;
* a config file gives the same result as the same options on the command line;
* bad options and bad config lines fail with a message naming them (exit 2);
* a live capture on lo meters UDP datagrams sent during the run and, on
  SIGINT, exports the flow, writes the counters and exits 0;
* --cpu-affinity and --cloud-cpu pin the packet and cloud threads (seen in
  /proc), and a CPU the machine does not have fails with exit 2.
"""
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

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mccli")


def probe(args, **kw):
    return subprocess.run([mctest.MCPROBE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, **kw)


# docs in sync with the option table and the counters
dump = probe(["--dump-config"]).stdout.decode()
c.check(dump == open(os.path.join(mctest.SRC, "docs", "mcprobe.conf")).read(),
        "docs/mcprobe.conf differs from `mcprobe --dump-config`: regenerate it")
manual = open(os.path.join(mctest.SRC, "docs", "mcprobe.md")).read()
helptext = probe(["--help"]).stdout.decode()
for line in helptext.splitlines():
    line = line.strip()
    if line.startswith("-"):
        opt = [w for w in line.replace(",", " ").split() if w.startswith("--")][0]
        c.check(opt in manual, "option %s is not in docs/mcprobe.md" % opt)
ctr = os.path.join(work, "ctr")
demo = os.path.join(work, "demo.pcap")
subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-demo-pcap.py"), demo], check=True,
               stdout=subprocess.DEVNULL)
probe(["-i", demo, "--counters", ctr, "-q"])
for line in open(ctr):
    name = line.split()[0]
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "l7" and parts[1] not in ("tcp", "dpi", "attached"):
        # an analyzer's reasons are documented with it, which mcprobe(8) points to
        doc = os.path.join(mctest.SRC, "docs", "internals", "analyzers-%s.md" % parts[1])
        text = open(doc).read() if os.path.exists(doc) else ""
        c.check("`%s`" % name in text or "`%s`" % ".".join(parts[2:]) in text,
                "counter %s is not documented in docs/internals/analyzers-%s.md" % (name, parts[1]))
        c.check("analyzers-%s.md" % parts[1] in manual, "docs/mcprobe.md does not point to analyzers-%s.md" % parts[1])
        continue
    c.check("`%s`" % name in manual, "counter %s is not documented in docs/mcprobe.md" % name)

# config file == command line
conf = os.path.join(work, "mc.conf")
j1, j2 = os.path.join(work, "a.json"), os.path.join(work, "b.json")
with open(conf, "w") as f:
    f.write("# test\ninterface = %s\nidle-timeout 5\n--lifetime-timeout=20\nuniflow\njson %s\nquiet\n" % (demo, j1))
r = probe(["-c", conf])
c.check(r.returncode == 0, "mcprobe -c FILE failed: %s" % r.stderr.decode())
probe(["-i", demo, "-d", "5", "-t", "20", "--uniflow", "--json", j2, "-q"])
c.check(open(j1).read() == open(j2).read() and os.path.getsize(j1) > 0,
        "a config file and the same command-line options give different flows")

# errors are clear
for args, word in ((["-i", demo, "-V", "7"], "export-version"), (["-i", demo, "--bogus"], "bogus"),
                   (["-i", demo, "-T", "octetDeltaCount,noSuchElement"], "noSuchElement"),
                   (["-i", demo, "-d", "zero"], "idle-timeout"),
                   (["-i", demo, "-V", "9", "-T", "tunnelType"], "needs IPFIX (-V 10)")):
    r = probe(args)
    c.check(r.returncode == 2 and word in r.stderr.decode(), "%s: exit %d, stderr %r" % (args, r.returncode, r.stderr[:200]))
with open(conf, "w") as f:
    f.write("interface %s\nno-such-option 3\n" % demo)
r = probe(["-c", conf])
c.check(r.returncode == 2 and ":2: unknown option" in r.stderr.decode(), "bad config line: %r" % r.stderr[:200])

# two collectors, one over IPv6: each receives every datagram
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.bind(("127.0.0.1", 0))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.bind(("::1", 0))
s4.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s6.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
r = probe(["-i", demo, "-q", "-n", "127.0.0.1:%d" % s4.getsockname()[1], "-n", "[::1]:%d" % s6.getsockname()[1],
           "--counters", ctr])
got = []
for sock in (s4, s6):
    sock.setblocking(False)
    data = []
    while True:
        try:
            data.append(sock.recv(65536))
        except BlockingIOError:
            break
    got.append(data)
sent = int(dict(line.split() for line in open(ctr))["export.packets"])
c.check(r.returncode == 0 and sent > 0 and got[0] == got[1] and len(got[0]) == sent,
        "two collectors: sent %d datagrams, IPv4 collector got %d, IPv6 collector got %d" % (sent, len(got[0]), len(got[1])))

def cpus_allowed(pid, tid):
    try:
        for line in open("/proc/%d/task/%d/status" % (pid, tid)):
            if line.startswith("Cpus_allowed_list:"):
                return line.split()[1]
    except OSError:
        pass
    return None


# thread affinity: a CPU beyond the machine's is refused at start
last_cpu = (os.cpu_count() or 1) - 1
empty = os.path.join(work, "empty.pcap")
with open(empty, "wb") as f:  # a pcap header, no packets
    f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
r = probe(["-i", empty, "--cpu-affinity", "1023"])
c.check(r.returncode == 2 and b"--cpu-affinity 1023" in r.stderr, "--cpu-affinity 1023: exit %d, %s" % (
    r.returncode, r.stderr.decode()[-200:]))
if shutil.which("redis-server"):
    sys.path.insert(0, os.path.join(mctest.SRC, "tests", "lib"))
    import mcredis  # noqa: E402
    srv = mcredis.Server(unix=True)
    r = probe(["-i", empty, "--redis", srv.addr, "--cloud-cpu", "1023", "-q"])
    c.check(r.returncode == 2 and b"CPU 1023" in r.stderr, "--cloud-cpu 1023: exit %d, %s" % (
        r.returncode, r.stderr.decode()[-200:]))
    if os.geteuid() == 0:
        p = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-f", "udp and port 9", "--redis", srv.addr, "-q",
                              "--cloud-cpu", str(last_cpu)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)
        cloud = [int(t) for t in os.listdir("/proc/%d/task" % p.pid)
                 if open("/proc/%d/task/%s/comm" % (p.pid, t)).read().strip() == "mcprobe-cloud"]
        c.check(len(cloud) == 1 and cpus_allowed(p.pid, cloud[0]) == str(last_cpu),
                "--cloud-cpu %d: cloud threads %s on %s" % (last_cpu, cloud, [cpus_allowed(p.pid, t) for t in cloud]))
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
    srv.stop()

# live capture on lo, then SIGINT
if os.geteuid() != 0:
    print("SKIP live capture: needs root")
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    jl, cl = os.path.join(work, "live.json"), os.path.join(work, "live.ctr")
    p = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-f", "udp and port %d" % port, "--json", jl, "--counters", cl,
                          "--stats-interval", "1", "--cpu-affinity", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(1.5)
    c.check(cpus_allowed(p.pid, p.pid) == "0", "--cpu-affinity 0: packet thread on %s" % cpus_allowed(p.pid, p.pid))
    for i in range(25):
        s.sendto(b"x" * 100, ("127.0.0.1", port))
        time.sleep(0.01)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    c.check(p.returncode == 0, "live capture: exit %d after SIGINT: %s" % (p.returncode, err.decode()[-300:]))
    c.check("stats:" in err.decode(), "live capture: no periodic stats line")
    flows = [json.loads(line) for line in open(jl)] if os.path.exists(jl) else []
    mine = [f for f in flows if f.get("destinationTransportPort") == port]
    c.check(len(mine) == 1 and mine[0]["packetDeltaCount"] == 25 and mine[0]["octetDeltaCount"] == 25 * 128
            and mine[0]["flowEndReason"] == 4, "live capture: flows %s" % mine)
    counters = dict(line.split() for line in open(cl)) if os.path.exists(cl) else {}
    c.check(int(counters.get("capture.packets", 0)) == 25, "live capture: counters %s" % counters.get("capture.packets"))
c.done()
