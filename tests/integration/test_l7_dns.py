#!/usr/bin/env python3
"""test_l7_dns.py - the DNS analyzer against tshark, transaction by transaction.

Runs mcprobe with --l7-log on every capture of ../shared/corpus/dns and on
the malformed DNS captures, and rebuilds the same transactions from
`tshark -T fields` (dns.qry.name, dns.qry.type, dns.id, dns.flags.rcode,
dns.count.answers, dns.a, dns.aaaa, dns.resp.ttl; paired as tshark pairs
them, through dns.response_to):

* a query with its response: one transaction;
* a query tshark saw no response to: one transaction without response fields;
* a response tshark matched to no query: one transaction without a query.

Transactions are compared as multisets keyed by (protocol, the two
endpoints, id, lowercased name, answered or not), then field by field:
name, type, id, rcode, answer count, the A and AAAA answers of the answer
section (in order), the minimum TTL of the answer section, the start time
(the query's, in ms) and the response time.

What we decided and why (each is checked, never silently skipped):
* Only DNS on port 53 is compared: tshark's `dns` filter does not include
  mDNS (5353) or LLMNR (5355), which it dissects as other protocols; the
  analyzer leaves those flows alone too (l7.dns.link_local_ignored): no
  transaction of ours may be on those ports (pcapplusplus_DnsPackets.pcap
  carries both), and any transaction tshark does not list fails.
* A query tshark marks as a retransmission (same id in the conversation) is
  folded into the first one by the analyzer (l7.dns.query_retransmitted):
  the transaction starts at the first ask.  Such frames are expected to be
  counted, not to make transactions.
* Frames tshark flags malformed are DNS the analyzer refuses (each with a
  named counter: name_too_long, too_short, ...), or accepts with the answer
  section cut where the message ends (answers_truncated): see KNOWN below.
* DNS carried in IP fragments needs IP reassembly before the flow table;
  where the probe has none, tshark's reassembled answers are missing from
  the analyzer's view: listed in KNOWN with the reason.
A run that compared nothing exits 77 (skip).
"""
import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mctest  # noqa: E402

FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport",
          "udp.dstport", "tcp.srcport", "tcp.dstport", "dns.id", "dns.flags.response", "dns.flags.opcode",
          "dns.qry.name", "dns.qry.type", "dns.flags.rcode", "dns.count.answers", "dns.resp.type", "dns.resp.ttl",
          "dns.a", "dns.aaaa", "dns.response_to", "dns.retransmission", "_ws.malformed",
          "dns.count.queries", "ip.fragment", "ipv6.fragment"]

MALFORMED = ["malformed/ndpi_malformed_dns.pcap", "malformed/zeek_dns-corrupt.pcap", "malformed/ndpi_badpackets.pcap"]

# Differences we know, per capture: ("missing", query frame, response frame),
# ("extra", id, name) or ("field", query frame, response frame, field) ->
# why.  A listed difference that no longer happens fails too (the list must
# stay true).
TOO_LONG = ("the message's second question has a name longer than 255 octets (RFC 1035 2.3.4): the analyzer "
            "stops reading the message there (l7.dns.name_too_long) and keeps the first question, so the answers "
            "after it are not read; tshark prints <Name too long> and goes on")
KNOWN = {
    "malformed/ndpi_malformed_dns.pcap": {
        ("field", q, r, f): TOO_LONG for (q, r) in ((1, 2), (None, 3), (4, 5), (None, 6)) for f in ("dnsMinTtl", "a")
    },
}


# what the analyzer counts when it refuses a message or cuts it short
BAD_COUNTERS = ["too_short", "opcode_other", "no_question", "name_truncated", "pointer_forward", "pointer_loop",
                "too_many_pointers", "bad_label_type", "name_too_long", "question_truncated", "answers_truncated",
                "bad_rdata"]


def last(v):
    """The innermost of a repeated field (tunnels: outer first)."""
    return v.split(",")[-1] if v else ""


def first(v):
    return v.split(",")[0] if v else ""


def ms_of(epoch):
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1000 + int((frac + "000")[:3])


