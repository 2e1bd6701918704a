#!/usr/bin/python3
"""Option values the probe keeps: --local-networks does what it says, and every run, good or refused,
gives back what parsing took (under ASan+UBSan a leak turns exit 0 into 1 and prints a report).

* --local-networks (on the command line and in a config file): exit 0, and
  with a real redis-server only the hosts inside the networks get ip.<addr>
  keys (a run without it has hosts outside them too);
* refused values exit 2 with a message naming them: -n without a port, an
  empty -i, a network that is not one, too many interfaces, a bad config line;
* no run prints a sanitizer report.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mcopt")
atexit.register(shutil.rmtree, work, True)
demo = os.path.join(work, "demo.pcap")
subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-demo-pcap.py"), demo], check=True,
               stdout=subprocess.DEVNULL)


def probe(args):
    r = subprocess.run([mctest.MCPROBE, "--stats-interval", "0", "-q"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    c.check("Sanitizer" not in err, "%s: a sanitizer report: %s" % (args, err[-600:]))
    return r.returncode, err


NETS = "192.168.1.0/24,10.0.0.0/8"
rc, err = probe(["-i", demo, "--local-networks", NETS])
c.check(rc == 0, "--local-networks %s: exit %d: %s" % (NETS, rc, err[-300:]))
conf = os.path.join(work, "nets.conf")
with open(conf, "w") as f:
    f.write("interface %s\nlocal-networks 192.168.1.0/24\nlocal-networks 10.0.0.0/8\n" % demo)
rc, err = probe(["-c", conf])
c.check(rc == 0, "local-networks in a config file: exit %d: %s" % (rc, err[-300:]))

# refused values: exit 2, a message naming what is wrong
refused = [
    (["-i", demo, "-n", "127.0.0.1"], "HOST:PORT"),
    (["-i", demo, "-n", "127.0.0.1:2055,localhost"], "HOST:PORT"),
    (["-i", ""], "no capture source"),
    (["-i", ","], "no capture source"),
    (["-i", demo, "--local-networks", "10.0.0.0/8,bogus"], "bogus"),
    (["-i", demo, "--local-networks", "10.0.0.0/33"], "10.0.0.0/33"),
    (["-i", ",".join(["lo"] * 65)], "at most 64"),  # interfaces; files have no cap (test_capture_sources)
    (["-i", demo, "--probe-id", "two words"], "one word"),
]
for args, word in refused:
    rc, err = probe(args)
    c.check(rc == 2 and word in err, "%s: exit %d, want 2 and %r: %s" % (args[:4], rc, word, err[-300:]))
with open(conf, "w") as f:
    f.write("interface %s\nlocal-networks 10.0.0.0/8,not-a-net\n" % demo)
rc, err = probe(["-c", conf])
c.check(rc == 2 and ":2:" in err and "not-a-net" in err, "bad local-networks line: exit %d: %s" % (rc, err[-300:]))

# what --local-networks does, seen in a real redis-server
if not shutil.which("redis-server") or not shutil.which("redis-cli"):
    print("SKIP --local-networks in the cloud: redis-server/redis-cli are not installed (run scripts/setup.sh)")
else:
    import ipaddress
    import mcredis  # noqa: E402
    nets = [ipaddress.ip_network(n) for n in NETS.split(",")]
    for with_nets in (False, True):
        srv = mcredis.Server(unix=True)
        try:
            rc, err = probe(["-i", demo, "--redis", srv.addr, "--probe-id", "t"] +
                            (["--local-networks", NETS] if with_nets else []))
            c.check(rc == 0, "--redis%s: exit %d: %s" % (" --local-networks" if with_nets else "", rc, err[-300:]))
            r = srv.client()
            # the hosts metered (a key with only "name" is an address a DNS answer named: not a host seen)
            hosts = [k[3:] for k in r.scan_iter("ip.*") if r.hexists(k, "flows")]
            inside = [h for h in hosts if any(ipaddress.ip_address(h) in n for n in nets)]
            if with_nets:
                c.check(inside and len(inside) == len(hosts),
                        "--local-networks %s: hosts outside have keys: %s" % (NETS, sorted(set(hosts) - set(inside))[:5]))
            else:
                c.check(inside and len(inside) < len(hosts), "without --local-networks: hosts %s" % sorted(hosts)[:10])
        finally:
            srv.stop()
c.done()
