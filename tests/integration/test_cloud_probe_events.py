#!/usr/bin/python3
"""Issue 12: the cloud sees probes come and go.  Against real redis-server
processes:

* a probe that finds its node at start publishes `events.probe.start` (probe
  id, host, pid, source, version, start time, export version, collectors)
  and, after its last write, `events.probe.stop`, whose counters equal the
  probe's own --counters file (packets, drops, flows exported, cloud keys
  written, dropped, unwritten at exit); both reach a PSUBSCRIBE subscriber
  and the `events` stream (XRANGE, and `mcquery replay`), stop last;
* its `probe.<id>` hash ends with the final values (the last heartbeat is
  written after the last flush: no stale pending count);
* a probe whose node is down at start publishes `probe.start` once, when
  the node first comes up, with its real start time;
* a node that stops answering before the end does not hold the exit past
  the exit wait (5 s), and does not keep probe.stop and the last heartbeat
  from the node that answers, whose counts (unwritten keys included) are
  the counters'.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402
import mcpy  # noqa: E402  (python/ on the path, for mcquery)

CAPTURE = "mixed/ndpi_1kxun.pcap"
EXIT_WAIT_S = 5.0   # the probe's drain_timeout_ms (src/cloud/cloud.c), docs/CLOUD.md "At exit"
REDIS_TIMEOUT_S = 2.0  # --redis-timeout: a file's last user lookups are awaited until a node is seen silent

c = mctest.Checker()


def read_counters(path):
    out = {}
    for line in open(path):
        name, value = line.split()
        out[name] = int(value)
    return out


def pcap_records(path):
    """(global header, [record bytes]) of a little-endian pcap file."""
    data = open(path, "rb").read()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        mctest.skip("%s: not a little-endian microsecond pcap" % path)
    recs, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        recs.append(data[off:off + 16 + incl])
        off += 16 + incl
    return data[:24], recs


def stream_events(r, etype):
    return [(eid, json.loads(f["data"])) for eid, f in r.xrange("events") if f.get("type") == etype]


def pubsub_messages(ps, quiet=1.0):
    """Every pmessage received until none came for `quiet` seconds: [(channel, payload)]."""
    got, last = [], time.monotonic()
    while time.monotonic() - last < quiet:
        m = ps.get_message(timeout=0.1)
        if m and m["type"] == "pmessage":
            got.append((m["channel"], json.loads(m["data"])))
            last = time.monotonic()
    return got


def wait_for(fn, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def check_stop(tag, stop, ctr, run_s):
    """The stop event's counters are the probe's own, as its --counters file has them."""
    want = {"packets": ctr.get("capture.packets"),
            "drops": ctr.get("capture.kernel_drops", 0) + ctr.get("capture.if_drops", 0),
            "flows_exported": ctr.get("flow.exported"),
            "cloud_keys_written": ctr.get("cloud.keys_written"),
            "cloud_dropped_keys": ctr.get("cloud.dropped.keys"),
            "cloud_dropped_packets": ctr.get("cloud.dropped.packets"),
            "cloud_unwritten": ctr.get("cloud.undrained_at_exit")}
    diff = {k: (stop.get(k), v) for k, v in want.items() if stop.get(k) != v}
    c.check(not diff, "%s: probe.stop counters differ from --counters (event, file): %s" % (tag, diff))
    c.check(want["packets"] and want["flows_exported"], "%s: nothing metered: %s" % (tag, want))
    run_ms = stop.get("run_ms")
    c.check(isinstance(run_ms, int) and 0 <= run_ms <= run_s * 1000 + 100,
            "%s: probe.stop run_ms %r for a run of %.1f s" % (tag, run_ms, run_s))
    c.check(stop.get("ts", 0) >= stop.get("started", 1 << 62), "%s: probe.stop ts before started: %s" % (tag, stop))


def reachable(cap, tmp):
    """The node is up from the start: both events, stream and pub/sub, and the final heartbeat."""
    srv = mcredis.Server(unix=True)
    r = srv.client()
    ps = r.pubsub()
    ps.psubscribe("events.probe.*")
    wait_for(lambda: (ps.get_message(timeout=0.1) or {}).get("type") == "psubscribe", 5)
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    cpath = os.path.join(tmp, "counters-a.txt")
    args = [mctest.MCPROBE, "--stats-interval", "0", "-q", "-i", cap, "--redis", srv.addr, "--probe-id", "evt-a",
            "--cloud-flush-ms", "100", "-V", "9", "-n", "127.0.0.1:%d" % collector.getsockname()[1],
            "--counters", cpath]
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.communicate(timeout=120)[1].decode(errors="replace")
    run_s = time.monotonic() - t0
    c.check(p.returncode == 0, "reachable: mcprobe exit %d: %s" % (p.returncode, err[-400:]))
    ctr = read_counters(cpath)
    heart = r.hgetall("probe.evt-a")  # read at once: it expires 3 heartbeats after the last

    msgs = pubsub_messages(ps)
    ps.close()
    starts = [d for ch, d in msgs if ch == "events.probe.start"]
    stops = [d for ch, d in msgs if ch == "events.probe.stop"]
    c.check(len(starts) == 1 and len(stops) == 1,
            "reachable: %d probe.start and %d probe.stop published, want 1 each: %s" % (len(starts), len(stops),
                                                                                     [ch for ch, _ in msgs]))
    xs, xe = stream_events(r, "probe.start"), stream_events(r, "probe.stop")
    c.check(len(xs) == 1 and len(xe) == 1, "reachable: stream holds %d probe.start, %d probe.stop" % (len(xs), len(xe)))
    if not (xs and xe):
        return
    start, stop = xs[0][1], xe[0][1]
    c.check(starts[:1] == [start] and stops[:1] == [stop], "reachable: pub/sub and stream payloads differ")
    ids = [eid for eid, _ in r.xrange("events")]
    c.check(ids[-1] == xe[0][0], "reachable: probe.stop is not the stream's last entry (%s of %s)" % (xe[0][0], ids[-3:]))
    c.check(ids.index(xs[0][0]) < ids.index(xe[0][0]), "reachable: probe.start after probe.stop")

    # probe.start: who, where, what
    version = subprocess.run([mctest.MCPROBE, "--version"], stdout=subprocess.PIPE).stdout.decode()
    want = {"probe": "evt-a", "host": socket.gethostname(), "pid": p.pid, "source": cap, "export": 9,
            "collectors": 1, "nodes": 1, "cluster": False}
    diff = {k: (start.get(k), v) for k, v in want.items() if start.get(k) != v}
    c.check(not diff, "reachable: probe.start fields (event, expected): %s" % diff)
    c.check(start.get("version") and start["version"] in version and start["version"] == heart.get("version"),
            "reachable: probe.start version %r, mcprobe --version %r, heartbeat %r" % (
                start.get("version"), version.strip(), heart.get("version")))
    c.check(str(start.get("started")) == heart.get("started") and start.get("started") == stop.get("started"),
            "reachable: started differs: start %r stop %r heartbeat %r" % (
                start.get("started"), stop.get("started"), heart.get("started")))
    for k in ("probe", "host", "pid", "source", "version"):
        c.check(stop.get(k) == start.get(k), "reachable: probe.stop %s %r, probe.start %r" % (k, stop.get(k), start.get(k)))

    check_stop("reachable", stop, ctr, run_s)

    # the probe hash ends with the final values, written after the last flush
    want = {"packets": ctr["capture.packets"], "flows_exported": ctr["flow.exported"], "flows_active": 0,
            "drops": ctr.get("capture.kernel_drops", 0) + ctr.get("capture.if_drops", 0),
            "cloud_dropped_keys": ctr["cloud.dropped.keys"], "cloud_dropped_packets": ctr["cloud.dropped.packets"],
            "cloud_pending_keys": ctr["cloud.undrained_at_exit"]}
    diff = {k: (heart.get(k), v) for k, v in want.items() if heart.get(k) != str(v)}
    c.check(not diff, "reachable: final probe.evt-a heartbeat differs from --counters (hash, file): %s" % diff)
    c.check(int(heart.get("heartbeat", 0)) >= stop["ts"],
            "reachable: last heartbeat %s before probe.stop %s" % (heart.get("heartbeat"), stop["ts"]))

    # mcquery shows them
    out = subprocess.run(mcpy.MCQUERY + ["--redis", srv.addr, "replay", "--raw"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    lines = out.stdout.decode().splitlines()
    mine = [line for line in lines if " probe.start " in line or " probe.stop " in line]
    c.check(out.returncode == 0 and len(mine) == 2 and " probe.stop " in mine[-1] and
            '"flows_exported": %d' % ctr["flow.exported"] in mine[-1],
            "reachable: mcquery replay: rc %d, %r %s" % (out.returncode, mine, out.stderr.decode()[-300:]))
    srv.stop()


def late_node(cap, tmp):
    """The node is down at start and comes up later: probe.start once, when it first can be written,
    with the probe's start time; probe.stop at the end, as always."""
    header, recs = pcap_records(cap)
    port = mcredis.free_port()
    cpath = os.path.join(tmp, "counters-b.txt")
    t_begin = int(time.time() * 1000)
    p = subprocess.Popen([mctest.MCPROBE, "--stats-interval", "0", "-q", "-i", "/dev/stdin", "--redis",
                          "127.0.0.1:%d" % port, "--probe-id", "evt-b", "--cloud-flush-ms", "100", "--counters", cpath],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    half = len(recs) // 2
    p.stdin.write(header + b"".join(recs[:half]))
    p.stdin.flush()
    time.sleep(1.0)  # the probe runs, meters, and finds no node
    t_up = int(time.time() * 1000)
    srv = mcredis.Server(unix=False, port=port)
    r = srv.client()
    got = wait_for(lambda: stream_events(r, "probe.start"), 15)  # reconnection backs off up to 5 s
    c.check(len(got) == 1, "late node: %d probe.start within 15 s of the node coming up" % len(got))
    p.stdin.write(b"".join(recs[half:]))
    p.stdin.close()
    err = p.stderr.read().decode(errors="replace")
    p.wait(timeout=60)
    c.check(p.returncode == 0, "late node: mcprobe exit %d: %s" % (p.returncode, err[-400:]))
    ctr = read_counters(cpath)
    starts, stops = stream_events(r, "probe.start"), stream_events(r, "probe.stop")
    c.check(len(starts) == 1 and len(stops) == 1,
            "late node: stream holds %d probe.start, %d probe.stop, want 1 each" % (len(starts), len(stops)))
    if starts:
        sid, start = starts[0]
        c.check(t_begin <= start.get("started", 0) < t_up,
                "late node: probe.start started %r, not the probe's start (between %d and %d)" % (
                    start.get("started"), t_begin, t_up))
        c.check(int(sid.split("-")[0]) >= t_up, "late node: probe.start stream id %s before the node was up (%d)" % (
            sid, t_up))
    if stops:
        check_stop("late node", stops[0][1], ctr, (int(time.time() * 1000) - t_begin) / 1000.0)
    srv.stop()


def same_node_prefix(nodes):
    """A --cloud-prefix under which the probe's hash, the events stream and both probe channels of
    probe id evt-c live on one node of `nodes` (mcprobe --cloud-locate): (prefix, node index)."""
    names = ("probe.evt-c", "events", "events.probe.start", "events.probe.stop")
    for i in range(400):
        prefix = "t%d:" % i
        out = subprocess.run([mctest.MCPROBE, "--redis", nodes] + sum([["--cloud-locate", prefix + n] for n in names], []),
                             stdout=subprocess.PIPE, check=True).stdout.decode().split()
        where = {int(out[k + 1]) for k in range(0, len(out), 3)}
        if len(where) == 1:
            return prefix, where.pop()
    mctest.skip("no prefix puts the probe's keys on one node")


def silent_node(cap, tmp):
    """Two nodes; the one without the probe's hash and events stops answering before the end: the exit
    waits no longer than the exit wait, and probe.stop and the last heartbeat, on the node that answers,
    carry the final counts, unwritten keys included."""
    header, recs = pcap_records(cap)
    servers = [mcredis.Server(unix=False) for _ in range(2)]
    nodes = ",".join(s.addr for s in servers)
    prefix, live = same_node_prefix(nodes)
    r, silent = servers[live].client(), servers[1 - live]
    cpath = os.path.join(tmp, "counters-c.txt")
    p = subprocess.Popen([mctest.MCPROBE, "--stats-interval", "0", "-q", "-i", "/dev/stdin", "--redis", nodes,
                          "--cloud-prefix", prefix, "--probe-id", "evt-c", "--cloud-flush-ms", "100",
                          "--counters", cpath], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stdin.write(header + b"".join(recs[:len(recs) // 2]))
    p.stdin.flush()
    key = prefix + "events"
    starts = lambda: [f for _, f in r.xrange(key) if f.get("type") == "probe.start"]  # noqa: E731
    c.check(bool(wait_for(starts, 10)), "silent node: no probe.start")
    silent.kill(signal.SIGSTOP)
    try:
        p.stdin.write(b"".join(recs[len(recs) // 2:]))
        t0 = time.monotonic()
        p.stdin.close()
        err = p.stderr.read().decode(errors="replace")
        p.wait(timeout=60)
        took = time.monotonic() - t0
        heart = r.hgetall(prefix + "probe.evt-c")
        stops = [json.loads(f["data"]) for _, f in r.xrange(key) if f.get("type") == "probe.stop"]
    finally:
        silent.kill(signal.SIGCONT)
    c.check(p.returncode == 0, "silent node: mcprobe exit %d: %s" % (p.returncode, err[-400:]))
    c.check(took <= REDIS_TIMEOUT_S + EXIT_WAIT_S + 1.5, "silent node: the exit took %.1f s, want at most the "
            "lookups' wait (%.0f s) and the exit wait (%.0f s)" % (took, REDIS_TIMEOUT_S, EXIT_WAIT_S))
    ctr = read_counters(cpath)
    c.check(ctr.get("cloud.undrained_at_exit", 0) > 0, "silent node: nothing left unwritten: %s" % {
        k: v for k, v in ctr.items() if k.startswith("cloud.")})
    c.check(len(stops) == 1, "silent node: %d probe.stop on the node that answers" % len(stops))
    if stops:
        check_stop("silent node", stops[0], ctr, 120)
    want = {"packets": ctr["capture.packets"], "flows_exported": ctr["flow.exported"], "flows_active": 0,
            "cloud_dropped_keys": ctr["cloud.dropped.keys"], "cloud_pending_keys": ctr["cloud.undrained_at_exit"]}
    diff = {k: (heart.get(k), v) for k, v in want.items() if heart.get(k) != str(v)}
    c.check(not diff, "silent node: last heartbeat differs from --counters (hash, file): %s" % diff)
    c.check("probe.stop" not in err, "silent node: probe.stop reported unwritten: %s" % err[-300:])
    for s in servers:
        s.stop()


def main():
    mcredis.need_redis()
    mctest.need_corpus()
    try:
        import redis  # noqa: F401
    except ImportError:
        mctest.skip("python3-redis is not installed")
    cap = os.path.join(mctest.CORPUS, CAPTURE)
    if not os.path.exists(cap):
        mctest.skip("%s is not in the corpus" % CAPTURE)
    tmp = tempfile.mkdtemp(prefix="mcevt")
    reachable(cap, tmp)
    late_node(cap, tmp)
    silent_node(cap, tmp)
    c.done()


if __name__ == "__main__":
    main()
