#!/usr/bin/python3
"""test_gtp_generator.py - scripts/gen-gtp-pcap.py writes what its truth says, as tshark reads it.

Generates a small mobile capture (200 subscribers, GTPv1 and GTPv2, IPv4,
IPv6 and IPv4v6 UEs, with its post-gateway capture and truth) twice with
the same arguments (same bytes), then with tshark:
  * no frame is malformed or carries an expert warning or error (IP, UDP
    and TCP checksums verified);
  * every subscriber's Create request carries its IMSI, MSISDN, IMEISV,
    APN, RAT type and the access side's TEIDs and addresses; its Create
    response the cause (accepted or not), the gateway side's TEIDs and
    addresses and the UE address (v1 End User Address, v2 PAA); a
    handover's Update PDP Context / Modify Bearer request the new access
    endpoint;
  * every GTP-U packet belongs to one subscriber (its inner UE address),
    goes to the TEID and address of the right side then in force, within
    the session's life; per subscriber, up/down packets and inner bytes
    equal the truth; a rejected subscriber has none;
  * the post-gateway capture's packets per subscriber equal the truth;
  * scripts/split-pcap.py --plane gtp puts each frame in exactly one
    output: the counts add up, the first holds only UDP port 2123, the
    second none.
Skips (77) when tshark is absent.
"""
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

GEN = os.path.join(mctest.SRC, "scripts", "gen-gtp-pcap.py")
SPLIT = os.path.join(mctest.SRC, "scripts", "split-pcap.py")
CHECKSUMS = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]


def generate(wd, tag):
    cap, sgi, truth = (os.path.join(wd, tag + x) for x in (".pcap", "-sgi.pcap", "-truth.json"))
    out = subprocess.run(["/usr/bin/python3", GEN, cap, "--subscribers", "200", "--seconds", "12", "--seed", "7",
                          "--truth", truth, "--post-gateway", sgi], stdout=subprocess.PIPE, check=True).stdout
    return cap, sgi, json.load(open(truth)), json.loads(out)


def rows(cap, flt, fields, extra=()):
    """tshark rows as dicts of field -> list of values (every occurrence)."""
    return [{f: (v.split(",") if v else []) for f, v in zip(fields, r + [""] * len(fields))}
            for r in mctest.tshark_lines(cap, flt, fields, list(extra))]


def count(cap, flt, extra=()):
    return len(mctest.tshark_lines(cap, flt, ["frame.number"], list(extra)))


def nums(values):
    """tshark's integers (decimal or 0x hex) as ints."""
    return [int(x, 0) for x in values]


def ipn(s):
    return str(ipaddress.ip_address(s)) if s else None


