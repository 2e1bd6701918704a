#!/usr/bin/python3
"""test_gtp_subscribers.py - mobile subscribers learned from GTP-C, their traffic tied to them, across probes.

scripts/gen-gtp-pcap.py writes a capture of thousands of subscribers (GTPv1
and GTPv2, IPv4, IPv6 and IPv4v6 UEs, handovers, rejected creates,
retransmissions, deletes, GTP-U both ways, and the post-gateway plain IP
traffic) with its truth.  Then:

One probe reads the capture into a private redis-server:
  * its counters: sessions created, updated (handovers), deleted and
    rejected as the generator made them;
  * every accepted subscriber's traffic on user.<imsi> (sent/rcvd packets
    and bytes) equals the generator's, packet for packet;
  * a subscriber still attached: user.<imsi> with its IMSI, MSISDN, IMEI,
    APN, RAT and addresses; user.ip.<ue> and user.teid.<addr>:<teid> of its
    endpoints then in force name it; the endpoints a handover left are
    gone; a deleted one: no user.ip.* or user.teid.* left, user.<imsi> without
    addresses and with a TTL (--gtp-linger); a rejected one: nothing;
  * events.gtp.session.create once per accepted subscriber, .delete once
    per deleted one;
  * every flow of a UE address (GTP-U inner flows) carries its subscriber's
    mobileIMSI, mobileMSISDN, mobileIMEI and gtpApn, and no other flow but
    GTP-C's carries one;
  * every key written is documented in docs/CLOUD.md.

Three probes, one cloud (root only: live capture on lo): the capture split
by scripts/split-pcap.py --plane gtp into its control plane and the rest,
and the post-gateway capture, replayed on lo at their pace; one probe
captures the GTP-C, one the GTP-U, one the plain IP after the gateway
(BPF filters).  The user-plane and post-gateway probes learn the
subscribers from the cloud only: their flows carry the right IMSI and
MSISDN, and user.<imsi> counts each subscriber's GTP-U traffic exactly.
"""
import collections
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mcpcap  # noqa: E402
import mcredis  # noqa: E402
import mctest  # noqa: E402

GEN = os.path.join(mctest.SRC, "scripts", "gen-gtp-pcap.py")
SPLIT = os.path.join(mctest.SRC, "scripts", "split-pcap.py")
T = ("sourceIPv4Address,destinationIPv4Address,sourceIPv6Address,destinationIPv6Address,sourceTransportPort,"
     "destinationTransportPort,protocolIdentifier,packetDeltaCount,octetDeltaCount,mobileIMSI,mobileMSISDN,"
     "mobileIMEI,gtpApn")


def generate(wd, n, seconds, seed):
    cap, sgi, truth = (os.path.join(wd, x) for x in ("mobile.pcap", "sgi.pcap", "truth.json"))
    out = subprocess.run(["/usr/bin/python3", GEN, cap, "--subscribers", str(n), "--seconds", str(seconds),
                          "--seed", str(seed), "--truth", truth, "--post-gateway", sgi], stdout=subprocess.PIPE,
                         check=True).stdout
    return cap, sgi, json.load(open(truth))["subscribers"], json.loads(out)


def ue_index(subs):
    """UE address -> subscriber: IPv4 whole, IPv6 by its /64 (the UE picks its interface id)."""
    idx = {}
    for s in subs:
        if not s["accepted"]:
            continue
        if s["ue_ipv4"]:
            idx[s["ue_ipv4"]] = s
        if s["ue_ipv6"]:
            idx[str(ipaddress.ip_network(s["ue_ipv6"] + "/64", strict=False))] = s
    return idx


def owner(idx, addr):
    if not addr:
        return None
    a = ipaddress.ip_address(addr)
    return idx.get(str(a)) if a.version == 4 else idx.get(str(ipaddress.ip_network(str(a) + "/64", strict=False)))


def check_flows(c, name, flows, subs, allow_gtpc=True, fields=("mobileIMSI", "mobileMSISDN", "mobileIMEI", "gtpApn")):
    """Every flow of a UE carries its subscriber; no other (GTP-C flows aside) carries one."""
    idx = ue_index(subs)
    tagged = wrong = stray = 0
    for f in flows:
        src = f.get("sourceIPv4Address") or f.get("sourceIPv6Address")
        dst = f.get("destinationIPv4Address") or f.get("destinationIPv6Address")
        s = owner(idx, src) or owner(idx, dst)
        if s is None:
            gtpc = 2123 in (f.get("sourceTransportPort"), f.get("destinationTransportPort"))
            if f.get("mobileIMSI") and not (allow_gtpc and gtpc):
                stray += 1
            continue
        want = {"mobileIMSI": s["imsi"], "mobileMSISDN": s["msisdn"], "mobileIMEI": s["imei"], "gtpApn": s["apn"]}
        got = {k: f.get(k, "") for k in fields}
        if got == {k: want[k] for k in fields}:
            tagged += 1
        else:
            wrong += 1
            if wrong <= 5:
                print("%s: flow %s -> %s carries %s, its subscriber is %s" % (name, src, dst, got, want))
    c.check(tagged > 0 and wrong == 0, "%s: %d UE flows carry their subscriber, %d do not" % (name, tagged, wrong))
    c.check(stray == 0, "%s: %d flows of no UE carry a subscriber" % (name, stray))
    return tagged


