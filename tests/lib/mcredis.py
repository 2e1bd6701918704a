"""mcredis.py - real redis-server processes for the integration tests.

Servers listen on a unix socket in a temporary directory (or a free loopback
TCP port), save nothing, and are killed when the test ends, whatever happens.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from mctest import SRC as _SRC, free_port  # noqa: F401 (tests use mcredis.free_port)

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass


atexit.register(_cleanup)


class Server:
    """One redis-server; .addr is what --redis takes (unix:/path or 127.0.0.1:port)."""

    def __init__(self, unix=True, port=None, extra=(), password=None):
        self.dir = tempfile.mkdtemp(prefix="mcredis")
        self.unix = unix
        self.port = port or (0 if unix else free_port())
        self.sock = os.path.join(self.dir, "redis.sock")
        self.password = password
        self.extra = list(extra) + (["--requirepass", password] if password else [])
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--bind", "127.0.0.1"] + self.extra
        if self.unix:
            args += ["--unixsocket", self.sock, "--unixsocketperm", "700"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(self.proc)
        for _ in range(200):
            if self.ping():
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    @property
    def addr(self):
        return "unix:" + self.sock if self.unix else "127.0.0.1:%d" % self.port

    def cli(self, *args):
        base = ["redis-cli", "-s", self.sock] if self.unix else ["redis-cli", "-p", str(self.port)]
        if self.password:
            base += ["--no-auth-warning", "-a", self.password]
        return subprocess.run(base + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=30).stdout.decode()

    def ping(self):
        try:
            return self.cli("PING").strip() == "PONG"
        except Exception:
            return False

    def client(self, decode=True):
        """A redis.Redis on this server (decode=False: replies as bytes)."""
        import redis
        where = {"unix_socket_path": self.sock} if self.unix else {"host": "127.0.0.1", "port": self.port}
        return redis.Redis(password=self.password, decode_responses=decode, socket_timeout=5, **where)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def documented_patterns():
    """The key and channel patterns docs/CLOUD.md documents, read from the page itself (documenting a
    key is what makes it acceptable here): the first cell of each row of its Keys table and the
    channel cell of its Events table, each `<placeholder>` standing for any text without spaces."""
    text = open(os.path.join(_SRC, "docs", "CLOUD.md"), encoding="utf-8").read()
    pats = []
    for section, cell in (("\n## Keys\n", 1), ("\n## Events\n", 2)):
        body = text.split(section, 1)[1].split("\n## ", 1)[0]
        for line in body.splitlines():
            cells = line.split("|")
            if not line.startswith("| `") or len(cells) <= cell:
                continue
            for name in re.findall(r"`([^`]+)`", cells[cell]):
                pats.append("".join(r"\S+" if part.startswith("<") else re.escape(part)
                                    for part in re.split(r"(<[^>]+>)", name)))
    return pats


def need_redis():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("SKIP: redis-server/redis-cli are not installed (run scripts/setup.sh)")
        raise SystemExit(77)


class Cluster:
    """A Redis Cluster of n masters on loopback, made with redis-cli --cluster create."""

    def __init__(self, n=3):
        self.nodes = []
        for _ in range(n):
            for attempt in range(20):
                port = free_port()
                if port < 55536 and _port_free(port + 10000):
                    break
            self.nodes.append(Server(unix=False, port=port, extra=[
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]))
        r = subprocess.run(["redis-cli", "--cluster", "create"] + ["127.0.0.1:%d" % s.port for s in self.nodes] +
                           ["--cluster-replicas", "0", "--cluster-yes"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("redis-cli --cluster create: " + r.stdout.decode()[-400:])
        for _ in range(300):
            if all("cluster_state:ok" in s.cli("cluster", "info") for s in self.nodes):
                return
            time.sleep(0.05)
        raise RuntimeError("the cluster never reached cluster_state:ok")

    @property
    def seed(self):
        return "127.0.0.1:%d" % self.nodes[0].port

    def client(self):
        from redis.cluster import RedisCluster
        return RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True)

    def node_id(self, i):
        return self.nodes[i].cli("cluster", "myid").strip()

    def reshard(self, src, dst, slots):
        """Moves slots hash slots from master src to master dst (live, keys migrated)."""
        r = subprocess.run(["redis-cli", "--cluster", "reshard", self.seed, "--cluster-from", self.node_id(src),
                            "--cluster-to", self.node_id(dst), "--cluster-slots", str(slots), "--cluster-yes"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("reshard failed: " + r.stdout.decode()[-400:])

    def stop(self):
        for s in self.nodes:
            s.stop()


def _port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def udp_traffic(hosts, port, seconds, pps=50, payload=100):
    """Each 127.0.0.<h> sends pps datagrams per second of payload bytes to 127.0.0.1:port."""
    socks = []
    for h in hosts:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.%d" % h, 0))
        socks.append(s)
    end = time.time() + seconds
    while time.time() < end:
        for s in socks:
            s.sendto(b"x" * payload, ("127.0.0.1", port))
        time.sleep(1.0 / pps)
    for s in socks:
        s.close()
