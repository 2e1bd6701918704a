"""mcpcap.py - small captures written by the tests themselves (python3 standard library only).

udp_exchanges() makes a deterministic list of Ethernet/IPv4/UDP frames: flow i
starts i * gap_us after t0 and is a query and an answer repeated `rounds`
times, 200 ms apart, from 10.1.x.y:(1024 + i) to 192.0.2.53:53.
write_pcap() writes frames as a classic pcap file (microseconds, Ethernet).
"""
import struct


def _csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + hdr + udp


def udp_exchanges(n_flows, t0_us, gap_us=1_000_000, rounds=2):
    """[(ts_us, frame)] in time order."""
    out = []
    server = (192, 0, 2, 53)
    for i in range(n_flows):
        client = (10, 1, i // 250, 1 + i % 250)
        for r in range(rounds):
            t = t0_us + i * gap_us + r * 200_000
            q = b"query %d.%d" % (i, r)
            out.append((t, udp_frame(client, server, 1024 + i, 53, q)))
            out.append((t + 1000, udp_frame(server, client, 53, 1024 + i, b"answer " + q)))
    out.sort(key=lambda x: x[0])
    return out


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, data in frames:
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(data), len(data)) + data)


def read_pcap(path):
    """[(ts_us, frame)] of a classic pcap file (either byte order, micro- or nanosecond times)."""
    data = open(path, "rb").read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack_from(endian + "IIII", data, off)
        out.append((sec * 1_000_000 + (frac // 1000 if nano else frac), data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def replay(ifname, frames, speed=1.0):
    """Sends frames [(ts_us, frame)] (in time order) on interface ifname through a packet socket, at their
    pace divided by speed (root only).  Returns (frames sent, how late the last one was in seconds)."""
    import socket
    import time
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    t0, wall0, late = frames[0][0] if frames else 0, time.monotonic(), 0.0
    for ts, frame in frames:
        due = wall0 + (ts - t0) / 1e6 / speed
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            late = now - due
        s.send(frame)
    s.close()
    return len(frames), late