def check_counts(c, name, r, subs):
    """user.<imsi> sent/rcvd packets and bytes equal the generator's GTP-U traffic."""
    bad = 0
    for s in subs:
        if not s["accepted"]:
            continue
        h = r.hgetall("user." + s["imsi"])
        got = tuple(int(h.get(k, 0)) for k in ("sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes"))
        want = (s["up_packets"], s["down_packets"], s["up_bytes"], s["down_bytes"])
        if got != want:
            bad += 1
            if bad <= 5:
                print("%s: user.%s sent/rcvd packets and bytes %s, the generator's %s" % (name, s["imsi"], got, want))
    n = sum(1 for s in subs if s["accepted"])
    c.check(n > 0 and bad == 0, "%s: %d subscribers' traffic counted exactly on user.<imsi>, %d not" %
            (name, n - bad, bad))


def teid_key(ep):
    a = ipaddress.ip_address(ep["addr"])
    return "user.teid.%s:%d" % (("[%s]" % a) if a.version == 6 else a, ep["teid"])


def check_keys(c, r, subs):
    live = deleted = 0
    for s in subs:
        imsi = s["imsi"]
        if not s["accepted"]:
            c.check(not r.exists("user." + imsi), "rejected %s: no user key" % imsi)
            continue
        h = r.hgetall("user." + imsi)
        eps = s["user_plane"]["access"] + s["user_plane"]["gateway"]
        if s["delete_ms"] is None:
            live += 1
            if s["ue_ipv6"]:
                net = ipaddress.ip_network(s["ue_ipv6"] + "/64", strict=False)
                c.check(r.get("user.ip.%s/64" % net.network_address) == imsi,
                        "live %s: user.ip.%s/64 names it" % (imsi, net.network_address))
            v6 = s["ue_ipv6_announced"]
            want = {"imsi": imsi, "msisdn": s["msisdn"], "imei": s["imei"], "apn": s["apn"], "rat": s["rat"],
                    "ip": s["ue_ipv4"] or v6, "ip6": v6 or ""}
            got = {k: h.get(k, "") for k in want}
            c.check(got == want, "live %s: user.<imsi> %s, the generator's %s" % (imsi, got, want))
            for a in filter(None, (s["ue_ipv4"], v6)):
                c.check(r.get("user.ip." + a) == imsi, "live %s: user.ip.%s names it" % (imsi, a))
            now = s["user_plane"]["access"][-1:] + s["user_plane"]["gateway"]
            for ep in now:
                c.check(r.get(teid_key(ep)) == imsi, "live %s: %s names it" % (imsi, teid_key(ep)))
            for ep in s["user_plane"]["access"][:-1]:
                c.check(not r.exists(teid_key(ep)), "live %s: %s left by its handover is gone" % (imsi, teid_key(ep)))
        else:
            deleted += 1
            left = [teid_key(ep) for ep in eps if r.exists(teid_key(ep))]
            left += ["user.ip." + a for a in filter(None, (s["ue_ipv4"], s["ue_ipv6_announced"]))
                     if r.exists("user.ip." + a)]
            if s["ue_ipv6"]:
                k6 = "user.ip.%s/64" % ipaddress.ip_network(s["ue_ipv6"] + "/64", strict=False).network_address
                left += [k6] if r.exists(k6) else []
            c.check(not left, "deleted %s: no association left (%s)" % (imsi, left))
            c.check("ip" not in h and "teids" not in h and r.pttl("user." + imsi) > 0,
                    "deleted %s: user.<imsi> lingers without addresses, with a TTL (%s, ttl %d)" %
                    (imsi, sorted(h)[:6], r.pttl("user." + imsi)))
    c.check(live > 0 and deleted > 0, "keys of %d attached and %d deleted subscribers checked" % (live, deleted))


