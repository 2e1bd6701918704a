#!/usr/bin/env python3
"""gen-l7-seeds-http.py - writes seed inputs for fuzz/fuzz_l7_http.c.

Input format (see fuzz/fuzz_l7_http.c): one mode byte (bit 0: a port only
detect() recognises, bit 1: no handshake, the server speaks first), then
records of a 2-byte header (bit 15: server direction, bit 14: a 7-byte hole
before the record, low 14 bits: length) and the payload.  The HTTP messages
are written here from scratch: keep-alive, pipelining, chunked and
close-delimited bodies, 1xx, HEAD, upgrades, and the hostile shapes the unit
tests cover (64 KiB header blocks, over-long lines, chunk-size and
Content-Length lies, missing CRLF, holes); nothing is copied from captures.
Standard library only.

Usage: scripts/gen-l7-seeds-http.py [OUTDIR]   (default: fuzz/corpus/l7_http)
"""
import os
import struct
import sys

CLIENT, SERVER = 0, 1


def rec(direction, payload, hole=False):
    out = b""
    # records hold at most 0x3fff bytes: longer payloads become several segments
    for i in range(0, max(len(payload), 1), 0x3fff):
        part = payload[i:i + 0x3fff]
        h = (0x8000 if direction else 0) | (0x4000 if hole and i == 0 else 0) | len(part)
        out += struct.pack("!H", h) + part
    return out


def seed(mode, *records):
    return bytes([mode]) + b"".join(records)


def get(path, host="example.com", extra=b""):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUser-Agent: seed/1.0\r\n" + extra +
            b"\r\n")


def ok(body, ctype=b"text/plain", status=b"200 OK"):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\n\r\n" + body)


def chunked(parts, trailer=b""):
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        out += b"%x;ext=1\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


def bytewise(direction, payload):
    return b"".join(rec(direction, payload[i:i + 1]) for i in range(len(payload)))


CHUNKED_HDR = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
EMPTY_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

SEEDS = {
    "simple": seed(0, rec(CLIENT, get(b"/index.html")), rec(SERVER, ok(b"hello"))),
    "keep_alive": seed(0, *[r for i in range(4) for r in (rec(CLIENT, get(b"/%d" % i)),
                                                          rec(SERVER, ok(b"x" * i)))]),
    "pipelined": seed(0,
                      rec(CLIENT, get(b"/a") + b"HEAD /b HTTP/1.1\r\n\r\n" +
                          b"POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + get(b"/d")),
                      rec(SERVER, ok(b"1") + b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" +
                          ok(b"", status=b"201 Created") + b"HTTP/1.1 304 Not Modified\r\n\r\n")),
    "pipeline_overflow": seed(0, rec(CLIENT, b"".join(get(b"/%d" % i) for i in range(12))),
                              rec(SERVER, b"".join(ok(b"") for _ in range(12)))),
    "chunked": seed(0, rec(CLIENT, get(b"/c")),
                    rec(SERVER, chunked([b"abc", b"0123456789abcdef"], b"T: 1\r\n"))),
    "chunked_bytewise": seed(0, bytewise(CLIENT, get(b"/c")), bytewise(SERVER, chunked([b"abc", b"defgh"]))),
    "continue_close": seed(0,
                           rec(CLIENT, b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\n"
                                       b"Content-Length: 4\r\n\r\n"),
                           rec(SERVER, b"HTTP/1.1 100 Continue\r\n\r\n"), rec(CLIENT, b"data"),
                           rec(SERVER, b"HTTP/1.0 200 OK\r\n\r\nuntil close")),
    "upgrade": seed(0, rec(CLIENT, get(b"/ws", extra=b"Upgrade: websocket\r\n")),
                    rec(SERVER, b"HTTP/1.1 101 Switching Protocols\r\n\r\n"), rec(CLIENT, b"\x81\x05hello")),
    "detect_port": seed(1, rec(CLIENT, get(b"/x", "h:31600")), rec(SERVER, ok(b"ok"))),
    "server_first": seed(2, rec(SERVER, ok(b"orphan")), rec(CLIENT, get(b"/y")), rec(SERVER, ok(b"y"))),
    "hole_in_body": seed(0, rec(CLIENT, get(b"/big")),
                         rec(SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"),
                         rec(SERVER, b"0123456789", hole=True), rec(CLIENT, get(b"/after")),
                         rec(SERVER, EMPTY_OK)),
    "hole_in_headers": seed(0, rec(CLIENT, b"GET /one HTTP/1.1\r\nHost: a\r\n"),
                            rec(CLIENT, b"X: y\r\n\r\n", hole=True), rec(SERVER, EMPTY_OK),
                            rec(CLIENT, get(b"/two")), rec(SERVER, EMPTY_OK)),
    "header_block_64k": seed(0, rec(CLIENT, b"GET /h HTTP/1.1\r\n" +
                                    b"".join(b"X-Pad: " + b"a" * 1015 + b"\r\n" for _ in range(64)) + b"\r\n"),
                             rec(SERVER, EMPTY_OK)),
    "line_64k": seed(0, rec(CLIENT, b"GET /l HTTP/1.1\r\nCookie: " + b"c" * 65536 + b"\r\n\r\n"),
                     rec(SERVER, b"HTTP/1.1 200 " + b"r" * 20000 + b"\r\n\r\n")),
    "chunk_lies": seed(0, rec(CLIENT, get(b"/1")),
                       rec(SERVER, CHUNKED_HDR + b"5\r\nabcde\r\nFFFFFFFFFFFFFFFFFFFF\r\n")),
    "chunk_negative": seed(0, rec(CLIENT, get(b"/1")), rec(SERVER, CHUNKED_HDR + b"-5\r\nabcde\r\n")),
    "chunk_too_long": seed(0, rec(CLIENT, get(b"/1")), rec(SERVER, CHUNKED_HDR + b"2\r\nabcdef\r\n0\r\n\r\n")),
    "content_length_lies": seed(0,
                                rec(CLIENT, b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nxx"),
                                rec(SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nbody"),
                                rec(CLIENT, get(b"/2")),
                                rec(SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")),
    "missing_crlf": seed(0, rec(CLIENT, b"GET /lf HTTP/1.0\nHost: lf\n\n"),
                         rec(SERVER, b"HTTP/1.0 200 OK\nContent-Length: 2\n\nok"),
                         rec(CLIENT, b"GET /cut HTTP/1.1\r\nHost: x")),
    "bad_lines": seed(0, rec(CLIENT, b"OPTIONSHTTP/1.1\r\nHost: w\r\n\r\n"
                                     b"GET /ok HTTP/1.1\r\nBad\r\nHost : s\r\n f\r\n\r\n"),
                      rec(SERVER, b"HTTP/1.1 2xx Hmm\r\n\r\n" + EMPTY_OK)),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                             "l7_http")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), out))


main()
