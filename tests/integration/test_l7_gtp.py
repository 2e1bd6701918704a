#!/usr/bin/env python3
"""test_l7_gtp.py - the GTP-C analyzer against tshark, message by message.

Runs mcprobe with --l7-log on every capture of ../shared/corpus/gtp_c and
gtp_u, and reads the same GTP-C messages (UDP port 2123) with `tshark -T
fields`: message type, sequence number, e212.imsi, e164.msisdn, gtp.apn /
gtpv2.apn, gtp.teid_data / gtp.teid_cp / gtp.teid_ii, gtpv2.f_teid_gre_key
with gtpv2.f_teid_interface_type, gtp.user_ipv4 / gtp.user_ipv6,
gtpv2.pdn_addr_and_prefix.ipv4 / .ipv6, gtp.ext_imeisv / gtpv2.mei.

A transaction of ours is a request and its response: tshark's messages are
grouped the same way, by (the two endpoints, GTP version, sequence number),
and each group is compared with our transactions of that key: the message
types, the IMSI, MSISDN, IMEI, APN, every TEID (v1 data, control and data
II; v2 F-TEIDs with their interface type) and the UE addresses.

Differences we decided, each justified (checked, never skipped silently):
* A retransmitted request (tshark shows it again with the same sequence
  number) is counted by the analyzer (l7.gtp.retransmissions), not made a
  second transaction: within a group each message type counts once.
* The UE address of a request that asks the network for one is 0.0.0.0 /
  :: in its PAA / End User Address; tshark prints it, the transaction keeps
  the address the response assigned: the unspecified addresses are left
  out of tshark's side.
* A capture with no GTP-C message on port 2123 is a NOTE; the test fails
  if no message at all was compared (exit 77 when the corpus is absent).
"""
import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

FIELDS = ["frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "udp.dstport",
          "gtp.message", "gtp.seq_number", "gtpv2.message_type", "gtpv2.seq", "e212.imsi", "e164.msisdn",
          "gtp.apn", "gtpv2.apn", "gtp.teid_data", "gtp.teid_cp", "gtp.teid_ii", "gtpv2.f_teid_gre_key",
          "gtpv2.f_teid_interface_type", "gtp.user_ipv4", "gtp.user_ipv6", "gtpv2.pdn_addr_and_prefix.ipv4",
          "gtpv2.pdn_addr_and_prefix.ipv6", "gtp.ext_imeisv", "gtpv2.mei", "_ws.malformed"]
UNSPECIFIED = ("0.0.0.0", "::")


def last(v):
    return v.split(",")[-1] if v else ""


def items(v):
    return [x for x in v.split(",") if x] if v else []


def num(v):
    return int(v, 0)


class Message:
    def __init__(self, row):
        g = dict(zip(FIELDS, row + [""] * (len(FIELDS) - len(row))))
        self.num = int(g["frame.number"])
        src = last(g["ipv6.src"]) or last(g["ip.src"])
        dst = last(g["ipv6.dst"]) or last(g["ip.dst"])
        self.conn = mctest.conn_key(src, last(g["udp.srcport"]), dst, last(g["udp.dstport"]))
        self.v2 = bool(g["gtpv2.message_type"])
        self.type = num(last(g["gtpv2.message_type"] if self.v2 else g["gtp.message"]))
        seq = last(g["gtpv2.seq"] if self.v2 else g["gtp.seq_number"])
        self.seq = num(seq) if seq else None
        self.imsi = set(items(g["e212.imsi"]))
        self.msisdn = set(items(g["e164.msisdn"]))
        self.imei = set(items(g["gtpv2.mei"] if self.v2 else g["gtp.ext_imeisv"]))
        self.apn = set(items(g["gtpv2.apn"] if self.v2 else g["gtp.apn"]))
        if self.v2:
            self.teids = sorted(zip((num(x) for x in items(g["gtpv2.f_teid_interface_type"])),
                                    (num(x) for x in items(g["gtpv2.f_teid_gre_key"]))))
        else:
            self.teids = sorted([(0xf0, num(x)) for x in items(g["gtp.teid_data"])] +
                                [(0xf1, num(x)) for x in items(g["gtp.teid_cp"])] +
                                [(0xf2, num(x)) for x in items(g["gtp.teid_ii"])])
        v4 = g["gtpv2.pdn_addr_and_prefix.ipv4"] if self.v2 else g["gtp.user_ipv4"]
        v6 = g["gtpv2.pdn_addr_and_prefix.ipv6"] if self.v2 else g["gtp.user_ipv6"]
        self.ue4 = set(a for a in items(v4) if a not in UNSPECIFIED)
        self.ue6 = set(a for a in items(v6) if a not in UNSPECIFIED)
        self.malformed = bool(g["_ws.malformed"])


