#!/usr/bin/python3
"""udp_sink.py - a UDP collector stand-in that reads and discards datagrams.

Usage: bench/udp_sink.py PORT STATS_FILE

Binds 127.0.0.1:PORT with a large receive buffer and counts datagrams and
bytes until SIGTERM, then writes "datagrams bytes" to STATS_FILE. The
benchmarks export to it so that sends succeed without a real collector.
"""
import signal
import socket
import sys


def main():
    port, stats = int(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind(("127.0.0.1", port))
    count = [0, 0]

    def stop(*_):
        with open(stats, "w") as f:
            f.write("%d %d\n" % (count[0], count[1]))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    buf = bytearray(65536)
    while True:
        n = s.recv_into(buf)
        count[0] += 1
        count[1] += n


if __name__ == "__main__":
    main()
