#!/usr/bin/python3
"""Issue 3, acceptance 3: Redis killed, restarted and frozen during a live run.

Two probes capture the same UDP traffic on lo: A writes to a redis-server, B
has no cloud.  Hosts 127.0.0.2-11 talk before the node is SIGKILLed, hosts
12-21 while it is down and after it restarts, hosts 22-31 while it is
SIGSTOPped for 10 s.  Then:
  * A does not crash, and its flow export equals B's record for record;
  * A's peak memory stays under the documented bound for its settings;
  * hosts 12-31 hold exactly the packets and bytes B metered (A kept the
    deltas and resumed), hosts 2-11 died with the first server;
  * a second run with --cloud-max-keys 4 while the node is down drops the
    oldest deltas, and cloud.dropped.packets explains exactly what is missing.
"""
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
import mcredis  # noqa: E402

PAYLOAD = 100  # UDP payload: 128 octets per packet at the IP layer


def send(hosts, port, seconds):
    mcredis.udp_traffic(hosts, port, seconds, pps=50, payload=PAYLOAD)


def start_probe(port, work, name, extra):
    jpath = os.path.join(work, name + ".json")
    cpath = os.path.join(work, name + ".ctr")
    p = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-f", "udp and dst port %d" % port, "--json", jpath,
                          "--counters", cpath, "--stats-interval", "0", "-q", "-m", "100000"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return p, jpath, cpath


def vm_hwm_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def truth(jpath):
    per = {}
    for line in open(jpath):
        f = json.loads(line)
        a = f["sourceIPv4Address"]
        p, o = per.get(a, (0, 0))
        per[a] = (p + f["packetDeltaCount"], o + f["octetDeltaCount"])
    return per


def flows_view(jpath):
    return sorted((f["sourceIPv4Address"], f["sourceTransportPort"], f["packetDeltaCount"], f["octetDeltaCount"],
                   f["reversePacketDeltaCount"]) for f in map(json.loads, open(jpath)))


def main():
    mcredis.need_redis()
    if os.geteuid() != 0:
        mctest.skip("live capture on lo needs root")
    c = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mcfault")
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]

    # ---- run 1: kill, restart, freeze -------------------------------------
    node = mcredis.Server(unix=False)
    node.client().set("user.ip.127.0.0.5", "eve")  # a user known to the cloud: her live flow carries her
    a, ja, ca = start_probe(port, work, "a", ["--redis", node.addr, "--probe-id", "fa", "--cloud-flush-ms", "200",
                                             "--redis-timeout", "1000", "--redis-connect-timeout", "300"])
    b, jb, cb = start_probe(port, work, "b", [])
    time.sleep(1.5)
    send(range(2, 12), port, 1.5)          # H1: reaches the first server
    time.sleep(0.6)
    node.kill(signal.SIGKILL)              # everything it held is gone
    send(range(12, 22), port, 1.5)         # H2: while the node is down
    node.start()                           # same port, empty
    send(range(12, 22), port, 1.0)         # H2 again, after the restart
    time.sleep(1.0)
    node.kill(signal.SIGSTOP)
    send(range(22, 32), port, 2.0)         # H3: while the node is frozen
    time.sleep(8.0)                        # 10 s frozen in all
    node.kill(signal.SIGCONT)
    time.sleep(1.5)
    hwm = vm_hwm_kib(a.pid)
    for p in (a, b):
        p.send_signal(signal.SIGINT)
    ea = a.communicate(timeout=60)[1].decode()
    eb = b.communicate(timeout=60)[1].decode()
    c.check(a.returncode == 0 and b.returncode == 0, "exit codes %d %d: %s %s" % (a.returncode, b.returncode, ea[-300:], eb[-300:]))
    c.check(flows_view(ja) == flows_view(jb) and len(flows_view(ja)) >= 30,
            "flow export with the cloud (%d flows) differs from without (%d)" % (len(flows_view(ja)), len(flows_view(jb))))
    # documented bound: 132 B per --max-flows slot reserved but resident only when used, the cloud tables
    # (3 x --cloud-max-keys x ~100 B) and ~40 MiB of code, libraries, capture buffer and event loop
    c.check(hwm < 400 * 1024, "peak RSS %d KiB over the bound" % hwm)
    users = {f["sourceIPv4Address"]: f.get("userName") for f in map(json.loads, open(ja))}
    c.check(users.get("127.0.0.5") == "eve" and all(u == "" for ip, u in users.items() if ip != "127.0.0.5"),
            "live flows carry users %s" % {ip: u for ip, u in users.items() if u})
    want = truth(jb)
    r = node.client()
    for h in range(12, 32):
        ip = "127.0.0.%d" % h
        got = r.hgetall("ip." + ip)
        wp, wo = want.get(ip, (0, 0))
        c.check(wp > 0 and got and (int(got["sent_pkt"]), int(got["sent_bytes"])) == (wp, wo),
                "host %s: cloud %s, metered %d packets %d bytes" % (ip, got, wp, wo))
    for h in range(2, 12):
        got = r.hgetall("ip.127.0.0.%d" % h)
        c.check(not got, "host 127.0.0.%d survived its server's death: %s" % (h, got))
    ctr = dict(line.split() for line in open(ca))
    c.check(int(ctr["cloud.dropped.keys"]) == 0 and int(ctr["cloud.undrained_at_exit"]) == 0,
            "unexpected drops: %s" % {k: v for k, v in ctr.items() if k.startswith("cloud.") and v != "0"})
    c.check(int(ctr["cloud.conn.connects"]) >= 2, "no reconnection counted")
    node.stop()

    # ---- run 2: the bound is hit while the node is down -------------------
    node = mcredis.Server(unix=False)
    addr = node.addr
    node.kill(signal.SIGKILL)
    a, ja, ca = start_probe(port, work, "a2", ["--redis", addr, "--probe-id", "fb", "--cloud-flush-ms", "200",
                                              "--cloud-max-keys", "16", "--redis-connect-timeout", "300"])
    time.sleep(1.5)
    for group in range(4):                 # 40 hosts in turn, 10 at a time, more than the bound
        send(range(40 + 10 * group, 50 + 10 * group), port, 0.6)
    node.start()
    time.sleep(2.0)
    a.send_signal(signal.SIGINT)
    a.communicate(timeout=60)
    ctr = dict(line.split() for line in open(ca))
    r = node.client()
    metered = sum(p for ip, (p, o) in truth(ja).items())
    stored = sum(int(r.hget(k, "sent_pkt") or 0) for k in r.scan_iter("ip.127.0.0.*") if k != "ip.127.0.0.1")
    dropped_sent = metered - stored
    c.check(int(ctr["cloud.dropped.keys"]) > 0, "the bound was never hit: %s" % ctr.get("cloud.dropped.keys"))
    # each dropped host delta held its sent packets and 127.0.0.1's received ones: sent + rcvd = 2 x sent
    rcvd = int(r.hget("ip.127.0.0.1", "rcvd_pkt") or 0)
    c.check(int(ctr["cloud.dropped.packets"]) == dropped_sent + (metered - rcvd),
            "dropped packets %s do not explain the %d missing sent and %d missing received" % (
                ctr["cloud.dropped.packets"], dropped_sent, metered - rcvd))
    node.stop()
    c.done()


if __name__ == "__main__":
    main()
