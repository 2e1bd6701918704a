#!/usr/bin/python3
"""subscriber_watch.py - follows the mobile sessions the probes see, live:
each session's create, update (a handover moves its user-plane endpoints)
and delete as they are published (events.gtp.session.*), with the
subscriber's IMSI, MSISDN, APN, radio access type and UE addresses; with
--imsi, also that subscriber's traffic counters as the cloud's user.<imsi>
hash holds them, every --interval seconds.

Usage: examples/subscriber_watch.py [--redis NODE[,NODE...] | --redis-cluster HOST:PORT]
                                    [--imsi IMSI [--interval SECONDS]] [--idle-timeout SECONDS]
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from microcloud import Cloud  # noqa: E402

COUNTERS = ("sent_pkt", "sent_bytes", "rcvd_pkt", "rcvd_bytes")  # in the order counters_line prints them


def iso(ms):
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000) if ms else "-"


def session_line(what, ev):
    line = "%s %-6s %s  msisdn %s  apn %s  rat %s  ip %s" % (
        iso(ev.get("ts")), what, ev.get("imsi"), ev.get("msisdn") or "-", ev.get("apn") or "-",
        ev.get("rat") or "-", ev.get("ip") or "-")
    if ev.get("ip6"):
        line += "  ip6 %s" % ev["ip6"]
    line += "  teids %s" % (ev.get("teids") or "-")
    if what == "delete":
        line += "  (%s)" % ev.get("reason", "?")
    return line


def counters_line(imsi, rec):
    if rec is None:
        return "%s counters %s: not in the cloud" % (iso(int(time.time() * 1000)), imsi)
    line = "%s counters %s  sent %d pkt %d B  rcvd %d pkt %d B  last seen %s" % (
        iso(int(time.time() * 1000)), imsi, *(rec.get(c, 0) for c in COUNTERS), iso(rec.get("last_seen")))
    if not (rec.get("ip") or rec.get("ip6")):
        line += "  (no session)"
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default=os.environ.get("MC_REDIS", "127.0.0.1:6379"), metavar="NODE[,NODE...]")
    ap.add_argument("--redis-cluster", metavar="HOST:PORT")
    ap.add_argument("--imsi", help="also print this subscriber's counters every --interval seconds")
    ap.add_argument("--interval", type=float, default=5, help="seconds between counter lines (default 5)")
    ap.add_argument("--idle-timeout", type=float, default=None,
                    help="stop after this many seconds without an event (default: run until interrupted)")
    a = ap.parse_args()
    if a.imsi is not None and not (a.imsi.isdigit() and len(a.imsi) <= 15):
        ap.error("--imsi takes 1 to 15 digits, not %r" % a.imsi)
    if a.interval <= 0:
        ap.error("--interval must be positive")
    cloud = Cloud(nodes=None if a.redis_cluster else a.redis.split(","), cluster=a.redis_cluster)
    lock, stop = threading.Lock(), threading.Event()

    def say(line):
        with lock:
            print(line)
            sys.stdout.flush()

    def poll():  # the counters, beside the events (redis-py's client may be shared between threads)
        while not stop.is_set():
            say(counters_line(a.imsi, cloud.subscriber(a.imsi)))
            stop.wait(a.interval)

    events = cloud.events("events.gtp.session.*", idle_timeout=a.idle_timeout)
    poller = None
    if a.imsi is not None:
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
    try:
        for channel, ev in events:
            if isinstance(ev, dict):
                say(session_line(channel.rsplit(".", 1)[-1], ev))
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if poller is not None:
            poller.join(timeout=a.interval + 5)
        events.close()
        cloud.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
