"""mcredis.py - real redis-server processes for the integration tests.

Servers listen on a unix socket in a temporary directory (or a free loopback
TCP port), save nothing, and are killed when the test ends, whatever happens.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One redis-server; .addr is what --redis takes (unix:/path or 127.0.0.1:port)."""

    def __init__(self, unix=True, port=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="mcredis")
        self.unix = unix
        self.port = port or (0 if unix else free_port())
        self.sock = os.path.join(self.dir, "redis.sock")
        self.extra = list(extra)
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--bind", "127.0.0.1"] + self.extra
        if self.unix:
            args += ["--unixsocket", self.sock]
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
        return subprocess.run(base + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=30).stdout.decode()

    def ping(self):
        try:
            return self.cli("PING").strip() == "PONG"
        except Exception:
            return False

    def client(self):
        import redis
        if self.unix:
            return redis.Redis(unix_socket_path=self.sock, decode_responses=True)
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def need_redis():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("SKIP: redis-server/redis-cli are not installed (run scripts/setup.sh)")
        raise SystemExit(77)