def file_run(c, wd):
    cap, _, subs, summary = generate(wd, 2000, 60, 20240601)
    srv = mcredis.Server()
    try:
        flows, ctr = mctest.probe_file(cap, ["--redis", srv.addr, "-T", T], workdir=wd)
        r = srv.client()
        accepted = [s for s in subs if s["accepted"]]
        want = {"l7.mobile.sessions_created": len(accepted),
                "l7.mobile.sessions_deleted": sum(1 for s in accepted if s["delete_ms"] is not None),
                "l7.mobile.sessions_rejected": len(subs) - len(accepted),
                "l7.mobile.sessions_updated": sum(1 for s in accepted if s["handover_ms"] is not None)}
        got = {k: ctr.get(k) for k in want}
        c.check(got == want, "file: session counters %s, the generator's %s" % (got, want))
        check_counts(c, "file", r, subs)
        check_keys(c, r, subs)
        kinds = collections.Counter()
        for _, e in r.xrange("events"):
            if e["type"].startswith("gtp.session."):
                kinds[(e["type"], json.loads(e["data"])["imsi"])] += 1
        creates = sorted(i for (t, i) in kinds if t == "gtp.session.create")
        deletes = sorted(i for (t, i) in kinds if t == "gtp.session.delete")
        c.check(creates == sorted(s["imsi"] for s in accepted) and all(
            kinds[("gtp.session.create", i)] == 1 for i in creates), "file: one session.create per subscriber")
        c.check(deletes == sorted(s["imsi"] for s in accepted if s["delete_ms"] is not None),
                "file: one session.delete per deleted subscriber")
        check_flows(c, "file", flows, subs)
        patterns = mcredis.documented_patterns()
        undocumented = [k for k in r.scan_iter(count=1000) if not any(re.fullmatch(p, k) for p in patterns)]
        c.check(not undocumented, "file: every key is documented in docs/CLOUD.md (%s)" % undocumented[:5])
        print("file: %s" % summary)
    finally:
        srv.stop()


def live_run(c, wd):
    """Three probes on lo, one cloud: GTP-C, GTP-U, the plain IP after the gateway."""
    cap, sgi, subs, summary = generate(wd, 400, 16, 11)
    control, rest = os.path.join(wd, "control.pcap"), os.path.join(wd, "user.pcap")
    subprocess.run(["/usr/bin/python3", SPLIT, "--plane", "gtp", cap, control, rest], check=True,
                   stdout=subprocess.DEVNULL)
    srv = mcredis.Server()
    probes = {}
    filters = {"control": "udp port 2123", "user": "udp port 2152",
               "sgi": "net 100.64.0.0/10 or net 2001:db8:100::/48"}
    try:
        for name, flt in filters.items():
            out = os.path.join(wd, name + ".json")
            probes[name] = (subprocess.Popen([mctest.MCPROBE, "-i", "lo", "-q", "--stats-interval", "0", "-f", flt,
                                              "--redis", srv.addr, "--json", out, "-T", T, "-d", "300"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out)
        time.sleep(2.0)  # the captures are open
        frames = sorted(mcpcap.read_pcap(control) + mcpcap.read_pcap(rest) + mcpcap.read_pcap(sgi),
                        key=lambda x: x[0])
        n, late = mcpcap.replay("lo", frames)
        print("live: %d frames replayed on lo (the last %.3f s late)" % (n, late))
        time.sleep(1.5)  # the last flushes
        for p, _ in probes.values():
            p.send_signal(signal.SIGTERM)
        for name, (p, _) in probes.items():
            p.wait(timeout=60)
            c.check(p.returncode == 0, "live %s probe exits 0: %s" % (name, p.stderr.read().decode()[-300:]))
        r = srv.client()
        user_flows = [json.loads(x) for x in open(probes["user"][1])]
        sgi_flows = [json.loads(x) for x in open(probes["sgi"][1])]
        check_flows(c, "live user plane", user_flows, subs, allow_gtpc=False)
        # after the gateway the user lookups give what user.<imsi> holds for flows' clients: IMSI and MSISDN
        # (an IPv6 UE's address is not the one its session announced: found by user.ip.<prefix>/64)
        n6 = sum(1 for f in sgi_flows if f.get("sourceIPv6Address"))
        c.check(n6 > 0, "live: the post-gateway capture has IPv6 UE flows (%d)" % n6)
        check_flows(c, "live after the gateway", sgi_flows, subs, allow_gtpc=False,
                    fields=("mobileIMSI", "mobileMSISDN"))
        check_counts(c, "live", r, subs)
        print("live: %s" % summary)
    finally:
        for p, _ in probes.values():
            if p.poll() is None:
                p.kill()
        srv.stop()


def main():
    mcredis.need_redis()
    c = mctest.Checker()
    wd = tempfile.mkdtemp(prefix="mcgtp")
    file_run(c, wd)
    if os.geteuid() == 0:
        live_run(c, tempfile.mkdtemp(prefix="mcgtplive"))
    else:
        print("NOTE: not root: the three live probes on lo are not run (CI runs as root)")
    c.done()


if __name__ == "__main__":
    main()