class Frame:
    def __init__(self, row):
        g = dict(zip(FIELDS, row + [""] * (len(FIELDS) - len(row))))
        self.num = int(g["frame.number"])
        self.ms = ms_of(g["frame.time_epoch"])
        self.tcp = bool(g["tcp.srcport"])
        src = last(g["ipv6.src"]) or last(g["ip.src"])
        dst = last(g["ipv6.dst"]) or last(g["ip.dst"])
        sp = last(g["tcp.srcport"] if self.tcp else g["udp.srcport"])
        dp = last(g["tcp.dstport"] if self.tcp else g["udp.dstport"])
        self.src, self.dst = (src, int(sp or 0)), (dst, int(dp or 0))
        self.id = int(first(g["dns.id"]), 16) if g["dns.id"] else None
        self.response = g["dns.flags.response"] in ("1", "True")
        self.name = first(g["dns.qry.name"])
        self.qtype = int(first(g["dns.qry.type"]) or 0)
        self.rcode = int(first(g["dns.flags.rcode"]) or 0)
        self.ancount = int(first(g["dns.count.answers"]) or 0)
        types = [int(t) for t in g["dns.resp.type"].split(",") if t]
        ttls = [int(t) for t in g["dns.resp.ttl"].split(",") if t]
        n_an = min(self.ancount, len(types))
        # the answer section's A/AAAA are the first ones of all sections (answers come first)
        self.a = g["dns.a"].split(",")[:sum(1 for t in types[:n_an] if t == 1)] if g["dns.a"] else []
        self.aaaa = g["dns.aaaa"].split(",")[:sum(1 for t in types[:n_an] if t == 28)] if g["dns.aaaa"] else []
        self.min_ttl = min(ttls[:n_an]) if n_an and len(ttls) >= n_an else None
        self.response_to = int(g["dns.response_to"]) if g["dns.response_to"] else None
        self.retransmission = g["dns.retransmission"] in ("1", "True")
        self.malformed = bool(g["_ws.malformed"])
        # the frames tshark reassembled this datagram from, by offset (the first carries the UDP header)
        self.frags = [int(n) for n in (g["ip.fragment"] or g["ipv6.fragment"]).split(",") if n]


def endpoints(a, b):
    return frozenset([a, b])


def expected_transactions(capture):
    """tshark's frames, paired as tshark pairs them: (transactions, retransmitted, malformed and cut frames)."""
    rows = mctest.tshark_lines(capture, "dns && (udp.port == 53 || tcp.port == 53)", FIELDS)
    frames = {}
    for r in rows:
        f = Frame(r)
        frames[f.num] = f
    times = {int(n): ms_of(t) for n, t in mctest.tshark_lines(capture, "frame", ["frame.number", "frame.time_epoch"])}
    # one pass of tshark knows dns.response_to (on the response), not dns.response_in
    answer = {}
    for num in sorted(frames):
        f = frames[num]
        if f.response and f.response_to and not f.malformed and f.response_to not in answer:
            answer[f.response_to] = f
    txs, retrans, malformed, cut = [], [], [], []
    for num in sorted(frames):
        f = frames[num]
        if f.malformed:
            malformed.append(f)
            continue
        if not f.name:
            cut.append(f)  # the message ends before its question's name does
            continue
        if not f.response:
            if f.retransmission:
                retrans.append(f)
                continue
            txs.append(tx_of(f, answer.get(num), times))
            continue
        q = frames.get(f.response_to) if f.response_to else None
        if q and answer.get(q.num) is f and not q.malformed:
            if not q.retransmission:
                continue  # made with its query
            # tshark answered the retransmission; the analyzer pairs the response with the first ask
            orig = [g for g in frames.values() if not g.response and not g.retransmission and g.id == q.id and
                    endpoints(g.src, g.dst) == endpoints(q.src, q.dst) and g.num < q.num]
            if orig and orig[-1].num not in answer:
                for t in txs:
                    if t["_qnum"] == orig[-1].num:
                        t.update(tx_of(orig[-1], f, times))
                continue
        txs.append(tx_of(None, f, times))
    return txs, retrans, malformed, cut


def tx_of(q, r, times):
    head = q or r
    t = {"_qnum": q.num if q else None, "_rnum": r.num if r else None, "proto": 6 if head.tcp else 17,
         "ends": endpoints(head.src, head.dst), "dnsTransactionId": head.id, "dnsQueryName": head.name,
         "dnsQueryType": head.qtype, "start": head.ms, "answered": r is not None, "_frag": None}
    if r:
        t.update({"dnsResponseCode": r.rcode, "dnsAnswerCount": r.ancount, "a": r.a, "aaaa": r.aaaa,
                  "dnsMinTtl": r.min_ttl})
        if q:
            t["dnsResponseTimeMs"] = r.ms - q.ms
        if r.frags:
            # without IP reassembly the probe sees only the first fragment: the response as of that
            # frame, its answer section cut where the fragment ends (l7.dns.answers_truncated)
            first_ms = times.get(r.frags[0], r.ms)
            t["_frag"] = {"dnsResponseTimeMs": first_ms - q.ms if q else None, "start": head.ms if q else first_ms}
    return t


