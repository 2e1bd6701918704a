#!/usr/bin/python3
"""test_package.py - the Debian package: built with cpack, installed with dpkg -i, used.

What an operator does on a fresh Debian 12, checked in order:
  1. `cpack -G DEB` from the build directory makes microcloud_<ver>_<arch>.deb
     holding the probe, mcquery, the Python package, both man pages, the
     configuration (a conffile) and the systemd unit;
  2. both man pages render without a warning from `man --warnings`, and
     mcprobe(8) documents every option `mcprobe --help` lists;
  3. as root (CI): `dpkg -i` installs it with its dependencies already there;
     `man mcprobe` finds the page; `systemd-analyze verify` accepts the unit;
     the unit's ExecStart command line, with a capture as the instance, runs
     as an unprivileged user with the installed configuration and meters every
     packet; the installed Python package imports from anywhere and
     `mcquery --help` runs; then the package is purged again.
Not run on a sanitizer build (a package ships the release binary): skipped.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

BUILD = os.environ.get("MC_BUILD", os.path.join(mctest.SRC, "build", "release"))
DEMO_PCAP_GEN = os.path.join(mctest.SRC, "scripts", "gen-demo-pcap.py")


class Checker(mctest.Checker):
    """mctest's, with what was compared printed beside a failure."""

    def check(self, ok, what, detail=""):
        super().check(ok, what + ("" if ok or not detail else "\n      " + str(detail).strip()))


