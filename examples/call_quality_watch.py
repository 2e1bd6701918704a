#!/usr/bin/python3
"""call_quality_watch.py - follows the calls the probes see, live: each
call's start, answer and end as they are published (events.voip.call.*),
with its parties, setup time, duration and who hung up, and the call's
media quality as the cloud's voip.call.<call-id> hash holds it when it
ends (RTP figures appear there as the RTP analysis writes them).

Usage: examples/call_quality_watch.py [--redis NODE[,NODE...] | --redis-cluster HOST:PORT]
                                      [--idle-timeout SECONDS]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from microcloud import Cloud  # noqa: E402

QUALITY = ("caller_rtp", "callee_rtp", "codecs")


def iso(ms):
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000) if ms else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default=os.environ.get("MC_REDIS", "127.0.0.1:6379"), metavar="NODE[,NODE...]")
    ap.add_argument("--redis-cluster", metavar="HOST:PORT")
    ap.add_argument("--idle-timeout", type=float, default=None,
                    help="stop after this many seconds without an event (default: run until interrupted)")
    a = ap.parse_args()
    cloud = Cloud(nodes=None if a.redis_cluster else a.redis.split(","), cluster=a.redis_cluster)
    try:
        for channel, ev in cloud.events("events.voip.call.*", idle_timeout=a.idle_timeout):
            what = channel.rsplit(".", 1)[-1]
            if not isinstance(ev, dict):
                continue
            line = "%s %-6s %s  %s -> %s" % (iso(ev.get("invite_ms") if what == "start" else
                                                 ev.get("answer_ms") if what == "answer" else ev.get("end_ms")),
                                             what, ev.get("call_id"), ev.get("caller"), ev.get("callee"))
            if what == "end":
                line += "  %s (%s%s)" % (ev.get("state"), ev.get("end_cause"),
                                         ", by the " + ev["hangup_by"] if ev.get("hangup_by") else "")
                if "duration_ms" in ev:
                    line += ", %.1f s" % (ev["duration_ms"] / 1000.0)
                call = cloud.call(ev.get("call_id", "")) or {}
                line += "".join("  %s=%s" % (k, call[k]) for k in sorted(call) if k in QUALITY or
                                k.startswith("rtp_"))
            print(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