def our_transactions(log):
    txs = []
    for line in open(log):
        o = json.loads(line)
        if o.get("protocol") != "dns":
            continue
        v6 = "sourceIPv6Address" in o
        src = o["sourceIPv6Address" if v6 else "sourceIPv4Address"]
        dst = o["destinationIPv6Address" if v6 else "destinationIPv4Address"]
        items = o.get("dnsAnswers", "").split(",") if o.get("dnsAnswers") else []
        t = {"proto": o["protocolIdentifier"],
             "ends": endpoints((src, o["sourceTransportPort"]), (dst, o["destinationTransportPort"])),
             "dnsTransactionId": o["dnsTransactionId"], "dnsQueryName": o["dnsQueryName"],
             "dnsQueryType": o["dnsQueryType"], "start": o["transactionStartMilliseconds"],
             "answered": "dnsResponseCode" in o, "_text": o.get("dnsAnswers", "")}
        if t["answered"]:
            t.update({"dnsResponseCode": o["dnsResponseCode"], "dnsAnswerCount": o["dnsAnswerCount"],
                      "a": [i for i in items if i.count(".") == 3 and i.replace(".", "").isdigit()],
                      "aaaa": [i for i in items if ":" in i], "dnsMinTtl": o.get("dnsMinTtl")})
            if "dnsResponseTimeMs" in o:
                t["dnsResponseTimeMs"] = o["dnsResponseTimeMs"]
        txs.append(t)
    return txs


def key(t):
    return (t["proto"], t["ends"], t["dnsTransactionId"], t["dnsQueryName"].lower(), t["answered"])


COMPARED = ["dnsQueryName", "dnsQueryType", "dnsTransactionId", "start", "dnsResponseCode", "dnsAnswerCount",
            "dnsMinTtl", "dnsResponseTimeMs"]


def compare(name, ours, theirs, chk, known, frag_seen):
    """Pairs transactions by key (in time order within a key) and compares their fields; returns the count."""
    mine = collections.defaultdict(list)
    for t in ours:
        mine[key(t)].append(t)
    for k in mine:
        mine[k].sort(key=lambda t: t["start"])
    compared = 0
    for t in sorted(theirs, key=lambda t: t["start"]):
        k = key(t)
        what = "%s: tshark frame %s/%s id %d %s" % (name, t["_qnum"], t["_rnum"], t["dnsTransactionId"],
                                                   t["dnsQueryName"])
        if not mine.get(k):
            why = known.pop(("missing", t["_qnum"], t["_rnum"]), None)
            chk.check(why is not None, what + ": no such transaction from the analyzer")
            continue
        o = mine[k].pop(0)
        compared += 1
        frag = t["_frag"]
        if frag and any(t.get(f) != o.get(f) for f in COMPARED + ["a", "aaaa"]):
            # a fragmented response seen as its first fragment only (no IP reassembly before the flow
            # table in this build): the time is the first fragment's, the answers a prefix of tshark's
            frag_seen.append(t)
            for f in COMPARED:
                want = frag.get(f, t.get(f))
                if f == "dnsMinTtl":
                    ok = o.get(f) is None or t.get(f) is None or o.get(f) >= t.get(f)
                else:
                    ok = o.get(f) == want or o.get(f) == t.get(f)
                chk.check(ok, "%s (first fragment only): %s tshark %r analyzer %r" % (what, f, want, o.get(f)))
            for f in ("a", "aaaa"):
                chk.check(t[f][:len(o[f])] == o[f], "%s (first fragment only): %s tshark %s analyzer %s" %
                          (what, f, t[f], o[f]))
            continue
        for f in COMPARED:
            if (f in t or f in o) and t.get(f) != o.get(f):
                why = known.pop(("field", t["_qnum"], t["_rnum"], f), None)
                chk.check(why is not None, "%s: %s tshark %r analyzer %r" % (what, f, t.get(f), o.get(f)))
            else:
                chk.check(True, "")
        if t["answered"]:
            # the answers text keeps whole items up to its maximum: a prefix when cut
            cut = len(o["_text"]) > 512 - 40
            for f in ("a", "aaaa"):
                ok = o[f] == t[f] or (cut and t[f][:len(o[f])] == o[f])
                if not ok:
                    ok = known.pop(("field", t["_qnum"], t["_rnum"], f), None) is not None
                chk.check(ok, "%s: %s tshark %s analyzer %s" % (what, f, t[f], o[f]))
    for k, rest in mine.items():
        for o in rest:
            why = known.pop(("extra", o["dnsTransactionId"], o["dnsQueryName"]), None)
            chk.check(why is not None, "%s: analyzer transaction tshark does not have: id %d %s %s" %
                      (name, o["dnsTransactionId"], o["dnsQueryName"], "answered" if o["answered"] else "unanswered"))
    return compared


