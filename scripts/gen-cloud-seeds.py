#!/usr/bin/python3
"""gen-cloud-seeds.py - seeds for the cloud fuzz targets (fuzz/fuzz_cloud_pipe.c,
fuzz/fuzz_cloud_agg.c) into fuzz/corpus/cloud_pipe/ and fuzz/corpus/cloud_agg/.

Usage: scripts/gen-cloud-seeds.py   (rewrites the seed files; deterministic)
"""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(corpus, name, data):
    d = os.path.join(ROOT, "fuzz", "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# replies as a server sends them to a writer's batch
write("cloud_pipe", "integers", b":1\r\n:0\r\n:12345\r\n:-7\r\n")
write("cloud_pipe", "mixed", b"+OK\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n-ERR wrong type\r\n")
write("cloud_pipe", "cluster", b"-MOVED 3999 127.0.0.1:6381\r\n-ASK 12 127.0.0.1:7000\r\n-TRYAGAIN x\r\n:3\r\n")
write("cloud_pipe", "xadd", b"$15\r\n1700000000000-0\r\n:0\r\n$4\r\n2000\r\n")
write("cloud_pipe", "nested", b"*3\r\n*1\r\n:1\r\n*0\r\n*-1\r\n")
write("cloud_pipe", "cut", b":123\r\n$10\r\nabc")


def op(code, key, name, value, number):
    out = bytes([code])
    for s in (key, name, value):
        out += bytes([len(s)]) + s
    return out + struct.pack(">Q", number)


write("cloud_agg", "dns", b"".join([
    op(0, b"dns.name.example.com", b"queries", b"", 1),
    op(1, b"dns.name.example.com", b"last_seen", b"", 1700000000000),
    op(5, b"dns.name.example.com", b"x", b"", 3600000),
    op(4, b"dns.top.28333333", b"m", b"example.com", 1),
    op(7, b"dns.name.example.com", b"queries", b'{"name":"example.com"}', 0),
    op(3, b"ip.10.0.0.1", b"name", b"example.com", 0),
]))
write("cloud_agg", "many", b"".join(op(i % 8 | (0x80 if i % 5 == 0 else 0), b"k.%d" % (i % 70), b"f%d" % (i % 3),
                                        b"v" * (i % 40), i * 7919) for i in range(400)))
write("cloud_agg", "hostile", b"".join([
    op(0, b"", b"f", b"", 1),
    op(3, b"k", b"", b"v", 0),
    op(6, b"k", b"bad name", b"{}", 0),
    op(4, b"k", b"f", b"a\x00b\xff", 2 ** 63),
    op(2, b"k\x00\r\n", b"f", b"", 0),
    op(0, b"k", b"f", b"", 2 ** 64 - 1),
    op(0, b"k", b"f", b"", 1),
]))
