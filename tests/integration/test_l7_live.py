#!/usr/bin/python3
"""Acceptance 2 of the application-layer issue, live on lo.

Real servers from Debian, started here on loopback: dnsmasq (answers
www.example.test, says NXDOMAIN for the rest of .test), nginx (keep-alive:
several requests on one connection, a 404 among them) and mariadb-server
(a login, queries, a failing query).  Real clients: dig, curl, mariadb.
While `mcprobe -i lo --redis ... --l7-log ...` runs, the test makes a known
set of requests, then checks, within one flush interval:
  * the transaction log has every request, with the fields the clients saw;
  * the cloud aggregates equal what the test did: dns.name.<q> queries and
    nxdomain, dns.top.<minute> scores, http.host.<h> requests and status
    classes, mysql.server.<addr>:<port> logins, queries and errors.
Skipped (77) when not root (capture on lo) or a partner is missing.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mcredis  # noqa: E402
import mctest  # noqa: E402

FLUSH_MS = 300
DNS_ADDR = "127.0.1.53"
_procs = []


def cleanup():
    for p in _procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _procs.append(p)
    return p


def wait_port(port, host="127.0.0.1", timeout=30):
    import socket
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start_dnsmasq(wd):
    p = start(["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=53", "--listen-address=" + DNS_ADDR,
               "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/",
               "--address=/www.example.test/127.0.0.7", "--pid-file=" + os.path.join(wd, "dnsmasq.pid"),
               "--user=root"])
    time.sleep(0.5)
    if p.poll() is not None:
        mctest.skip("dnsmasq did not start: " + p.stderr.read().decode()[-300:])


def start_nginx(wd, port):
    root = os.path.join(wd, "www")
    os.makedirs(root)
    open(os.path.join(root, "index.html"), "w").write("hello\n" * 100)
    open(os.path.join(root, "a.txt"), "w").write("a" * 5000)
    conf = os.path.join(wd, "nginx.conf")
    open(conf, "w").write("""
daemon off; master_process off; worker_processes 1; pid %(wd)s/nginx.pid; error_log %(wd)s/error.log;
events { worker_connections 64; }
http { access_log off; client_body_temp_path %(wd)s; proxy_temp_path %(wd)s; fastcgi_temp_path %(wd)s;
       uwsgi_temp_path %(wd)s; scgi_temp_path %(wd)s; keepalive_requests 100; default_type text/plain;
       server { listen 127.0.0.1:%(port)d; server_name web.test; root %(root)s; } }
