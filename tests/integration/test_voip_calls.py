#!/usr/bin/python3
"""test_voip_calls.py - calls in the cloud (voip.call.*, voip.rtp.*, voip.user.*, voip.users) against tshark.

For every SIP capture of ../shared/corpus (sip_rtp/, and gre/ndpi_gre.pcapng),
mcprobe writes to a private redis-server; what tshark dissects of the same
capture gives, independently, what the cloud must hold:
  * one voip.call.<Call-ID> per dialog with an INVITE, its caller and callee
    (From/To of the first INVITE), its state after the capture (trying,
    ringing, answered, ended, cancelled, failed; RFC 3261's INVITE
    transaction and BYE/CANCEL), and its times (INVITE, ringing, answer,
    end) to the millisecond;
  * for each SDP a call's INVITE dialog carried, a voip.rtp.<addr>:<port>
    key naming the call (or another call whose SDP announced the same
    endpoint later in the capture);
  * for each REGISTER answered 2xx, voip.user.<aor> with the client's
    address and a registration expiring after the answer; every party of a
    call or registration in voip.users;
  * events.voip.call.start/answer/end once per call as its state went;
  * every key the probe wrote is one docs/CLOUD.md documents;
  * media: each RTP flow whose endpoint a call's SDP announced carries that
    call's id (rtpCallId), and on the generated capture each direction's
    packets and losses reach the call's hash (rtp_to_caller_*,
    rtp_to_callee_*) equal to tshark's rtp,streams;
  * the readers: `mcquery voip calls|users|call`, Cloud.calls/active_voip_users
    and examples/active_voip_users.py list the same calls and users, and
    examples/call_quality_watch.py, subscribed before the probe runs, prints
    each call's start and end as they are published.
"""
import collections
import ipaddress
import os
import json
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402
import mcredis  # noqa: E402

FIELDS = ["frame.time_epoch", "sip.Call-ID", "sip.Method", "sip.Status-Code", "sip.CSeq.method", "sip.from.addr",
          "sip.to.addr", "ip.src", "ipv6.src", "sdp.connection_info.address", "sdp.media.port", "sip.to.tag",
          "sip.CSeq.seq"]


