#!/usr/bin/python3
"""Acceptance 1 (HTTP): on every HTTP capture of ../shared/corpus (http/, the
IPv6 HTTP streams and the mixed/ captures), mcprobe's --l7-log transactions
equal what tshark extracts, transaction by transaction.

Per TCP connection (the two endpoints), tshark gives the requests in order
(http.request.method, http.host, http.request.uri, http.user_agent) and the
responses in order (http.response.code, http.content_type); mcprobe gives its
transactions in order: the requests are those with httpRequestMethod, the
responses those with httpStatusCode.  Comparing the two sides separately
keeps the comparison exact where tshark shows a request only once its body
is complete (after the server's 100 Continue, say).

Rules that are not differences (applied to every row, counted and printed):
* interim 1xx responses (other than 101) are not transactions: the final
  response is (RFC 9110 15.2); tshark lists them as responses, we count them
  in l7.http.interim.  They are removed from tshark's side.
* strings are kept up to their documented maximum (httpRequestTarget 1024
  bytes, httpUserAgent 512, httpRequestHost 256, httpContentType 128): a
  longer tshark value must start with ours and ours must have exactly the
  maximum length.

Every other difference must be listed in KNOWN below with its reason, and
must occur exactly as many times as listed (a fix makes the test fail until
the list is updated).  A run that compared nothing exits 77 (skip).
"""
import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mctest  # noqa: E402

CAPTURES = ["http/*", "ipv6/pcapplusplus_four_ipv6_http_streams.pcap", "mixed/*"]

# Documented maximum lengths (docs/internals/analyzers-http.md).
CAP = {"uri": 1024, "ua": 512, "host": 256, "ctype": 128}

# Every difference left, one entry per (capture, kind, connection): how many
# rows differ there and why.  kind: "request" or "response".
GAP_IN_BODY = ("response body bytes were never captured (a hole inside a Content-Length body): tshark's "
               "reassembly gives up on the message, mcprobe steps over the hole (l7.http.gap_in_body)")
CUT_AT_END = ("the capture ends inside the response body: tshark never completes the message, mcprobe "
              "emits the transaction at the flow's end with the body bytes seen (l7.http.incomplete)")
KNOWN = {
    ("http/zeek_http-bro.org.pcap", "response", "10.0.2.15:55081 192.150.187.43:80"): (1, GAP_IN_BODY),
    ("mixed/pcapplusplus_example.pcap", "response", "10.0.0.6:44152 212.199.202.9:80"): (1, GAP_IN_BODY),
    ("mixed/pcapplusplus_example.pcap", "response", "10.0.0.6:44153 212.199.202.9:80"): (1, GAP_IN_BODY),
    ("mixed/pcapplusplus_example.pcap", "request", "10.0.0.138:5005 10.0.0.4:49682"):
        (1, "UPnP GENA SUBSCRIBE over HTTP/1.1 on port 5005: tshark has no HTTP dissector or heuristic there, "
            "mcprobe attaches by payload (the request line ends in HTTP/1.1)"),
    ("mixed/ndpi_1kxun.pcap", "response", "14.136.136.108:80 192.168.2.126:49354"): (1, CUT_AT_END),
    ("mixed/ndpi_1kxun.pcap", "response", "14.136.136.108:80 192.168.2.126:49370"): (1, CUT_AT_END),
    ("mixed/ndpi_1kxun.pcap", "response", "172.105.121.82:80 192.168.2.126:38314"): (1, CUT_AT_END),
    ("mixed/ndpi_1kxun.pcap", "response", "172.105.121.82:80 192.168.2.126:46200"): (1, CUT_AT_END),
    ("mixed/ndpi_1kxun.pcap", "response", "172.105.121.82:80 192.168.2.126:60148"): (1, CUT_AT_END),
    ("mixed/ndpi_1kxun.pcap", "response", "18.66.2.90:80 192.168.2.126:35664"): (1, CUT_AT_END),
    ("mixed/ndpi_1kxun.pcap", "response", "183.131.48.144:80 192.168.115.8:49613"): (1, CUT_AT_END),
}

FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "http.request.method", "http.host", "http.request.uri", "http.user_agent", "http.response.code",
          "http.content_type"]
SEP = "\x1f"


def tshark_rows(cap):
    rows = mctest.tshark_lines(cap, "tcp and (http.request or http.response)", FIELDS,
                               extra=["-E", "aggregator=" + SEP])
    out = []
    for r in rows:
        r = dict(zip(FIELDS, r + [""] * (len(FIELDS) - len(r))))
        out.append(r)
    return out


def endpoints(a, ap, b, bp):
    return tuple(sorted([(a, int(ap)), (b, int(bp))]))


def split(v, n):
    """Values of a field for the n messages of one frame (absent values are '')."""
    vals = v.split(SEP) if v else []
    if n == 1:
        return [SEP.join(vals) if vals else ""]
    if len(vals) == n:
        return vals
    return None  # cannot align: reported as a difference


def tshark_side(cap, stats):
    reqs = collections.defaultdict(list)
    rsps = collections.defaultdict(list)
    for r in tshark_rows(cap):
        src = r["ip.src"] or r["ipv6.src"]
        dst = r["ip.dst"] or r["ipv6.dst"]
        if SEP in src or SEP in dst or SEP in r["tcp.srcport"]:
            stats["tunnelled_frames"] += 1  # an inner HTTP flow: keyed by its inner addresses below
            src, dst = src.split(SEP)[-1], dst.split(SEP)[-1]
            r["tcp.srcport"], r["tcp.dstport"] = r["tcp.srcport"].split(SEP)[-1], r["tcp.dstport"].split(SEP)[-1]
        key = endpoints(src, r["tcp.srcport"], dst, r["tcp.dstport"])
        methods = r["http.request.method"].split(SEP) if r["http.request.method"] else []
        codes = r["http.response.code"].split(SEP) if r["http.response.code"] else []
        if methods:
            n = len(methods)
            cols = [split(r[f], n) for f in ("http.host", "http.request.uri", "http.user_agent")]
            if any(c is None for c in cols):
                reqs[key].append(("<unaligned>", r["http.request.method"], r["http.request.uri"], ""))
                continue
            for i in range(n):
                reqs[key].append((methods[i], cols[0][i], cols[1][i], cols[2][i]))
        if codes:
            n = len(codes)
            ct = split(r["http.content_type"], n)
            for i in range(n):
                c = int(codes[i])
                if 100 <= c < 200 and c != 101:
                    stats["interim_1xx"] += 1
                    continue
                rsps[key].append((str(c), ct[i] if ct is not None else "<unaligned>"))
    return reqs, rsps


def probe_side(cap, wd):
    log = os.path.join(wd, "l7.json")
    if os.path.exists(log):
        os.unlink(log)
    mctest.run_probe(["-i", cap, "--l7", "http", "--l7-log", log, "--json", os.devnull])
    reqs = collections.defaultdict(list)
    rsps = collections.defaultdict(list)
    if not os.path.exists(log):
        return reqs, rsps
    for line in open(log, encoding="utf-8"):
        t = json.loads(line)
        if t.get("protocol") != "http":
            continue
        src = t.get("sourceIPv4Address") or t.get("sourceIPv6Address")
        dst = t.get("destinationIPv4Address") or t.get("destinationIPv6Address")
        key = endpoints(src, t["sourceTransportPort"], dst, t["destinationTransportPort"])
        if "httpRequestMethod" in t:
            reqs[key].append((t["httpRequestMethod"], t.get("httpRequestHost", ""), t.get("httpRequestTarget", ""),
                              t.get("httpUserAgent", "")))
        if "httpStatusCode" in t:
            rsps[key].append((str(t["httpStatusCode"]), t.get("httpContentType", "")))
    return reqs, rsps