def tshark_groups(capture):
    rows = mctest.tshark_lines(capture, "udp.port == 2123 && (gtpv2 || (gtp && !gtpprime))", FIELDS)
    groups = collections.OrderedDict()
    for r in rows:
        m = Message(r)
        if m.seq is None or m.malformed:
            continue
        groups.setdefault((m.conn, 2 if m.v2 else 1, m.seq), []).append(m)
    return groups


def our_groups(capture, wd):
    groups = collections.defaultdict(list)
    for conn, txs in mctest.transactions_by_conn(capture, "gtp", wd).items():
        for t in txs:
            if "gtpSequence" in t:
                groups[(conn, t["gtpVersion"], t["gtpSequence"])].append(t)
    return groups


def expected(msgs):
    """tshark's values of a group: each message type once (a retransmission repeats it)."""
    seen, e = set(), {"types": set(), "imsi": set(), "msisdn": set(), "imei": set(), "apn": set(), "teids": [],
                      "ue4": set(), "ue6": set()}
    for m in msgs:
        if m.type in seen:
            continue
        seen.add(m.type)
        e["types"].add(m.type)
        for k in ("imsi", "msisdn", "imei", "apn", "ue4", "ue6"):
            e[k] |= getattr(m, k)
        e["teids"] += m.teids
    e["teids"].sort()
    return e


def ours(txs):
    o = {"types": set(), "imsi": set(), "msisdn": set(), "imei": set(), "apn": set(), "teids": [], "ue4": set(),
         "ue6": set()}
    for t in txs:
        o["types"].add(t["gtpMessageType"])
        if "gtpResponseType" in t:
            o["types"].add(t["gtpResponseType"])
        for k, key in (("imsi", "mobileIMSI"), ("msisdn", "mobileMSISDN"), ("imei", "mobileIMEI"),
                       ("apn", "gtpApn"), ("ue4", "gtpUeIPv4"), ("ue6", "gtpUeIPv6")):
            if key in t:
                o[k].add(t[key])
        o["teids"] += [(f["interface"], f["teid"]) for f in t.get("gtpFteids", [])]
    o["teids"].sort()
    return o


def main():
    mctest.need_tool("tshark")
    captures = mctest.corpus_captures("gtp_c") + mctest.corpus_captures("gtp_u")
    c = mctest.Checker()
    compared = 0
    for cap in captures:
        name = os.path.relpath(cap, mctest.CORPUS)
        wd = tempfile.mkdtemp(prefix="mcgtp")
        theirs = tshark_groups(cap)
        mine = our_groups(cap, wd)
        if not theirs:
            print("NOTE: %s: no GTP-C message on port 2123" % name)
            c.check(not mine, "%s: transactions where tshark sees no GTP-C: %s" % (name, list(mine)[:3]))
            continue
        for key, msgs in theirs.items():
            txs = mine.get(key, [])
            where = "%s: frames %s (v%d seq %d)" % (name, [m.num for m in msgs], key[1], key[2])
            c.check(bool(txs), "%s: no transaction" % where)
            if not txs:
                continue
            e, o = expected(msgs), ours(txs)
            compared += len(msgs)
            for k in ("types", "imsi", "msisdn", "imei", "apn", "teids", "ue4", "ue6"):
                c.check(e[k] == o[k], "%s: %s: tshark %s, ours %s" % (where, k, e[k], o[k]))
        for key in mine:
            c.check(key in theirs, "%s: a transaction tshark has no message for: %s" % (name, key[1:]))
    c.check(compared > 0, "no GTP-C message was compared in any capture")
    print("%d GTP-C messages compared" % compared)
    c.done()


if __name__ == "__main__":
    main()