def check_control(c, cap, subs):
    by_imsi = {s["imsi"]: s for s in subs}
    v1 = ["e212.imsi", "e164.msisdn", "gtp.apn", "gtp.ext_imeisv", "gtp.ext_rat_type", "gtp.teid_data", "gtp.teid_cp",
          "gtp.gsn_ipv4", "ip.src"]
    seen = set()
    for r in rows(cap, "gtp.message == 0x10", v1):
        s = by_imsi.get(r["e212.imsi"][0] if r["e212.imsi"] else "")
        c.check(s is not None and s["gtp_version"] == 1, "v1 Create request with IMSI %s: no such v1 subscriber" %
                r["e212.imsi"])
        if not s:
            continue
        seen.add(s["imsi"])
        want = [s["msisdn"], s["apn"], s["imei"], str(s["rat_type"])]
        got = [r["e164.msisdn"][:1], r["gtp.apn"][:1], r["gtp.ext_imeisv"][:1], r["gtp.ext_rat_type"][:1]]
        c.check(got == [[x] for x in want], "v1 %s: Create request says %s, truth %s" % (s["imsi"], got, want))
        if s["accepted"]:
            ctl, acc = s["control"]["access"], s["user_plane"]["access"][0]
            c.check(nums(r["gtp.teid_data"]) == [acc["teid"]] and nums(r["gtp.teid_cp"]) == [ctl["teid"]] and
                    r["gtp.gsn_ipv4"] == [ctl["addr"], acc["addr"]] and r["ip.src"] == [ctl["addr"]],
                    "v1 %s: Create request TEIDs/GSN addresses %s, truth %s %s" % (s["imsi"], r, ctl, acc))
    c.check(seen == {s["imsi"] for s in subs if s["gtp_version"] == 1}, "v1: not every subscriber's Create seen")
    by_ctl = {s["control"]["access"]["teid"]: s for s in subs if s["accepted"]}
    by_gw_ctl = {s["control"]["gateway"]["teid"]: s for s in subs if s["accepted"]}
    resp = ["gtp.teid", "gtp.cause", "gtp.teid_data", "gtp.teid_cp", "gtp.gsn_ipv4", "gtp.user_ipv4", "gtp.user_ipv6"]
    n_ok = 0
    for r in rows(cap, "gtp.message == 0x11", resp):
        s = by_ctl.get(int(r["gtp.teid"][0], 0))
        if r["gtp.cause"] != ["128"]:
            c.check(s is None, "v1 Create response cause %s to an accepted subscriber" % r["gtp.cause"])
            continue
        c.check(s is not None, "v1 accepted Create response to TEID %s: no subscriber" % r["gtp.teid"])
        if not s:
            continue
        n_ok += 1
        gw, gctl = s["user_plane"]["gateway"][0], s["control"]["gateway"]
        c.check(nums(r["gtp.teid_data"]) == [gw["teid"]] and nums(r["gtp.teid_cp"]) == [gctl["teid"]] and
                r["gtp.gsn_ipv4"] == [gctl["addr"], gw["addr"]], "v1 %s: Create response endpoints %s" % (s["imsi"], r))
        c.check(r["gtp.user_ipv4"][:1] == ([s["ue_ipv4"]] if s["ue_ipv4"] else []) and
                [ipn(x) for x in r["gtp.user_ipv6"][:1]] == ([s["ue_ipv6_announced"]] if s["ue_ipv6"] else []),
                "v1 %s: End User Address %s %s, truth %s %s" % (s["imsi"], r["gtp.user_ipv4"], r["gtp.user_ipv6"],
                                                                  s["ue_ipv4"], s["ue_ipv6_announced"]))
    c.check(n_ok == sum(1 for s in subs if s["accepted"] and s["gtp_version"] == 1),
            "v1: %d accepted Create responses, truth %d" % (n_ok, sum(1 for s in subs if s["accepted"] and
                                                                       s["gtp_version"] == 1)))
    for r in rows(cap, "gtp.message == 0x12", ["gtp.teid", "gtp.teid_data", "gtp.gsn_ipv4"]):
        s = by_gw_ctl.get(int(r["gtp.teid"][0], 0))
        c.check(s is not None and len(s["user_plane"]["access"]) == 2 and
                nums(r["gtp.teid_data"]) == [s["user_plane"]["access"][1]["teid"]] and
                r["gtp.gsn_ipv4"][1:] == [s["user_plane"]["access"][1]["addr"]],
                "v1 Update request %s: not the truth's new access endpoint" % r)

    v2 = ["e212.imsi", "e164.msisdn", "gtpv2.apn", "gtpv2.mei", "gtpv2.rat_type", "gtpv2.f_teid_interface_type",
          "gtpv2.f_teid_gre_key", "gtpv2.f_teid_ipv4"]
    seen = set()

    def fteids(r):
        return list(zip(nums(r["gtpv2.f_teid_interface_type"]), nums(r["gtpv2.f_teid_gre_key"]),
                        r["gtpv2.f_teid_ipv4"]))

    for r in rows(cap, "gtpv2.message_type == 32", v2):
        s = by_imsi.get(r["e212.imsi"][0] if r["e212.imsi"] else "")
        c.check(s is not None and s["gtp_version"] == 2, "v2 Create request with IMSI %s: no such v2 subscriber" %
                r["e212.imsi"])
        if not s:
            continue
        seen.add(s["imsi"])
        want = [s["msisdn"], s["apn"], s["imei"], str(s["rat_type"])]
        got = [r["e164.msisdn"][:1], r["gtpv2.apn"][:1], r["gtpv2.mei"][:1], r["gtpv2.rat_type"][:1]]
        c.check(got == [[x] for x in want], "v2 %s: Create request says %s, truth %s" % (s["imsi"], got, want))
        if s["accepted"]:
            ctl, acc = s["control"]["access"], s["user_plane"]["access"][0]
            f = fteids(r)
            c.check((10, ctl["teid"], ctl["addr"]) in f and (0, acc["teid"], acc["addr"]) in f,
                    "v2 %s: Create request F-TEIDs %s, truth %s %s" % (s["imsi"], f, ctl, acc))
    c.check(seen == {s["imsi"] for s in subs if s["gtp_version"] == 2}, "v2: not every subscriber's Create seen")
    n_ok = 0
    for r in rows(cap, "gtpv2.message_type == 33", ["gtpv2.teid", "gtpv2.cause", "gtpv2.f_teid_interface_type",
                                                     "gtpv2.f_teid_gre_key", "gtpv2.f_teid_ipv4",
                                                     "gtpv2.pdn_addr_and_prefix.ipv4",
                                                     "gtpv2.pdn_addr_and_prefix.ipv6"]):
        s = by_ctl.get(int(r["gtpv2.teid"][0], 0))
        if r["gtpv2.cause"][:1] != ["16"]:
            c.check(s is None, "v2 Create response cause %s to an accepted subscriber" % r["gtpv2.cause"])
            continue
        c.check(s is not None, "v2 accepted Create response to TEID %s: no subscriber" % r["gtpv2.teid"])
        if not s:
            continue
        n_ok += 1
        gw, gctl, f = s["user_plane"]["gateway"][0], s["control"]["gateway"], fteids(r)
        c.check((11, gctl["teid"], gctl["addr"]) in f and (1, gw["teid"], gw["addr"]) in f,
                "v2 %s: Create response F-TEIDs %s, truth %s %s" % (s["imsi"], f, gctl, gw))
        p6 = [ipn(x) for x in r["gtpv2.pdn_addr_and_prefix.ipv6"]]
        c.check(r["gtpv2.pdn_addr_and_prefix.ipv4"] == ([s["ue_ipv4"]] if s["ue_ipv4"] else []) and
                p6 == ([s["ue_ipv6_announced"]] if s["ue_ipv6"] else []) and
                all(ipaddress.ip_address(x) in ipaddress.ip_network(s["ue_ipv6_prefix"]) for x in p6),
                "v2 %s: PAA %s %s, truth %s %s" % (s["imsi"], r["gtpv2.pdn_addr_and_prefix.ipv4"], p6, s["ue_ipv4"],
                                                   s["ue_ipv6_prefix"]))
    c.check(n_ok == sum(1 for s in subs if s["accepted"] and s["gtp_version"] == 2), "v2: accepted responses")
    for r in rows(cap, "gtpv2.message_type == 34", ["gtpv2.teid", "gtpv2.f_teid_interface_type",
                                                     "gtpv2.f_teid_gre_key", "gtpv2.f_teid_ipv4"]):
        s = by_gw_ctl.get(int(r["gtpv2.teid"][0], 0))
        c.check(s is not None and len(s["user_plane"]["access"]) == 2 and
                fteids(r) == [(0, s["user_plane"]["access"][1]["teid"], s["user_plane"]["access"][1]["addr"])],
                "v2 Modify Bearer request %s: not the truth's new access endpoint" % r)


