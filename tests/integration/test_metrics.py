#!/usr/bin/python3
"""test_metrics.py - --metrics: every counter over HTTP in Prometheus text format, scraped during a run.

mcprobe captures on `lo` (root, as in CI) with --metrics on a free loopback
port.  The test sends UDP traffic, scrapes /metrics with curl (a real HTTP
client) and parses the body with Debian's prometheus_client parser (the
format's reference implementation), twice:
  * every counter mcprobe has (the names its --counters file lists at exit)
    is a metric mcprobe_<name>_total of type counter, plus the gauges;
  * the values move between the scrapes (packets, flows created);
  * a wrong path is 404, a POST 405; a bad --metrics value or a port in use
    is a configuration error (exit 2) naming the cause.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402


def scrape(port, path="/metrics", method="GET"):
    r = subprocess.run(["curl", "-s", "-X", method, "-w", "\n%{http_code} %{content_type}", "--max-time", "5",
                        "http://127.0.0.1:%d%s" % (port, path)], stdout=subprocess.PIPE, timeout=10)
    body, _, tail = r.stdout.decode().rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return int(code or 0), ctype, body


def parse(text):
    from prometheus_client.parser import text_string_to_metric_families
    fams = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            fams[s.name] = (fam.type, s.value)
    return fams


def wait_for(port, ok, traffic, timeout=15.0):
    """Sends traffic and scrapes until ok(metrics) or timeout; returns the last metrics.  The endpoint
    answers before the capture is open, so traffic goes again each round until it shows."""
    end = time.time() + timeout
    while True:
        traffic()
        time.sleep(0.2)
        code, _, body = scrape(port)
        m = parse(body) if code == 200 else {}
        if ok(m) or time.time() > end:
            return m
        time.sleep(0.3)


def send_udp(n, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        s.sendto(b"metrics test %d" % i, ("127.0.0.1", port + (i % 7)))
    s.close()


def main():
    mctest.need_tool("curl")
    try:
        import prometheus_client.parser  # noqa: F401
    except ImportError:
        mctest.skip("python3-prometheus-client is not installed (run scripts/setup.sh)")
    if os.geteuid() != 0:
        mctest.skip("capturing on lo needs root (CI runs as root)")
    c = mctest.Checker()
    wd = tempfile.mkdtemp(prefix="mcmet")
    counters = os.path.join(wd, "counters.txt")
    port = mctest.free_port()

    # configuration errors first: exit 2, the cause named
    for spec, word in (("127.0.0.1:notaport", "port"), ("no.such.name:9100", "not an IP address")):
        r = subprocess.run([mctest.MCPROBE, "-i", "lo", "-q", "--metrics", spec], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        c.check(r.returncode == 2 and word in r.stderr.decode(), "--metrics %s: exit %d, %r" % (spec, r.returncode,
                                                                                                r.stderr.decode()))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    r = subprocess.run([mctest.MCPROBE, "-i", "lo", "-q", "--metrics", "127.0.0.1:%d" % busy.getsockname()[1]],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    busy.close()
    c.check(r.returncode == 2 and "cannot listen" in r.stderr.decode(), "--metrics on a port in use: exit %d, %r" %
            (r.returncode, r.stderr.decode()))

    probe = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-q", "--stats-interval", "0", "--no-l7",
                              "--metrics", "127.0.0.1:%d" % port, "--counters", counters, "-f", "udp"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        code = 0
        for _ in range(50):
            code, ctype, body = scrape(port)
            if code == 200:
                break
            time.sleep(0.1)
        c.check(code == 200, "the endpoint answers during the run (HTTP %d)" % code)
        c.check(ctype.startswith("text/plain; version=0.0.4"), "Prometheus text content type (%s)" % ctype)
        # snapshots are at most a second old: poll (a loaded machine, ASan) until the traffic shows
        moving = ("mcprobe_capture_packets_total", "mcprobe_flow_created_total")
        val = lambda m, name: m.get(name, (None, 0))[1]  # noqa: E731
        m1 = wait_for(port, lambda m: all(val(m, n) > 0 for n in moving), lambda: send_udp(50, 40000 + port % 1000))
        m2 = wait_for(port, lambda m: all(val(m, n) > val(m1, n) for n in moving),
                      lambda: send_udp(200, 41000 + port % 1000))
        for name in moving:
            a, b = m1.get(name, (None, -1))[1], m2.get(name, (None, -1))[1]
            c.check(a is not None and b > a > 0, "%s moves between scrapes (%s -> %s)" % (name, a, b))
        c.check(m2.get("mcprobe_flows_active", ("", 0))[0] == "gauge", "mcprobe_flows_active is a gauge")
        c.check("mcprobe_start_time_seconds" in m2 and "mcprobe_info" in m2, "start time and info gauges")
        code, _, _ = scrape(port, "/nothing")
        c.check(code == 404, "another path is 404 (%d)" % code)
        code, _, _ = scrape(port, "/metrics", "POST")
        c.check(code == 405, "POST is 405 (%d)" % code)
    finally:
        probe.terminate()
        out, err = probe.communicate(timeout=30)
    c.check(probe.returncode == 0, "mcprobe exits 0 on SIGTERM (%d): %s" % (probe.returncode, err.decode()[-300:]))
    names = [line.split()[0] for line in open(counters)] if os.path.exists(counters) else []
    c.check(len(names) > 100, "the counters file lists every counter (%d)" % len(names))
    missing = [n for n in names if m2.get("mcprobe_" + n.replace(".", "_").replace("-", "_") + "_total", ("",))[0]
               != "counter"]
    c.check(not missing, "every counter is a Prometheus counter on /metrics (%d missing: %s)" %
            (len(missing), missing[:5]))
    c.done()


if __name__ == "__main__":
    main()
