#!/usr/bin/python3
"""mccollector's interface: --help, the config file, its docs in sync, signals, exit codes.

  * every option of --help is in docs/mccollector.md, whose OPTIONS block is
    --help itself, and docs/mccollector.conf is --dump-config (scripts/sync-docs);
  * every counter it writes (--counters) is documented in docs/COLLECTOR.md;
  * a config file sets options, the command line overrides it;
  * bad options and no input at all: exit 2; a store that cannot be opened:
    exit 1 with the cause; SIGUSR1 prints a statistics line, SIGHUP reopens
    --json (a rotated file is written again), SIGTERM: exit 0, the counters
    written, the store holding every flow received.
"""
import os
import re
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


def run(args, timeout=30):
    return subprocess.run([MCCOLLECTOR] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def nf5_datagram(seq, n=2):
    """A NetFlow v5 datagram of n records (10.0.0.k -> 192.0.2.1:443, TCP)."""
    import struct
    now = int(time.time())
    hdr = struct.pack("!HHIIIIBBH", 5, n, 100000, now, 0, seq, 0, 0, 0)
    recs = b""
    for k in range(n):
        recs += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", bytes([10, 0, 0, 1 + k]), bytes([192, 0, 2, 1]),
                            bytes(4), 1, 2, 3, 300, 90000, 95000, 40000 + k, 443, 0, 0x1b, 6, 0, 0, 0, 0, 0, 0)
    return hdr + recs


def documented(doc, name):
    """`name` in the doc, or its last part as `.last` on a table line naming `prefix.`."""
    if "`%s`" % name in doc:
        return True
    prefix, _, last = name.rpartition(".")
    return any("`.%s`" % last in line and "`%s." % prefix in line for line in doc.splitlines())


def main():
    if not os.path.exists(MCCOLLECTOR):
        mctest.skip("mccollector is not built at %s" % MCCOLLECTOR)
    c = mctest.Checker()
    work = tempfile.mkdtemp(prefix="mcccli")
    manual = open(os.path.join(mctest.SRC, "docs", "mccollector.md")).read()
    helptext = run(["--help"]).stdout.decode()
    for opt in re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", helptext, re.M):
        c.check(opt in manual, "option %s is in docs/mccollector.md" % opt)
    c.check(helptext in manual, "docs/mccollector.md's OPTIONS block is --help (run scripts/sync-docs)")
    conf = run(["--dump-config"]).stdout.decode()
    c.check(conf == open(os.path.join(mctest.SRC, "docs", "mccollector.conf")).read(),
            "docs/mccollector.conf is --dump-config (run scripts/sync-docs)")
    c.check(run(["--version"]).stdout.decode().startswith("mccollector "), "--version")

    # exit codes
    p = run(["--no-such-option"])
    c.check(p.returncode == 2 and b"--help" in p.stderr, "an unknown option: exit 2, pointing to --help")
    p = run(["-p", "0"])
    c.check(p.returncode == 2 and b"no input" in p.stderr, "no input at all: exit 2")
    p = run(["--retention", "7x"])
    c.check(p.returncode == 2, "a bad duration: exit 2")
    p = run(["-p", str(mctest.free_port(socket.SOCK_DGRAM)), "--store", "/nonexistent-dir/flows.db"])
    c.check(p.returncode == 1 and b"flows.db" in p.stderr, "a store that cannot be opened: exit 1, named (%r)" %
            p.stderr.decode()[-200:])

    # a config file, overridden by the command line; the run itself
    port = mctest.free_port(socket.SOCK_DGRAM)
    cfg = os.path.join(work, "mccollector.conf")
    db, jpath, cpath = (os.path.join(work, x) for x in ("flows.db", "flows.json", "counters.txt"))
    with open(cfg, "w") as f:
        f.write("# test\nport 1\nbind 127.0.0.1\nstore %s\nstats-interval 0\n" % db)
    proc = subprocess.Popen([MCCOLLECTOR, "-c", cfg, "-p", str(port), "--json", jpath, "--counters", cpath],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = []
    ok = mctest.read_lines_until(proc, r"listening on 127\.0\.0\.1: NetFlow/IPFIX UDP %d" % port, 10, seen)
    c.check(ok, "the config file's bind and the command line's port: %r" % "".join(seen)[-300:])
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.sendto(nf5_datagram(0), ("127.0.0.1", port))
    time.sleep(0.3)
    os.rename(jpath, jpath + ".1")  # logrotate's move ...
    proc.send_signal(signal.SIGHUP)  # ... and its postrotate
    time.sleep(0.3)
    tx.sendto(nf5_datagram(2), ("127.0.0.1", port))
    time.sleep(0.3)
    proc.send_signal(signal.SIGUSR1)
    ok = mctest.read_lines_until(proc, r"stats: datagrams 2 .*records 4", 5, seen)
    c.check(ok, "SIGUSR1: a statistics line now: %r" % "".join(seen)[-300:])
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=30)[1].decode()
    c.check(proc.returncode == 0, "SIGTERM: exit 0 (%d): %s" % (proc.returncode, err[-200:]))
    old = [x for x in open(jpath + ".1")] if os.path.exists(jpath + ".1") else []
    new = [x for x in open(jpath)] if os.path.exists(jpath) else []
    c.check(len(old) == 2 and len(new) == 2, "SIGHUP: two records before the rotation, two in the new file "
            "(%d, %d)" % (len(old), len(new)))
    rows = sqlite3.connect(db).execute("SELECT COUNT(*), SUM(packets), MIN(src_port) FROM flows").fetchone()
    c.check(rows == (4, 12, 40000), "the store holds the 4 flows at exit: %r" % (rows,))

    # every counter written is documented
    names = [line.split()[0] for line in open(cpath)] if os.path.exists(cpath) else []
    c.check(any(n == "collector.nf5.packets" for n in names), "--counters written at exit")
    coll_doc = open(os.path.join(mctest.SRC, "docs", "COLLECTOR.md")).read()
    probe_doc = open(os.path.join(mctest.SRC, "docs", "mcprobe.md")).read()
    for n in names:
        probes = n.startswith(("decode.", "cloud.conn.", "cloud.key_lookup"))  # the probe's parts, its manual
        doc = probe_doc if probes else coll_doc
        c.check(documented(doc, n), "counter %s is documented (%s)" %
                (n, "docs/mcprobe.md" if probes else "docs/COLLECTOR.md"))
    c.done()


if __name__ == "__main__":
    main()