def check_user_plane(c, cap, subs):
    by_ue = {}
    for s in subs:
        for a in ("ue_ipv4", "ue_ipv6"):
            if s[a]:
                by_ue[s[a]] = s
    got = {s["imsi"]: [0, 0, 0, 0] for s in subs}
    bad = 0
    for r in rows(cap, "gtp.message == 0xff", ["frame.time_epoch", "ip.src", "ip.dst", "ip.len", "ipv6.src",
                                                "ipv6.dst", "ipv6.plen", "gtp.teid"]):
        outer_dst = r["ip.dst"][0]
        if r["ipv6.src"]:
            src, dst, length = ipn(r["ipv6.src"][0]), ipn(r["ipv6.dst"][0]), 40 + int(r["ipv6.plen"][0])
        else:
            src, dst, length = r["ip.src"][1], r["ip.dst"][1], int(r["ip.len"][1])
        s, up = (by_ue.get(src), True) if src in by_ue else (by_ue.get(dst), False)
        if not s or not s["accepted"]:
            bad += 1
            continue
        t_ms = float(r["frame.time_epoch"][0]) * 1000
        teid = int(r["gtp.teid"][0], 0)
        ends = s["user_plane"]["gateway"] if up else s["user_plane"]["access"]
        ok = {"addr": outer_dst, "teid": teid} in ends
        if s["handover_ms"] is not None and not up:
            ok = ok and ends.index({"addr": outer_dst, "teid": teid}) == (1 if t_ms >= s["handover_ms"] else 0)
        ok = ok and s["create_ms"] <= t_ms and (s["delete_ms"] is None or t_ms < s["delete_ms"])
        bad += not ok
        k = got[s["imsi"]]
        k[0 if up else 2] += 1
        k[1 if up else 3] += length
    c.check(bad == 0, "%d GTP-U packets not of a live subscriber, or to a wrong TEID/address" % bad)
    for s in subs:
        want = [s["up_packets"], s["up_bytes"], s["down_packets"], s["down_bytes"]]
        c.check(got[s["imsi"]] == want, "%s: GTP-U up/down packets/bytes %s, truth %s" % (s["imsi"], got[s["imsi"]],
                                                                                           want))
    c.check(any(s["ue_ipv6"] and s["up_packets"] for s in subs) and any(s["handover_ms"] for s in subs) and
            any(not s["accepted"] for s in subs), "the capture lacks IPv6 traffic, handovers or rejections")