def same(ours, theirs, caps, stats):
    if len(ours) != len(theirs):
        return False
    for o, t, c in zip(ours, theirs, caps):
        if o == t:
            continue
        if c and len(t.encode()) > c and t.startswith(o) and len(o.encode()) == c:
            stats["truncated_as_documented"] += 1
            continue
        return False
    return True


def conn_name(key):
    return " ".join("%s:%d" % e for e in key)


def compare(kind, key, ours, theirs, caps, stats, diffs):
    """Aligns two ordered lists; every row that does not match is a difference (kind, connection, text)."""
    key = conn_name(key)
    i = j = 0
    matched = 0
    while i < len(ours) or j < len(theirs):
        if i < len(ours) and j < len(theirs) and same(ours[i], theirs[j], caps, stats):
            matched += 1
            i += 1
            j += 1
            continue
        # one side has a row the other lacks: skip the side whose next row matches later
        if j < len(theirs) and any(same(o, theirs[j], caps, stats) for o in ours[i + 1:i + 4]):
            diffs.append((kind, key, "mcprobe only: %r" % (ours[i],)))
            i += 1
        elif i < len(ours) and any(same(ours[i], t, caps, stats) for t in theirs[j + 1:j + 4]):
            diffs.append((kind, key, "tshark only: %r" % (theirs[j],)))
            j += 1
        else:
            diffs.append((kind, key, "mcprobe %r != tshark %r" % (ours[i] if i < len(ours) else None,
                                                                 theirs[j] if j < len(theirs) else None)))
            i += 1
            j += 1
    return matched


def main():
    mctest.need_corpus()
    mctest.need_tool("tshark")
    caps = []
    for pat in CAPTURES:
        if "*" in pat:
            caps += mctest.corpus_captures(pat.split("/")[0])
        elif os.path.exists(os.path.join(mctest.CORPUS, pat)):
            caps.append(os.path.join(mctest.CORPUS, pat))
    if not caps:
        mctest.skip("no HTTP capture in ../shared/corpus")
    c = mctest.Checker()
    wd = tempfile.mkdtemp(prefix="mcth")
    stats = collections.Counter()
    compared = 0
    for cap in caps:
        rel = os.path.relpath(cap, mctest.CORPUS)
        t_req, t_rsp = tshark_side(cap, stats)
        if not t_req and not t_rsp:
            continue
        o_req, o_rsp = probe_side(cap, wd)
        diffs = []
        n = 0
        for key in sorted(set(t_req) | set(o_req)):
            n += compare("request", key, o_req.get(key, []), t_req.get(key, []),
                         (0, CAP["host"], CAP["uri"], CAP["ua"]), stats, diffs)
        for key in sorted(set(t_rsp) | set(o_rsp)):
            n += compare("response", key, o_rsp.get(key, []), t_rsp.get(key, []), (0, CAP["ctype"]), stats, diffs)
        compared += n
        got = collections.Counter((rel, d[0], d[1]) for d in diffs)
        want = {k: v[0] for k, v in KNOWN.items() if k[0] == rel}
        for k in sorted(set(got) | set(want)):
            ok = got.get(k, 0) == want.get(k, 0)
            if not ok:
                for d in diffs:
                    if (rel, d[0], d[1]) == k:
                        print("  %s %s: %s" % d)
            c.check(ok, "%s %s %s: %d difference(s), %d listed in KNOWN" % (k + (got.get(k, 0), want.get(k, 0))))
            if ok:
                print("%s %s %s: %d known difference(s): %s" % (k + (got[k], KNOWN[k][1])))
        print("%s: %d transactions' rows equal tshark's" % (rel, n))
    print("rules applied: %s" % dict(stats))
    if compared == 0:
        mctest.skip("no transaction was compared")
    c.done()


main()