def ms(epoch):
    return int(round(float(epoch) * 1000.0, 3) // 1)


def aor(uri):
    for c in ";?>":
        uri = uri.split(c, 1)[0]
    return uri


def tshark_messages(cap):
    rows = []
    for r in mctest.tshark_lines(cap, "sip", FIELDS, ["-o", "sip.desegment_body:TRUE"]):
        r = dict(zip(FIELDS, r + [""] * (len(FIELDS) - len(r))))
        if not r["sip.Call-ID"]:
            continue
        # one row per frame; a frame with several SIP messages (TCP) lists them comma-joined: take each
        n = len(r["sip.Call-ID"].split(","))
        for i in range(n):
            def pick(f):
                v = r[f].split(",")
                return v[i] if i < len(v) else ""
            rows.append({"ms": ms(r["frame.time_epoch"]), "id": pick("sip.Call-ID"), "method": pick("sip.Method"),
                         "status": int(pick("sip.Status-Code") or 0), "cseq": pick("sip.CSeq.method"),
                         "from": pick("sip.from.addr"), "to": pick("sip.to.addr"),
                         "src": (r["ip.src"] or r["ipv6.src"]).split(",")[0], "to_tag": pick("sip.to.tag"),
                         "cseq_no": pick("sip.CSeq.seq"),
                         "sdp": list(zip(r["sdp.connection_info.address"].split(","),
                                         r["sdp.media.port"].split(","))) if r["sdp.media.port"] else []})
    return rows


def expected_calls(msgs):
    """The calls as RFC 3261 says they stand, from tshark's messages in capture order.  An INVITE
    without a To tag starts a call; after a 401/407 challenge the same call goes on with the
    authenticated INVITE (a challenge nothing followed is the call's failure); an INVITE without a To
    tag on a call that ended is a new call on a reused Call-ID (the key tells the latest)."""
    calls = {}
    for m in msgs:
        c = calls.get(m["id"])
        new = m["method"] == "INVITE" and not m["to_tag"] and (c is None or (c["done"] and m["cseq_no"] != c["cseq"]))
        if new:
            sdp = c["sdp"] if c else set()  # the keys of the earlier call's endpoints stay
            calls[m["id"]] = c = {"caller": m["from"], "callee": m["to"], "state": "trying", "invite_ms": m["ms"],
                                  "done": False, "sdp": sdp, "caller_ip": m["src"], "cseq": m["cseq_no"]}
        if c is None:
            continue
        if m["method"] == "INVITE" and not m["to_tag"]:
            c["cseq"] = m["cseq_no"]
            c.pop("challenge", None)
        if m["method"] in ("INVITE", "UPDATE", "PRACK", "ACK") or m["cseq"] in ("INVITE", "UPDATE", "PRACK"):
            c["sdp"].update(m["sdp"])
        if c["done"]:
            continue
        if m["method"] == "BYE":
            c["state"], c["end_ms"], c["done"] = ("ended" if c["state"] == "answered" else "cancelled"), m["ms"], True
        elif m["method"] == "CANCEL" and c["state"] != "answered":
            c["state"], c["end_ms"], c["done"] = "cancelled", m["ms"], True
        elif m["status"] and m["cseq"] == "INVITE":
            if 180 <= m["status"] < 200 and c["state"] == "trying":
                c["state"], c["ring_ms"] = "ringing", m["ms"]
            elif 200 <= m["status"] < 300 and c["state"] != "answered":
                c["state"], c["answer_ms"] = "answered", m["ms"]
            elif m["status"] in (401, 407) and c["state"] != "answered":
                c["challenge"] = m["ms"]
            elif m["status"] >= 300 and c["state"] != "answered":
                c["state"], c["end_ms"], c["done"] = ("cancelled" if m["status"] == 487 else "failed"), m["ms"], True
    for c in calls.values():
        if not c["done"] and "challenge" in c:
            c["state"], c["end_ms"], c["done"] = "failed", c["challenge"], True
    return calls


def expected_registrations(msgs):
    """AOR -> (client address, time of the last 2xx) of REGISTERs answered 2xx."""
    regs, asked = {}, {}
    for m in msgs:
        if m["method"] == "REGISTER":
            asked[m["id"]] = m["src"]
        elif m["cseq"] == "REGISTER" and 200 <= m["status"] < 300 and m["id"] in asked:
            regs[aor(m["to"])] = (asked[m["id"]], m["ms"])
    return regs


def check_capture(c, cap, patterns):
    msgs = tshark_messages(cap)
    calls, regs = expected_calls(msgs), expected_registrations(msgs)
    name = os.path.relpath(cap, mctest.CORPUS) if cap.startswith(mctest.CORPUS) else os.path.basename(cap)
    if not calls and not regs:
        print("NOTE %s: no INVITE and no registration: nothing to compare" % name)
        return
    srv = mcredis.Server()
    flows_json = os.path.join(tempfile.mkdtemp(prefix="mcvoipj"), "flows.json")
    try:
        mctest.run_probe(["-i", cap, "--redis", srv.addr, "--no-cloud-lookups", "--json", flows_json, "-T", RTP_T])
        r = srv.client()
        keys = set(r.scan_iter(count=1000))
        undocumented = [k for k in keys if not any(re.fullmatch(p, k) for p in patterns)]
        c.check(not undocumented, "%s: every key is documented in docs/CLOUD.md (%s)" % (name, undocumented[:5]))
        users = set(r.zrange("voip.users", 0, -1))
        for cid, want in calls.items():
            h = r.hgetall("voip.call." + cid)
            c.check(h.get("state") == want["state"], "%s %s: state %s, tshark says %s" %
                    (name, cid, h.get("state"), want["state"]))
            c.check(h.get("caller") == want["caller"] and h.get("callee") == want["callee"],
                    "%s %s: parties %s -> %s, tshark %s -> %s" % (name, cid, h.get("caller"), h.get("callee"),
                                                                want["caller"], want["callee"]))
            c.check(h.get("caller_ip") == str(ipaddress.ip_address(want["caller_ip"])),
                    "%s %s: caller_ip %s, tshark %s" % (name, cid, h.get("caller_ip"), want["caller_ip"]))
            for t in ("invite_ms", "ring_ms", "answer_ms", "end_ms"):
                got = int(h[t]) if t in h else None
                exp = want.get(t)
                c.check(got == exp or (got is not None and exp is not None and abs(got - exp) <= 1),
                        "%s %s: %s %s, tshark %s" % (name, cid, t, got, exp))
            for addr, port in want["sdp"]:
                if not port or port == "0" or not addr:
                    continue
                a = ipaddress.ip_address(addr)
                key = "voip.rtp.%s:%s" % (("[%s]" % a) if a.version == 6 else a, port)
                owner = r.hget(key, "call_id")
                others = [k for k, w in calls.items() if (addr, port) in w["sdp"]]
                c.check(owner is not None and owner in others,
                        "%s %s: %s names %s (calls announcing it: %s)" % (name, cid, key, owner, others))
            for party in (want["caller"], want["callee"]):
                c.check(aor(party) in users, "%s %s: %s in voip.users" % (name, cid, aor(party)))
        for user, (ip, ok_ms) in regs.items():
            h = r.hgetall("voip.user." + user)
            c.check(h.get("ip") == str(ipaddress.ip_address(ip)) and int(h.get("registered_until", 0)) >= ok_ms,
                    "%s: voip.user.%s ip %s (tshark %s), registered_until %s >= %d" %
                    (name, user, h.get("ip"), ip, h.get("registered_until"), ok_ms))
            c.check(user in users, "%s: %s in voip.users" % (name, user))
        # the events: one start per call, one answer per answered call, one end per ended one
        kinds = collections.Counter()
        for _, f in r.xrange("events"):
            kinds[f["type"]] += 1
        n_answered = sum(1 for w in calls.values() if "answer_ms" in w)
        n_done = sum(1 for w in calls.values() if w["done"])
        c.check(kinds["voip.call.start"] == len(calls) and kinds["voip.call.answer"] == n_answered and
                kinds["voip.call.end"] == n_done, "%s: events start/answer/end %d/%d/%d, calls %d/%d/%d" %
                (name, kinds["voip.call.start"], kinds["voip.call.answer"], kinds["voip.call.end"], len(calls),
                 n_answered, n_done))
        check_media_flows(c, name, flows_json, calls)
        if name == "voip.pcap":
            check_media_quality(c, name, cap, r, calls)
            check_sip_flow_states(c, name, flows_json, calls)
        check_readers(c, name, srv, calls, users)
        if os.path.basename(cap) in ("ndpi_sip.pcap", "voip.pcap"):
            check_watch(c, name, srv, cap, calls)
    finally:
        srv.stop()
    print("%s: %d calls, %d registrations compared" % (name, len(calls), len(regs)))


RTP_T = ("sourceIPv4Address,destinationIPv4Address,sourceIPv6Address,destinationIPv6Address,sourceTransportPort,"
         "destinationTransportPort,protocolIdentifier,rtpPackets,reverseRtpPackets,rtpCallId,sipCallState")


def endpoint(addr, port):
    return (str(ipaddress.ip_address(addr)), str(port))


def check_media_flows(c, name, flows_json, calls):
    """Every RTP flow at an endpoint some call's SDP announced names one of those calls."""
    owners = collections.defaultdict(set)
    for cid, w in calls.items():
        for addr, port in w["sdp"]:
            if addr and port and port != "0":
                owners[endpoint(addr, port)].add(cid)
    n = 0
    for line in open(flows_json):
        f = json.loads(line)
        if not (f.get("rtpPackets") or f.get("reverseRtpPackets")):
            continue
        src = f.get("sourceIPv4Address") or f.get("sourceIPv6Address")
        dst = f.get("destinationIPv4Address") or f.get("destinationIPv6Address")
        want = owners.get(endpoint(dst, f["destinationTransportPort"]), set()) | \
            owners.get(endpoint(src, f["sourceTransportPort"]), set())
        if not want:
            continue
        n += 1
        c.check(f.get("rtpCallId") in want, "%s: RTP flow %s:%s -> %s:%s carries rtpCallId %r, its SDP's call(s) %s" %
                (name, src, f["sourceTransportPort"], dst, f["destinationTransportPort"], f.get("rtpCallId"),
                 sorted(want)))
    print("%s: %d RTP flows tied to their calls" % (name, n))


def check_media_quality(c, name, cap, r, calls):
    """The generated capture: each stream's packets and losses in its call's hash, as tshark counts them."""
    sides = {}
    for cid, w in calls.items():
        h = r.hgetall("voip.call." + cid)
        for side in ("caller", "callee"):
            for ep in filter(None, (h.get(side + "_rtp") or "").split(",")):
                addr, port = ep.rsplit(":", 1)
                sides[endpoint(addr.strip("[]"), port)] = (cid, side)
    n = 0
    for st in mctest.tshark_rtp_streams(cap):
        dst, dport, pkts, lost = st["dst"], st["dport"], st["pkts"], st["lost"]
        where = sides.get(endpoint(dst, dport))
        c.check(where is not None, "%s: tshark's stream to %s:%s is a call's media" % (name, dst, dport))
        if not where:
            continue
        cid, side = where
        h = r.hgetall("voip.call." + cid)
        got = (int(h.get("rtp_to_%s_packets" % side, -1)), int(h.get("rtp_to_%s_lost" % side, -1)))
        c.check(got == (pkts, lost), "%s %s: stream to the %s: packets, lost %s, tshark %s" %
                (name, cid, side, got, (pkts, lost)))
        c.check(0 < float(h.get("rtp_to_%s_mos" % side, 0)) <= 4.5, "%s %s: a MOS for the stream to the %s (%s)" %
                (name, cid, side, h.get("rtp_to_%s_mos" % side)))
        n += 1
    c.check(n > 0, "%s: tshark found the RTP streams" % name)


def check_sip_flow_states(c, name, flows_json, calls):
    """The generated capture: phone i's flow with the proxy carries the state of call i // 2 (phones 2c and
    2c + 1 are its caller and callee), as the call ended."""
    by_caller = {w["caller_ip"]: w for w in calls.values()}
    n = 0
    for line in open(flows_json):
        f = json.loads(line)
        if f.get("destinationTransportPort") != 5060 or not f.get("sourceIPv4Address", "").startswith("10.10."):
            continue
        b = [int(x) for x in f["sourceIPv4Address"].split(".")]
        i = b[2] * 250 + b[3] - 1
        caller = "10.10.%d.%d" % ((2 * (i // 2)) // 250, (2 * (i // 2)) % 250 + 1)
        want = by_caller.get(caller)
        if want is None:
            continue  # a phone of a call the capture does not have (only registered)
        n += 1
        c.check(f.get("sipCallState") == want["state"], "%s: the flow of phone %s says its call is %r, it is %r" %
                (name, f["sourceIPv4Address"], f.get("sipCallState"), want["state"]))
    c.check(n > 0, "%s: SIP flows of phones with calls found (%d)" % (name, n))


def mcquery(srv, *args):
    r = subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "python", "mcquery"), "--redis", srv.addr,
                        "--json"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, json.loads(r.stdout.decode() or "null")


def check_readers(c, name, srv, calls, users):
    rc, rows = mcquery(srv, "voip", "calls", "--all")
    c.check(rc == 0 and sorted(x["call_id"] for x in rows) == sorted(calls),
            "%s: mcquery voip calls --all lists the calls (%s)" % (name, rc))
    rc, rows = mcquery(srv, "voip", "users", "--all")
    c.check(rc == 0 and set(x["uri"] for x in rows) == users, "%s: mcquery voip users --all lists voip.users" % name)
    for cid in list(calls)[:2]:
        rc, rec = mcquery(srv, "voip", "call", cid)
        c.check(rc == 0 and rec and rec.get("state") == calls[cid]["state"], "%s: mcquery voip call %s" % (name, cid))
    ex = subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "examples", "active_voip_users.py"), "--redis",
                         srv.addr, "--all", "--json"], stdout=subprocess.PIPE, timeout=60)
    got = json.loads(ex.stdout.decode() or "[]")
    c.check(ex.returncode == 0 and set(u["uri"] for u in got) == users,
            "%s: examples/active_voip_users.py lists the same users" % name)