def check_sgi(c, sgi, subs):
    by_ue = {}
    for s in subs:
        for a in ("ue_ipv4", "ue_ipv6"):
            if s[a]:
                by_ue[s[a]] = s
    got = {s["imsi"]: [0, 0, 0, 0] for s in subs}
    for r in rows(sgi, "ip or ipv6", ["ip.src", "ip.dst", "ip.len", "ipv6.src", "ipv6.dst", "ipv6.plen"]):
        if r["ipv6.src"]:
            src, dst, length = ipn(r["ipv6.src"][0]), ipn(r["ipv6.dst"][0]), 40 + int(r["ipv6.plen"][0])
        else:
            src, dst, length = r["ip.src"][0], r["ip.dst"][0], int(r["ip.len"][0])
        up = src in by_ue
        s = by_ue.get(src if up else dst)
        c.check(s is not None, "post-gateway packet %s -> %s: no subscriber" % (src, dst))
        if s:
            got[s["imsi"]][0 if up else 2] += 1
            got[s["imsi"]][1 if up else 3] += length
    for s in subs:
        want = [s["sgi_up_packets"], s["sgi_up_bytes"], s["sgi_down_packets"], s["sgi_down_bytes"]]
        c.check(got[s["imsi"]] == want, "%s: post-gateway packets/bytes %s, truth %s" % (s["imsi"], got[s["imsi"]],
                                                                                          want))


def check_split(c, cap, wd, total, gtpc):
    ctl, rest = os.path.join(wd, "ctl.pcap"), os.path.join(wd, "rest.pcap")
    out = json.loads(subprocess.run(["/usr/bin/python3", SPLIT, "--plane", "gtp", cap, ctl, rest],
                                    stdout=subprocess.PIPE, check=True).stdout)
    n_ctl, n_rest = count(ctl, ""), count(rest, "")
    c.check(out == {"signalling": gtpc, "rest": total - gtpc} and n_ctl == gtpc and n_ctl + n_rest == total,
            "split-pcap --plane gtp: %s, tshark counts %d + %d, want %d GTP-C of %d" %
            (out, n_ctl, n_rest, gtpc, total))
    c.check(count(ctl, "!(udp.port == 2123)") == 0, "the control-plane file holds frames not on UDP port 2123")
    c.check(count(rest, "udp.port == 2123") == 0, "the rest holds frames on UDP port 2123")


def main():
    mctest.need_tool("tshark")
    c = mctest.Checker()
    wd = tempfile.mkdtemp(prefix="mcgtp")
    cap, sgi, truth, summary = generate(wd, "a")
    cap2, sgi2, _, _ = generate(wd, "b")
    c.check(open(cap, "rb").read() == open(cap2, "rb").read() and open(sgi, "rb").read() == open(sgi2, "rb").read(),
            "the same arguments wrote different bytes")
    subs = truth["subscribers"]
    c.check(len(subs) == 200 and summary["gtpv1"] == 100 and summary["ipv6"] > 0 and summary["ipv4v6"] > 0,
            "summary %s" % summary)
    for f in (cap, sgi):
        n = count(f, "_ws.malformed || _ws.expert.severity >= warning", CHECKSUMS)
        c.check(n == 0, "%s: %d frames malformed or with an expert warning/error" % (os.path.basename(f), n))
    total = count(cap, "")
    c.check(total == summary["packets"], "tshark reads %d frames, the generator wrote %d" % (total, summary["packets"]))
    check_control(c, cap, subs)
    check_user_plane(c, cap, subs)
    check_sgi(c, sgi, subs)
    check_split(c, cap, wd, total, summary["gtpc_packets"])
    c.done()


if __name__ == "__main__":
    main()