def counters_of(path):
    c = {}
    for line in open(path):
        n, v = line.split()
        c[n] = int(v)
    return c


def main():
    mctest.need_corpus()
    mctest.need_tool("tshark")
    caps = mctest.corpus_captures("dns") + [os.path.join(mctest.CORPUS, m) for m in MALFORMED
                                            if os.path.exists(os.path.join(mctest.CORPUS, m))]
    if not caps:
        mctest.skip("no DNS capture in ../shared/corpus/dns")
    chk = mctest.Checker()
    total = 0
    wd = tempfile.mkdtemp(prefix="mct_dns")
    for cap in caps:
        name = os.path.relpath(cap, mctest.CORPUS)
        log = os.path.join(wd, "l7.json")
        cpath = os.path.join(wd, "counters.txt")
        if os.path.exists(log):
            os.unlink(log)
        mctest.run_probe(["-i", cap, "--l7-log", log, "--counters", cpath])
        ctr = counters_of(cpath)
        ours = our_transactions(log) if os.path.exists(log) else []
        theirs, retrans, malformed, cut = expected_transactions(cap)
        known = dict(KNOWN.get(name, {}))
        frag_seen = []
        n = compare(name, ours, theirs, chk, known, frag_seen)
        chk.check(ctr.get("l7.dns.answers_truncated", 0) >= len(frag_seen),
                  "%s: %d responses seen as their first fragment, l7.dns.answers_truncated %d" %
                  (name, len(frag_seen), ctr.get("l7.dns.answers_truncated", 0)))
        total += n
        # mDNS and LLMNR are not DNS transactions
        local = len(mctest.tshark_lines(cap, "mdns || llmnr", ["frame.number"]))
        on_local = [o for o in ours if any(p in (5353, 5355) for _, p in o["ends"])]
        chk.check(not on_local, "%s: %d analyzer transactions on mDNS/LLMNR ports" % (name, len(on_local)))
        if local:
            print("%s: %d mDNS/LLMNR frames, l7.dns.link_local_ignored %d" %
                  (name, local, ctr.get("l7.dns.link_local_ignored", 0)))
        # retransmitted queries are counted, not transactions
        chk.check(ctr.get("l7.dns.query_retransmitted", 0) >= len(retrans),
                  "%s: %d retransmitted queries, l7.dns.query_retransmitted %d" %
                  (name, len(retrans), ctr.get("l7.dns.query_retransmitted", 0)))
        # messages cut (by the snaplen) before the question's name ends: refused, each counted
        refused = sum(ctr.get("l7.dns." + c, 0) for c in ("too_short", "name_truncated", "question_truncated"))
        chk.check(refused >= len(cut), "%s: %d messages cut before their name, %d counted refused" %
                  (name, len(cut), refused))
        # tshark's malformed frames: each refused or cut short by the analyzer, under a named counter
        bad = sum(ctr.get("l7.dns." + c, 0) for c in BAD_COUNTERS)
        chk.check(bad >= len(malformed), "%s: %d malformed frames, %d counted bad" % (name, len(malformed), bad))
        for why in known.values():
            chk.check(False, "%s: listed difference did not happen: %s" % (name, why))
        print("%s: %d transactions compared (%d ours, %d tshark), %d retransmissions, %d malformed and %d cut "
              "frames, %d responses seen as their first fragment" %
              (name, n, len(ours), len(theirs), len(retrans), len(malformed), len(cut), len(frag_seen)))
    if total == 0:
        mctest.skip("no transaction compared")
    chk.done()


if __name__ == "__main__":
    main()
