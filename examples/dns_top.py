#!/usr/bin/python3
"""dns_top.py - the live DNS top: every minute, the names most queried in
the minute that just ended, from the MicroCloud (dns.top.<epoch-minute>,
written by every probe with the DNS analyzer).

Usage: examples/dns_top.py [--redis NODE[,NODE...] | --redis-cluster HOST:PORT] [--count N] [--once]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from microcloud import Cloud  # noqa: E402


def show(cloud, minute, count):
    rows = cloud.dns_top(minute, count)
    print("-- %s UTC: %d names" % (time.strftime("%Y-%m-%d %H:%M", time.gmtime(minute * 60)), len(rows)))
    for name, queries in rows:
        print("%8d  %s" % (queries, name))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default=os.environ.get("MC_REDIS", "127.0.0.1:6379"), metavar="NODE[,NODE...]")
    ap.add_argument("--redis-cluster", metavar="HOST:PORT")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--once", action="store_true", help="print the current minute's top and exit")
    a = ap.parse_args()
    cloud = Cloud(nodes=None if a.redis_cluster else a.redis.split(","), cluster=a.redis_cluster)
    now = int(time.time()) // 60
    if a.once:
        show(cloud, now, a.count)
        return
    try:
        while True:
            # wake just after the minute turns, then show the minute that ended
            time.sleep(60 - time.time() % 60 + 1)
            show(cloud, int(time.time()) // 60 - 1, a.count)
    except KeyboardInterrupt:
        pass


main()
