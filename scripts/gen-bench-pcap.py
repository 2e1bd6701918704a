#!/usr/bin/python3
"""gen-bench-pcap.py - write the benchmark captures used by bench/run.sh.

Usage: scripts/gen-bench-pcap.py [--mixed PATH] [--flood PATH] [--packets N]
       (no option: both, as build/bench/mixed.pcap and build/bench/flood.pcap)

mixed  1,000,000 Ethernet frames, IPv4 with ~10% IPv6 flows, ~93k TCP and
       UDP flows that start and end over ~60 s of packet time, about 50k of
       them active at once in the middle of the capture. TCP flows have
       SYN, SYN-ACK, ACK, data both ways, FIN, FIN, ACK; UDP flows alternate
       request and response. Frame sizes: ~40% 60-100 B, ~20% 500-600 B,
       ~40% 1400-1514 B.
flood  1,000,000 frames of 60 B, each its own IPv4 flow (1M distinct
       5-tuples: half UDP, half TCP SYN) over 10 s of packet time.

Each PATH also gets PATH.meta, a JSON object with the packet count, flow
count and peak number of concurrently active flows (bench/run.sh uses it
for bytes of memory per flow held).

Speed over fidelity: frames are patched into preallocated templates with
struct.pack_into; the IPv4 header checksum is valid (computed
incrementally from a per-flow partial sum); payloads are zeros, so the
TCP/UDP checksums are cheap and valid too (flood UDP: 0, "no checksum").
TCP ACK numbers are plausible but nothing is retransmitted or lost. Deterministic: fixed seeds.
Standard library only.
"""
import json
import os
import random
import struct
import sys
import time

BASE_SEC = 1717236000
PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
REC = struct.Struct("<IIII")
FLUSH = 8 << 20

SRC_MAC = bytes.fromhex("001b21aa0001")
DST_MAC = bytes.fromhex("001b21bb0002")
TTL_PROTO_TCP = (64 << 8) | 6
TTL_PROTO_UDP = (64 << 8) | 17

# Whole header from the IPv4 total length (offset 16) to the end of TCP/UDP.
V4_TCP = struct.Struct("!HHHHHIIHHIIBBHH")  # len id frag ttl|proto csum src dst sport dport seq ack off flags win csum
V4_UDP = struct.Struct("!HHHHHIIHHHH")     # len id frag ttl|proto csum src dst sport dport ulen ucsum
V6_TCP = struct.Struct("!HBB16s16sHHIIBBHH")  # plen nh hlim src dst sport dport seq ack off flags win csum
V6_UDP = struct.Struct("!HBB16s16sHHHH")

FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


def template(ethertype, first):
    t = bytearray(1514)
    t[0:14] = DST_MAC + SRC_MAC + struct.pack("!H", ethertype)
    t[14:14 + len(first)] = first
    return t


