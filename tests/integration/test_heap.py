#!/usr/bin/python3
"""The probe's heap in transparent huge pages (src/probe/heap.c), asked only when it pays.

mcprobe executes itself again with glibc.malloc.hugetlb=1 in GLIBC_TUNABLES
when the run may be long (an interface, a directory, files of 64 MiB and
more) and says which it chose at -v:

* a small file: no second exec, 4 KiB pages;
* a directory holding the same capture: huge pages, and the flows equal the
  file's (the second exec reads the same arguments);
* a capture file of 64 MiB: huge pages, its flows all there;
* GLIBC_TUNABLES=glibc.malloc.hugetlb=0 (the operator's choice) with the
  directory: 4 KiB pages, the same flows (other tunables given beside it).
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mcpcap  # noqa: E402
import mctest  # noqa: E402

c = mctest.Checker()
work = tempfile.mkdtemp(prefix="mcheap")
atexit.register(shutil.rmtree, work, True)

frames = mcpcap.udp_exchanges(50, 1796308200 * 1_000_000, gap_us=100_000)
small = os.path.join(work, "small.pcap")
mcpcap.write_pcap(small, frames)
cap_dir = os.path.join(work, "dir")
os.mkdir(cap_dir)
mcpcap.write_pcap(os.path.join(cap_dir, "small.pcap"), frames)
# 64 MiB and more: the same exchanges, then 1,200 datagrams of 60,000 bytes after them (one flow)
big_frames = list(frames)
t_last = frames[-1][0]
for k in range(1200):
    big_frames.append((t_last + 1000 * (k + 1), mcpcap.udp_frame((10, 9, 0, 1), (10, 9, 0, 2), 4000, 4001, b"x" * 60000)))
big = os.path.join(work, "big.pcap")
mcpcap.write_pcap(big, big_frames)


def run(args, tag, env_extra=None):
    """(flows as sorted JSON lines, stderr)"""
    jpath = os.path.join(work, tag + ".json")
    env = dict(os.environ)
    env.pop("GLIBC_TUNABLES", None)
    env.update(env_extra or {})
    p = subprocess.run([mctest.MCPROBE, "--stats-interval", "0", "-v", "--json", jpath] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
    err = p.stderr.decode()
    if p.returncode != 0:
        raise RuntimeError("mcprobe %s failed (%d): %s" % (" ".join(args), p.returncode, err))
    flows = sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "exporterIPv4Address"}, sort_keys=True)
                   for line in open(jpath) if line.strip())
    return flows, err


def heap_line(err):
    for line in err.splitlines():
        if "heap: " in line:
            return line.split("heap: ", 1)[1]
    return ""


f_small, err = run(["-i", small], "small")
c.check(len(f_small) == 50, "the small file's 50 flows (%d)" % len(f_small))
c.check(heap_line(err).startswith("4 KiB pages (files of less than 64 MiB"),
        "a small file: no second exec, 4 KiB pages (%r)" % heap_line(err))

f_dir, err = run(["-i", cap_dir], "dir")
c.check(heap_line(err).startswith("transparent huge pages"), "a directory: huge pages (%r)" % heap_line(err))
c.check(f_dir == f_small, "a directory after the second exec: the same flows as the file (%d, %d)" %
        (len(f_dir), len(f_small)))

c.check(os.path.getsize(big) >= 64 << 20, "the big capture holds 64 MiB (%d bytes)" % os.path.getsize(big))
f_big, err = run(["-i", big], "big")
c.check(heap_line(err).startswith("transparent huge pages"), "a 64 MiB file: huge pages (%r)" % heap_line(err))
c.check(len(f_big) == 51 and set(f_small) <= set(f_big), "the big file's 51 flows (%d)" % len(f_big))

f_op, err = run(["-i", cap_dir], "operator",
                env_extra={"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0:glibc.malloc.tcache_count=7"})
c.check(heap_line(err).startswith("4 KiB pages (GLIBC_TUNABLES"), "the operator's hugetlb=0 kept (%r)" %
        heap_line(err))
c.check(f_op == f_small, "the same flows with the operator's tunables (%d)" % len(f_op))

c.done()