def check_watch(c, name, srv, cap, calls):
    """call_quality_watch.py subscribed first, then the probe runs: a start and an end line per call."""
    watch = subprocess.Popen(["/usr/bin/python3", "-u", os.path.join(mctest.SRC, "examples", "call_quality_watch.py"),
                              "--redis", srv.addr, "--idle-timeout", "4"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    time.sleep(1.0)  # its subscription is in place before the first event
    mctest.run_probe(["-i", cap, "--redis", srv.addr, "--no-cloud-lookups"])
    out, _ = watch.communicate(timeout=60)
    lines = out.decode().splitlines()
    starts = [x for x in lines if " start " in x]
    ends = [x for x in lines if " end " in x]
    done = sum(1 for w in calls.values() if w["done"])
    # the capture is replayed into a cloud that already holds its calls: the events are published again
    c.check(len(starts) >= len(calls) and len(ends) >= done and all(any(cid in x for x in starts) for cid in calls),
            "%s: call_quality_watch.py printed %d starts and %d ends for %d calls, %d ended" %
            (name, len(starts), len(ends), len(calls), done))


def main():
    mctest.need_tool("tshark")
    mcredis.need_redis()
    # a generated capture (scripts/gen-voip-pcap.py: registrations, answered, cancelled and refused
    # calls, hung up by either side) always; the corpus's real ones when ../shared is there
    gen = os.path.join(tempfile.mkdtemp(prefix="mcvoip"), "voip.pcap")
    subprocess.run(["/usr/bin/python3", os.path.join(mctest.SRC, "scripts", "gen-voip-pcap.py"), gen, "--calls", "23",
                    "--seconds", "1", "--loss", "0.02", "--jitter", "3"], check=True, stdout=subprocess.DEVNULL)
    caps = [gen]
    if os.path.isdir(mctest.CORPUS):
        caps += mctest.corpus_captures("sip_rtp") + [p for p in mctest.corpus_captures("gre") if "ndpi_gre" in p]
    else:
        print("NOTE: ../shared/corpus is absent: only the generated capture is compared")
    patterns = mcredis.documented_patterns()
    c = mctest.Checker()
    for cap in caps:
        check_capture(c, cap, patterns)
    c.done()


if __name__ == "__main__":
    main()