def v4_sum_base(ttl_proto, src, dst):
    # constant words of the IPv4 header: 0x4500, DF flag, ttl|proto, addresses
    return 0x4500 + 0x4000 + ttl_proto + (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.buf = bytearray(PCAP_HDR)
        self.bytes = 0

    def flush(self):
        self.f.write(self.buf)
        self.buf = bytearray()

    def close(self):
        self.flush()
        self.f.close()


def size_table(rng, n):
    """Data frame sizes: 10% 60-100 B, 30% 500-600 B, 60% 1400-1514 B.

    With ~1/3 of packets being 60-74 B TCP control frames this gives the
    overall ~40/20/40 mix.
    """
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.10:
            out.append(rng.randint(64, 100))
        elif r < 0.40:
            out.append(rng.randint(500, 600))
        else:
            out.append(rng.randint(1400, 1514))
    return out


def gen_mixed(path, total):
    rng = random.Random(0x6D69786564)
    span = 60_000_000
    # ---- plan flows: (is_v6, is_tcp, n, start, duration)
    flows_v6, flows_tcp, flows_n = [], [], []
    src4, dst4, src6, dst6, sports, dports, vbase = [], [], [], [], [], [], []
    keys = []
    asum = []  # per flow: sum of the address words, for the pseudo-header checksum
    left = total
    f = 0
    starts_ends = []
    rnd, randint = rng.random, rng.randint
    # Hosts as a monitored network has them: 4,096 local clients (10.1.0.0/20,
    # 512 IPv6) talking to servers of skewed popularity (20,000 IPv4, 2,000
    # IPv6; a few get most flows), not a fresh random address per flow.
    clients4 = [(10 << 24) | (1 << 16) | i for i in range(4096)]
    servers4 = [(172 << 24) | (16 << 16) | rng.getrandbits(16) if rng.random() < 0.5
                else rng.getrandbits(32) | 0x01000000 for _ in range(20000)]
    clients6 = [b"\x20\x01\x0d\xb8\x00\x01" + rng.getrandbits(80).to_bytes(10, "big") for _ in range(512)]
    servers6 = [b"\x20\x01\x0d\xb8\x00\x02" + rng.getrandbits(80).to_bytes(10, "big") for _ in range(2000)]
    while left > 0:
        v6 = rnd() < 0.10
        tcp = rnd() < 0.60 and left >= 7
        n = randint(7, 21) if tcp else randint(2, 10)
        n = min(n, left)
        left -= n
        dur = randint(6_000_000, 36_000_000)
        start = randint(0, span - dur - 1)
        rtt = randint(1_000, 100_000)
        flows_v6.append(v6)
        flows_tcp.append(tcp)
        flows_n.append(n)
        if v6:
            src6.append(clients6[randint(0, len(clients6) - 1)])
            dst6.append(servers6[int(len(servers6) * rnd() ** 3)])
            src4.append(0)
            dst4.append(0)
            vbase.append(0)
            w6 = struct.unpack("!16H", src6[-1] + dst6[-1])
            asum.append(sum(w6))
        else:
            s = clients4[randint(0, len(clients4) - 1)]
            d = servers4[int(len(servers4) * rnd() ** 3)]
            src4.append(s)
            dst4.append(d)
            src6.append(b"")
            dst6.append(b"")
            vbase.append(v4_sum_base(TTL_PROTO_TCP if tcp else TTL_PROTO_UDP, s, d))
            asum.append((s >> 16) + (s & 0xFFFF) + (d >> 16) + (d & 0xFFFF))
        sports.append(randint(1024, 65535))
        dports.append(rng.choice((80, 443, 443, 443, 8443, 8080, 22, 25, 993, 5060, 3478, 1935)) if tcp or rnd() < 0.5
                      else randint(1024, 65535))
        # packet times: strictly increasing within the flow
        if tcp:
            mid = n - 6
            t = [start, start + rtt, start + rtt + 50]
            lo, hi = start + rtt + 100, start + dur - 2 * rtt - 200
            if hi <= lo:
                hi = lo + 1000 * n
            t += sorted(randint(lo, hi) for _ in range(mid))
            e = max(t[-1] + 100, start + dur - 2 * rtt)
            t += [e, e + rtt, e + rtt + 50]
        else:
            step = dur // n
            t = [start + i * step + (rtt if i & 1 else 0) for i in range(n)]
        fk = f << 8
        keys.extend((ts << 28) | fk | i for i, ts in enumerate(t))
        starts_ends.append((t[0], 1))
        starts_ends.append((t[-1], -1))
        f += 1
    nflows = f
    keys.sort()
    starts_ends.sort()
    cur = peak = 0
    mid_active = None
    for ts, d in starts_ends:
        cur += d
        if cur > peak:
            peak = cur
        if mid_active is None and ts >= span // 2:
            mid_active = cur
    del starts_ends

    dbits = [rng.getrandbits(64) for _ in range(nflows)]
    seq_c = [rng.getrandbits(32) for _ in range(nflows)]
    seq_s = [rng.getrandbits(32) for _ in range(nflows)]
    sizes = size_table(rng, 1 << 16)

    t4t = template(0x0800, bytes([0x45, 0]))
    t4u = template(0x0800, bytes([0x45, 0]))
    t6t = template(0x86DD, bytes([0x60, 0, 0, 0]))
    t6u = template(0x86DD, bytes([0x60, 0, 0, 0]))
    m4t, m4u, m6t, m6u = memoryview(t4t), memoryview(t4u), memoryview(t6t), memoryview(t6u)
    p4t, p4u, p6t, p6u = V4_TCP.pack_into, V4_UDP.pack_into, V6_TCP.pack_into, V6_UDP.pack_into
    rec = REC.pack

    w = Writer(path)
    buf = w.buf
    si = 0
    nbytes = 0
    small = medium = large = 0
    ipid = 1
    for k in keys:
        i = k & 0xFF
        fl = (k >> 8) & 0xFFFFF
        ts = k >> 28
        n = flows_n[fl]
        if flows_tcp[fl]:
            if i < 3 or i >= n - 3:
                j = i if i < 3 else i - (n - 3)
                if i < 3:
                    d = 1 if j == 1 else 0
                    flags = (SYN, SYN | ACK, ACK)[j]
                else:
                    d = 1 if j == 1 else 0
                    flags = (FIN | ACK, FIN | ACK, ACK)[j]
                plen = 0
                L = 74 if flows_v6[fl] else 60
            else:
                d = (dbits[fl] >> (i & 63)) & 1
                flags = ACK | PSH
                L = sizes[si & 0xFFFF]
                si += 1
                if flows_v6[fl]:
                    if L < 78:
                        L = 78
                    plen = L - 74
                else:
                    plen = L - 54
            if d:
                seq, ack = seq_s[fl], seq_c[fl]
                seq_s[fl] = (seq + plen + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
            else:
                seq, ack = seq_c[fl], seq_s[fl]
                seq_c[fl] = (seq + plen + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
            if not flags & ACK:
                ack = 0
            sp, dp = sports[fl], dports[fl]
            if d:
                sp, dp = dp, sp
            if flows_v6[fl]:
                a, b = (dst6[fl], src6[fl]) if d else (src6[fl], dst6[fl])
                # payloads are zeros: the checksum covers pseudo-header + TCP header only
                c = asum[fl] + 6 + (L - 54) + sp + dp + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) \
                    + (ack & 0xFFFF) + 0x5000 + flags + 65535
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                p6t(t6t, 18, L - 54, 6, 64, a, b, sp, dp, seq, ack, 0x50, flags, 65535, ~c & 0xFFFF)
                mv = m6t
            else:
                a, b = (dst4[fl], src4[fl]) if d else (src4[fl], dst4[fl])
                tl = L - 14 if L > 60 else 40
                ipid = (ipid + 1) & 0xFFFF
                s = vbase[fl] + tl + ipid
                s = (s & 0xFFFF) + (s >> 16)
                s = (s & 0xFFFF) + (s >> 16)
                c = asum[fl] + 6 + (tl - 20) + sp + dp + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) \
                    + (ack & 0xFFFF) + 0x5000 + flags + 65535
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                p4t(t4t, 16, tl, ipid, 0x4000, TTL_PROTO_TCP, ~s & 0xFFFF, a, b, sp, dp, seq, ack, 0x50, flags,
                    65535, ~c & 0xFFFF)
                mv = m4t
        else:
            d = i & 1
            L = sizes[si & 0xFFFF]
            si += 1
            sp, dp = sports[fl], dports[fl]
            if d:
                sp, dp = dp, sp
            if flows_v6[fl]:
                a, b = (dst6[fl], src6[fl]) if d else (src6[fl], dst6[fl])
                if L < 64:
                    L = 64
                c = asum[fl] + 17 + 2 * (L - 54) + sp + dp
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                p6u(t6u, 18, L - 54, 17, 64, a, b, sp, dp, L - 54, (~c & 0xFFFF) or 0xFFFF)
                mv = m6u
            else:
                a, b = (dst4[fl], src4[fl]) if d else (src4[fl], dst4[fl])
                tl = L - 14
                ipid = (ipid + 1) & 0xFFFF
                s = vbase[fl] + tl + ipid
                s = (s & 0xFFFF) + (s >> 16)
                s = (s & 0xFFFF) + (s >> 16)
                c = asum[fl] + 17 + 2 * (tl - 20) + sp + dp
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                p4u(t4u, 16, tl, ipid, 0x4000, TTL_PROTO_UDP, ~s & 0xFFFF, a, b, sp, dp, tl - 20, (~c & 0xFFFF) or 0xFFFF)
                mv = m4u
        if L <= 100:
            small += 1
        elif L <= 600:
            medium += 1
        else:
            large += 1
        buf += rec(BASE_SEC + ts // 1_000_000, ts % 1_000_000, L, L)
        buf += mv[:L]
        nbytes += L
        if len(buf) > FLUSH:
            w.buf = buf
            w.flush()
            buf = w.buf
    w.buf = buf
    w.close()
    npk = len(keys)
    meta = {"capture": "mixed", "packets": npk, "frame_bytes": nbytes, "flows": nflows,
            "peak_concurrent_flows": peak, "concurrent_flows_at_30s": mid_active,
            "span_s": (keys[-1] >> 28) / 1e6,
            "size_mix": {"le100": round(small / npk, 3), "101-600": round(medium / npk, 3),
                         "gt600": round(large / npk, 3)}}
    return meta


def gen_flood(path, total):
    span = 10_000_000
    w = Writer(path)
    buf = w.buf
    tt = template(0x0800, bytes([0x45, 0]))
    tu = template(0x0800, bytes([0x45, 0]))
    mt, mu = memoryview(tt)[:60], memoryview(tu)[:60]
    pt, pu = V4_TCP.pack_into, V4_UDP.pack_into
    rec = REC.pack
    dports = (80, 443, 5000, 123, 8080, 22, 25, 3389)
    mask = (1 << 20) - 1
    assert total <= mask + 1
    for i in range(total):
        # a bijection on 20 bits: every source address is distinct
        h = (i * 0x9E3779B1 + 0x5BD1E995) & mask
        src = 0x0A000000 | (h << 2) | 1          # 10.0.0.0/10 hosts
        dst = 0xC0A80000 | ((i * 7) & 0xFF) << 8 | 10  # 192.168.x.10
        sp = 1024 + ((i * 40503) & 0xEFFF)
        dp = dports[i & 7]
        ts = i * span // total
        ident = i & 0xFFFF
        if i & 1:
            s = 0x4500 + 0x4000 + TTL_PROTO_TCP + (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) \
                + 40 + ident
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            seq = h * 2654435761 & 0xFFFFFFFF
            c = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 6 + 20 + sp + dp + (seq >> 16) \
                + (seq & 0xFFFF) + 0x5000 + SYN + 64240
            c = (c & 0xFFFF) + (c >> 16)
            c = (c & 0xFFFF) + (c >> 16)
            pt(tt, 16, 40, ident, 0x4000, TTL_PROTO_TCP, ~s & 0xFFFF, src, dst, sp, dp, seq, 0, 0x50, SYN, 64240,
               ~c & 0xFFFF)
            mv = mt
        else:
            s = 0x4500 + 0x4000 + TTL_PROTO_UDP + (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) \
                + 46 + ident
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            pu(tu, 16, 46, ident, 0x4000, TTL_PROTO_UDP, ~s & 0xFFFF, src, dst, sp, dp, 26, 0)  # 0: no checksum
            mv = mu
        buf += rec(BASE_SEC + ts // 1_000_000, ts % 1_000_000, 60, 60)
        buf += mv
        if len(buf) > FLUSH:
            w.buf = buf
            w.flush()
            buf = w.buf
    w.buf = buf
    w.close()
    return {"capture": "flood", "packets": total, "frame_bytes": total * 60, "flows": total,
            "peak_concurrent_flows": total, "span_s": span / 1e6}


def main(argv):
    jobs = []
    total = 1_000_000
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--mixed", "--flood") and args:
            jobs.append((a[2:], args.pop(0)))
        elif a == "--packets" and args:
            total = int(args.pop(0))
        else:
            sys.stderr.write(__doc__)
            return 2
    if not jobs:
        os.makedirs("build/bench", exist_ok=True)
        jobs = [("mixed", "build/bench/mixed.pcap"), ("flood", "build/bench/flood.pcap")]
    for kind, path in jobs:
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        t0 = time.monotonic()
        tmp = path + ".tmp"
        meta = (gen_mixed if kind == "mixed" else gen_flood)(tmp, total)
        os.replace(tmp, path)
        with open(path + ".meta", "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        print("gen-bench-pcap: %s: %s (%.1f s to generate)" % (path, json.dumps(meta), time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