def run(args, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(args, timeout=600, **kw)


def cache_value(name):
    try:
        for line in open(os.path.join(BUILD, "CMakeCache.txt")):
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""


def help_options():
    out = run([mctest.MCPROBE, "--help"]).stdout.decode()
    return sorted(set(re.findall(r"^\s+(?:-\w, )?--([\w-]+)", out, re.M)))


def check_man(chk, page, rendered_opts=None):
    r = run(["man", "--warnings", "-l", page], env=dict(os.environ, MANWIDTH="80"))
    chk.check(r.returncode == 0, "man renders %s" % os.path.basename(page), r.stderr.decode()[:300])
    chk.check(r.stderr.decode().strip() == "", "man --warnings says nothing on %s" % os.path.basename(page),
              r.stderr.decode()[:300])
    text = r.stdout.decode()
    if rendered_opts:
        missing = [o for o in rendered_opts if "--" + o not in text]
        chk.check(not missing, "%s documents every --help option (%d)" % (os.path.basename(page), len(rendered_opts)),
                  "missing: %s" % missing)


def main():
    if cache_value("MC_SANITIZE") == "ON" or cache_value("MC_FUZZ") == "ON":
        mctest.skip("a sanitizer build is not packaged: the package is tested on the release build")
    for tool in ("cpack", "dpkg-deb", "man", "go-md2man", "dpkg-shlibdeps"):
        mctest.need_tool(tool)
    chk = Checker()
    work = tempfile.mkdtemp(prefix="mcpkg")
    try:
        r = run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", work])
        debs = glob.glob(os.path.join(work, "microcloud_*.deb"))
        chk.check(r.returncode == 0 and len(debs) == 1, "cpack made one .deb", r.stdout.decode()[-500:] +
                  r.stderr.decode()[-500:])
        if not debs:
            return chk.done()
        deb = debs[0]
        listing = run(["dpkg-deb", "-c", deb]).stdout.decode()
        for path in ("./usr/bin/mcprobe", "./usr/bin/mcquery", "./usr/lib/python3/dist-packages/microcloud/client.py",
                     "./usr/share/man/man8/mcprobe.8", "./usr/share/man/man1/mcquery.1",
                     "./etc/microcloud/mcprobe.conf", "./lib/systemd/system/mcprobe@.service"):
            chk.check(path in listing, "the package holds %s" % path)
        conffiles = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.decode()
        chk.check("/etc/microcloud/mcprobe.conf" in conffiles, "the configuration is a conffile (kept on upgrade)")
        depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout.decode()
        for lib in ("libpcap0.8", "libhiredis", "libndpi", "libev4", "python3-redis"):
            chk.check(lib in depends, "Depends names %s" % lib, depends)

        ext = os.path.join(work, "root")
        run(["dpkg-deb", "-x", deb, ext])
        check_man(chk, os.path.join(ext, "usr/share/man/man8/mcprobe.8"), help_options())
        check_man(chk, os.path.join(ext, "usr/share/man/man1/mcquery.1"))

        if os.geteuid() != 0 or not shutil.which("dpkg"):
            print("NOTE: not root: dpkg -i and the installed unit are checked in CI (as root)")
            return chk.done()
        if run(["dpkg-query", "-W", "-f=${Status}", "microcloud"]).stdout.decode().startswith("install ok"):
            print("NOTE: a microcloud package is already installed here: not replacing it with the test's")
            return chk.done()
        installed_here(chk, deb, work)
        return chk.done()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def installed_here(chk, deb, work):
    r = run(["dpkg", "-i", deb])
    chk.check(r.returncode == 0, "dpkg -i installs the package", r.stdout.decode()[-800:] + r.stderr.decode()[-800:])
    try:
        if r.returncode != 0:
            return
        r = run(["man", "-w", "mcprobe"])
        chk.check(r.stdout.decode().strip() == "/usr/share/man/man8/mcprobe.8", "man mcprobe finds the page",
                  r.stdout.decode() + r.stderr.decode())
        r = run(["man", "--warnings", "mcprobe"], env=dict(os.environ, MANWIDTH="80"))
        chk.check(r.returncode == 0 and "mcprobe" in r.stdout.decode() and not r.stderr.decode().strip(),
                  "man mcprobe renders without warnings", r.stderr.decode()[:300])
        if shutil.which("systemd-analyze"):
            r = run(["systemd-analyze", "verify", "/lib/systemd/system/mcprobe@.service"])
            chk.check(r.returncode == 0 and not r.stderr.decode().strip(), "systemd-analyze verify accepts the unit",
                      r.stdout.decode() + r.stderr.decode())
        else:
            print("NOTE: systemd-analyze absent: the unit is not verified")
        unit = open("/lib/systemd/system/mcprobe@.service").read()
        for want in ("AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN", "DynamicUser=yes", "NoNewPrivileges=yes"):
            chk.check(want in unit, "the unit runs unprivileged: %s" % want)
        run_unit_command(chk, unit, work)
        r = run(["/usr/bin/python3", "-c", "import microcloud, sys; print(microcloud.__file__)"], cwd="/")
        chk.check(r.returncode == 0 and r.stdout.decode().startswith("/usr/lib/python3/dist-packages/microcloud/"),
                  "the installed Python package imports from anywhere", r.stdout.decode() + r.stderr.decode())
        r = run(["/usr/bin/mcquery", "--help"], cwd="/")
        chk.check(r.returncode == 0 and b"dns" in r.stdout, "the installed mcquery runs", r.stderr.decode())
    finally:
        r = run(["dpkg", "-P", "microcloud"])
        chk.check(r.returncode == 0 and not os.path.exists("/usr/bin/mcprobe"), "dpkg -P removes it again",
                  r.stderr.decode())


def run_unit_command(chk, unit, work):
    """The unit's ExecStart, %I a capture, as an unprivileged user (what DynamicUser gives it)."""
    m = re.search(r"^ExecStart=(.*)$", unit, re.M)
    chk.check(m is not None, "the unit has an ExecStart")
    if not m:
        return
    pcap = os.path.join(work, "demo.pcap")
    run([sys.executable, DEMO_PCAP_GEN, pcap], check=True)
    os.chmod(work, 0o755)
    os.chmod(pcap, 0o644)
    out = os.path.join(work, "out")
    os.mkdir(out)
    shutil.chown(out, "nobody", "nogroup")
    argv = m.group(1).replace("%I", pcap).split()
    argv += ["--json", os.path.join(out, "flows.json"), "--counters", os.path.join(out, "counters.txt")]
    r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + argv, cwd="/")
    chk.check(r.returncode == 0, "the unit's command line meters a capture as nobody: %s" % " ".join(argv),
              r.stderr.decode()[-500:])
    counters = {}
    try:
        for line in open(os.path.join(out, "counters.txt")):
            k, _, v = line.partition(" ")
            counters[k] = int(v)
    except OSError:
        pass
    pkts = int(run(["capinfos", "-c", "-M", pcap]).stdout.decode().split(":")[-1].strip() or 0) \
        if shutil.which("capinfos") else None
    chk.check(counters.get("capture.packets", 0) > 0 and (pkts is None or counters["capture.packets"] == pkts),
              "every packet of the capture is read (%s of %s)" % (counters.get("capture.packets"), pkts))
    flows = sum(1 for _ in open(os.path.join(out, "flows.json"))) if os.path.exists(os.path.join(out, "flows.json")) else 0
    chk.check(flows > 0 and flows == counters.get("flow.exported", flows), "its flows are written (%d)" % flows)


if __name__ == "__main__":
    sys.exit(main())