""" % {"wd": wd, "port": port, "root": root})
    start(["nginx", "-c", conf, "-p", wd])
    if not wait_port(port):
        mctest.skip("nginx did not start")


def start_mariadb(wd, port):
    data = os.path.join(wd, "db")
    r = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + data, "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    if r.returncode != 0:
        mctest.skip("mariadb-install-db failed: " + r.stdout.decode()[-300:])
    start(["mariadbd", "--no-defaults", "--datadir=" + data, "--user=root", "--port=%d" % port,
           "--bind-address=127.0.0.1", "--socket=" + os.path.join(wd, "db.sock"), "--skip-log-bin",
           "--innodb-buffer-pool-size=16M", "--pid-file=" + os.path.join(wd, "db.pid")])
    if not wait_port(port, timeout=60):
        mctest.skip("mariadbd did not start")


def mysql(port, sql, user="root", db=None):
    args = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", user, "--skip-ssl", "-N", "-e", sql]
    if db:
        args += ["-D", db]
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


def top_over(r, first, last):
    """dns.top.<minute> scores summed over the minutes the queries may have spanned (a minute may turn
    while they run: each query counts in its own minute's key)."""
    top = {}
    for m in range(first, last + 1):
        for name, score in r.zrange("dns.top.%d" % m, 0, -1, withscores=True):
            top[name] = top.get(name, 0.0) + score
    return top


def main():
    if os.geteuid() != 0:
        mctest.skip("live capture on lo needs root")
    for tool in ("dnsmasq", "dig", "nginx", "curl", "mariadbd", "mariadb", "mariadb-install-db", "redis-server"):
        mctest.need_tool(tool)
    wd = tempfile.mkdtemp(prefix="mcl7live")
    try:
        run(wd)
    finally:
        cleanup()
        shutil.rmtree(wd, ignore_errors=True)


def run(wd):
    import redis
    c = mctest.Checker()
    http_port, db_port = mcredis.free_port(), mcredis.free_port()
    start_dnsmasq(wd)
    start_nginx(wd, http_port)
    start_mariadb(wd, db_port)
    srv = mcredis.Server(unix=True)
    r = redis.Redis(unix_socket_path=srv.sock, decode_responses=True)
    log = os.path.join(wd, "l7.json")
    bpf = "host %s or port %d or port %d" % (DNS_ADDR, http_port, db_port)
    probe = start([mctest.MCPROBE, "-i", "lo", "-f", bpf, "--redis", srv.addr, "--l7-log", log,
                   "--cloud-flush-ms", str(FLUSH_MS), "--stats-interval", "0", "-q", "-d", "2"])
    time.sleep(1.5)  # capture open

    # --- what the test does (and so what every aggregate must say) ---
    names = {"www.example.test": 3, "nothere.example.test": 2}
    minute = int(time.time()) // 60  # the first minute the queries may count in
    dig_ok = 0
    for name, n in names.items():
        for _ in range(n):
            out = subprocess.run(["dig", "@" + DNS_ADDR, "-p", "53", "+tries=1", "+time=2", name, "A"],
                                 stdout=subprocess.PIPE, timeout=10).stdout.decode()
            dig_ok += "status: NOERROR" in out or "status: NXDOMAIN" in out
    c.check(dig_ok == 5, "dig got 5 answers from dnsmasq (%d)" % dig_ok)
    base = "http://127.0.0.1:%d" % http_port
    # one keep-alive connection, four requests (curl reuses the connection for URLs given together)
    urls = [base + u for u in ("/", "/a.txt", "/missing", "/index.html")]
    cr = subprocess.run(["curl", "-s", "-H", "Host: web.test", "-w", "\\n=%{http_code} %{num_connects}\\n"]
                        + [a for u in urls for a in ("-o", "/dev/null", u)],
                        stdout=subprocess.PIPE, timeout=20).stdout.decode()
    res = [line[1:].split() for line in cr.splitlines() if line.startswith("=")]
    codes = [x[0] for x in res]
    connects = sum(int(x[1]) for x in res)
    c.check(codes == ["200", "200", "404", "200"], "curl status codes %s" % codes)
    c.check(connects == 1, "curl used one keep-alive connection (%d connects)" % connects)
    ok = mysql(db_port, "SELECT 1; SELECT VERSION();")
    c.check(ok.returncode == 0, "mariadb queries ran: %s" % ok.stderr.decode()[-200:])
    bad = mysql(db_port, "SELECT * FROM no_such_table;", db="mysql")
    c.check(bad.returncode != 0 and b"1146" in bad.stderr, "mariadb reported error 1146")

    # --- within one flush interval (plus the capture's own latency) ---
    time.sleep(FLUSH_MS / 1000.0 * 2 + 1.0)
    got = {}
    deadline = time.time() + 5
    while time.time() < deadline:
        got = {
            "www": r.hgetall("dns.name.www.example.test"),
            "nx": r.hgetall("dns.name.nothere.example.test"),
            "top": top_over(r, minute, int(time.time()) // 60),
            "http": r.hgetall("http.host.web.test"),
            "db": r.hgetall("mysql.server.127.0.0.1:%d" % db_port),
        }
        if got["www"].get("queries") == "3" and got["http"].get("requests") == "4" and got["db"].get("errors"):
            break
        time.sleep(0.2)
    probe.send_signal(signal.SIGTERM)
    probe.wait(timeout=30)

    www, nx, top, http, db = got["www"], got["nx"], got["top"], got["http"], got["db"]
    c.check(www.get("queries") == "3" and www.get("responses") == "3", "dns.name.www.example.test %s" % www)
    c.check(nx.get("queries") == "2" and nx.get("nxdomain") == "2", "dns.name.nothere.example.test %s" % nx)
    c.check(top.get("www.example.test") == 3.0 and top.get("nothere.example.test") == 2.0,
            "dns.top from minute %d %s" % (minute, top))
    c.check(r.ttl("dns.name.www.example.test") > 0, "dns.name keys expire")
    c.check(http.get("requests") == "4" and http.get("status_2xx") == "3" and http.get("status_4xx") == "1",
            "http.host.web.test %s" % http)
    c.check(db.get("logins") == "2" and db.get("errors") == "1" and int(db.get("queries", "0")) >= 3,
            "mysql.server.127.0.0.1:%d %s" % (db_port, db))

    # --- the transaction log has every request ---
    tx = [json.loads(line) for line in open(log) if line.strip()] if os.path.exists(log) else []
    dns = [t for t in tx if t.get("protocol") == "dns"]
    for name, n in names.items():
        m = [t for t in dns if t.get("dnsQueryName") == name]
        c.check(len(m) == n, "%d DNS transactions for %s (%d)" % (n, name, len(m)))
    c.check(sum(1 for t in dns if t.get("dnsResponseCode") == 3) == 2, "2 NXDOMAIN transactions")
    web = [t for t in tx if t.get("protocol") == "http"]
    c.check([t.get("httpRequestTarget") for t in web] == ["/", "/a.txt", "/missing", "/index.html"],
            "HTTP targets in order: %s" % [t.get("httpRequestTarget") for t in web])
    c.check([t.get("httpStatusCode") for t in web] == [200, 200, 404, 200],
            "HTTP status codes: %s" % [t.get("httpStatusCode") for t in web])
    c.check(len({(t["sourceTransportPort"]) for t in web}) == 1, "HTTP transactions share one connection")
    sql = [t for t in tx if t.get("protocol") == "mysql"]
    queries = [t.get("mysqlQuery") for t in sql if t.get("mysqlQuery")]
    c.check(any("SELECT 1" in q for q in queries) and any("no_such_table" in q for q in queries),
            "MySQL queries logged: %s" % queries)
    c.check(any(t.get("mysqlErrorCode") == 1146 for t in sql), "MySQL error 1146 logged")
    c.check(sum(1 for t in sql if t.get("mysqlUser") == "root") >= 2, "MySQL logins as root logged")
    c.done()


if __name__ == "__main__":
    main()
