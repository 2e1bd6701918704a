#!/usr/bin/python3
"""active_voip_users.py - all the active VoIP users, from the MicroCloud: the
seed's own example.  Every probe with the SIP analyzer keeps voip.users (a
sorted set of addresses of record by last activity, a call or a
registration) and voip.user.<aor> (where the user registered from, until
when, with what software); any application asks the cloud, not the probes.

Usage: examples/active_voip_users.py [--redis NODE[,NODE...] | --redis-cluster HOST:PORT]
                                     [--minutes N] [--all] [--json]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from microcloud import Cloud  # noqa: E402


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000)) if ms else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default=os.environ.get("MC_REDIS", "127.0.0.1:6379"), metavar="NODE[,NODE...]")
    ap.add_argument("--redis-cluster", metavar="HOST:PORT")
    ap.add_argument("--minutes", type=int, default=60, help="active within the last N minutes (default 60)")
    ap.add_argument("--all", action="store_true", help="every user the cloud keeps, however long ago")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cloud = Cloud(nodes=None if a.redis_cluster else a.redis.split(","), cluster=a.redis_cluster)
    since = None if a.all else int(time.time() * 1000) - a.minutes * 60000
    users = []
    for aor, last in cloud.active_voip_users(since):
        rec = cloud.voip_user(aor) or {}
        users.append(dict(rec, uri=aor, last_activity=last))
    if a.json:
        print(json.dumps(users, sort_keys=True))
        return 0
    for u in users:
        print("%-40s last active %s  from %-15s registered until %s  calls %s" % (
            u["uri"], iso(u["last_activity"]), u.get("ip", "-"), iso(u.get("registered_until")), u.get("calls", 0)))
    print("%d active VoIP user(s)" % len(users))
    return 0


if __name__ == "__main__":
    sys.exit(main())
