#!/usr/bin/python3
"""Privileges: a refused capture says how to get them; --user drops them.

1. Run as nobody (setpriv, no capabilities), `mcprobe -i lo` cannot open the
   interface: it exits 1 (a source that cannot be read) with a message naming
   the cause (permission denied) and the three ways out: root, the
   capabilities on the program (setcap cap_net_raw,cap_net_admin=eip), or the
   systemd unit mcprobe@lo.service.
2. As root, `mcprobe -i lo --user nobody --metrics ...`: once capturing, every
   thread of the probe (the metrics server's, bound before the switch and
   started after it, included) has nobody's uid and gid, only nobody's groups, and no
   capability in its permitted, effective, inheritable or ambient sets.  It
   still captures: datagrams sent on lo are counted, and --counters is written
   at exit, as nobody, into a directory nobody may write; into a directory
   only root may write it fails (exit 1), which shows the file is opened as
   nobody.
3. --user of an unknown user, or --user when not root: exit 2 at start.
Skipped (77) when not root or setpriv is missing.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"]


def status_fields(path):
    fields = {}
    try:
        for line in open(path):
            k, _, v = line.partition(":")
            fields[k] = v.split()
    except OSError:
        pass
    return fields


def nobody_can_run():
    """True when nobody may execute the probe (a build tree under a private home may not be)."""
    p = subprocess.run(NOBODY + [mctest.MCPROBE, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        print("SKIP part: nobody cannot run %s: %s" % (mctest.MCPROBE, p.stderr.decode()[-200:]))
    return p.returncode == 0


def scrape(port):
    """True once /metrics answers (its thread is running), within 5 s."""
    import urllib.request
    end = time.time() + 5
    while time.time() < end:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                return r.status == 200
        except OSError:
            time.sleep(0.05)
    return False


def check_refused(chk):
    p = subprocess.run(NOBODY + [mctest.MCPROBE, "-i", "lo", "--stats-interval", "0"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode()
    chk.check(p.returncode == 1, "exit 1 when the interface cannot be opened (got %d)" % p.returncode)
    line = next((x for x in err.splitlines() if " error: lo: " in x), "")
    chk.check("permission denied" in line, "the cause is named: %r" % line)
    chk.check("run as root" in line, "... root as a way out")
    chk.check("setcap cap_net_raw,cap_net_admin=eip " in line, "... the capabilities with setcap")
    chk.check(os.path.realpath(mctest.MCPROBE) in line, "... on this very program")
    chk.check("mcprobe@lo.service" in line, "... the systemd unit for the interface")


def run_as_nobody(chk, counters_dir, expect_written):
    nobody = pwd.getpwnam("nobody")
    port = mctest.free_port(socket.SOCK_DGRAM)
    mport = mctest.free_port(socket.SOCK_STREAM)
    cpath = os.path.join(counters_dir, "counters.txt")
    proc = subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-f", "udp and port %d" % port, "--user", "nobody",
                             "--metrics", "127.0.0.1:%d" % mport, "--stats-interval", "0", "--counters", cpath],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = []
    try:
        ok = mctest.read_lines_until(proc, r"running as user nobody", 20, seen)
        chk.check(ok, "the probe says it runs as nobody: %r" % "".join(seen)[-400:])
        if ok:
            chk.check(scrape(mport), "the metrics server answers as nobody")
            tasks = os.listdir("/proc/%d/task" % proc.pid)
            if expect_written:
                chk.check(len(tasks) >= 2, "threads besides the packet thread (metrics): %d" % len(tasks))
            for t in tasks:
                st = status_fields("/proc/%d/task/%s/status" % (proc.pid, t))
                chk.check(st.get("Uid") == [str(nobody.pw_uid)] * 4, "thread %s: uid of nobody: %s" % (t, st.get("Uid")))
                chk.check(st.get("Gid") == [str(nobody.pw_gid)] * 4, "thread %s: gid of nobody: %s" % (t, st.get("Gid")))
                chk.check(st.get("Groups") == [str(nobody.pw_gid)], "thread %s: nobody's groups: %s" % (t, st.get("Groups")))
                for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
                    chk.check(st.get(cap) and int(st[cap][0], 16) == 0, "thread %s: %s empty: %s" % (t, cap, st.get(cap)))
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(50):
                tx.sendto(b"y" * 64, ("127.0.0.1", port))
            tx.close()
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1].decode()
    err = "".join(seen) + err
    if expect_written:
        chk.check(proc.returncode == 0, "exit 0 as nobody (got %d): %s" % (proc.returncode, err[-300:]))
        ctr = {}
        if os.path.exists(cpath):
            st = os.stat(cpath)
            chk.check(st.st_uid == nobody.pw_uid, "the counters file was created by nobody (uid %d)" % st.st_uid)
            ctr = dict((n, int(v)) for n, v in (line.split() for line in open(cpath)))
        chk.check(ctr.get("capture.packets", 0) >= 50, "it still captures: %s packets" % ctr.get("capture.packets"))
    else:
        chk.check(proc.returncode == 1 and "cannot write counters" in err and not os.path.exists(cpath),
                  "a root-only directory refuses the counters of nobody (exit %d)" % proc.returncode)


def check_user(chk):
    wd = tempfile.mkdtemp(prefix="mctuser")
    os.chmod(wd, 0o755)
    mine = os.path.join(wd, "nobody")
    os.mkdir(mine)
    os.chown(mine, pwd.getpwnam("nobody").pw_uid, -1)
    roots = os.path.join(wd, "root")
    os.mkdir(roots, 0o755)
    try:
        run_as_nobody(chk, mine, True)
        run_as_nobody(chk, roots, False)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    p = subprocess.run([mctest.MCPROBE, "-i", "lo", "--user", "no-such-user-here"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=30)
    chk.check(p.returncode == 2 and "no-such-user-here" in p.stderr.decode(), "an unknown user: exit 2 at start")
    if nobody_can_run():
        p = subprocess.run(NOBODY + [mctest.MCPROBE, "-i", "lo", "--user", "daemon"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=30)
        chk.check(p.returncode == 2 and "only root" in p.stderr.decode(), "--user when not root: exit 2 at start")


def main():
    if os.geteuid() != 0:
        mctest.skip("needs root: to become nobody, and to capture on lo")
    if not shutil.which("setpriv"):
        mctest.skip("setpriv (util-linux) is not installed")
    chk = mctest.Checker()
    if nobody_can_run():
        check_refused(chk)
    check_user(chk)
    chk.done()


main()
