#!/usr/bin/env python3
"""gen-l7-seeds-sip.py - writes seed inputs for fuzz/fuzz_l7_sip.c and fuzz/fuzz_l7_sdp.c.

fuzz_l7_sip input (see the target): one mode byte (bit 0: TCP, bit 1: a port
only detect() recognises, bit 2: no TCP handshake, bit 3: --l7-max-text 16),
then records of a 2-byte header (bit 15: server direction, bit 14: a 7-byte
hole before the record on TCP, low 14 bits: length) and the payload.
fuzz_l7_sdp input: one byte choosing the Content-Type, then the body.

The messages are written here from scratch after RFC 3261 and RFC 4566
examples: requests and responses of every method the analyzer names,
compact forms, folded headers, SDP offers and answers (IPv4, IPv6, several
media, rtpmap), multipart bodies, TCP framing (several messages per segment,
byte by byte, keep-alives, holes), and the hostile shapes the unit tests
cover (huge and lying Content-Length, cut messages, 20 KiB header blocks,
hundreds of media lines and formats, unterminated multipart); nothing is
copied from captures.  Standard library only.

Usage: scripts/gen-l7-seeds-sip.py [CORPUSDIR]   (default: fuzz/corpus; writes l7_sip/ and l7_sdp/)
"""
import os
import struct
import sys

CLIENT, SERVER = 0, 1
UDP, TCP, OTHER_PORT, NO_HANDSHAKE, SHORT_TEXT = 0, 1, 2, 4, 8


def rec(direction, payload, hole=False):
    out = b""
    for i in range(0, max(len(payload), 1), 0x3fff):
        part = payload[i:i + 0x3fff]
        h = (0x8000 if direction else 0) | (0x4000 if hole and i == 0 else 0) | len(part)
        out += struct.pack("!H", h) + part
    return out


def seed(mode, *records):
    return bytes([mode]) + b"".join(records)


def bytewise(direction, payload):
    return b"".join(rec(direction, payload[i:i + 1]) for i in range(len(payload)))


SDP = (b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       b"m=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
       b"m=video 51372 RTP/AVP 97\r\nc=IN IP6 2001:db8::7\r\na=rtpmap:97 H264/90000\r\na=rtcp:51400\r\n")
ANSWER = (b"v=0\r\no=bob 1 1 IN IP6 2001:db8::9\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\n"
          b"m=audio 3456 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\nm=video 0 RTP/AVP 97\r\n")


def request(method, body=b"", ctype=b"application/sdp", extra=b"", call=b"a84b4c76e66710@pc33.example.com"):
    h = (method + b" sip:bob@example.com SIP/2.0\r\n"
         b"Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP proxy.example.com\r\n"
         b"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\n"
         b"From: \"Alice, A.\" <sip:alice@example.com>;tag=1928301774\r\n"
         b"Call-ID: " + call + b"\r\nCSeq: 314159 " + method + b"\r\n"
         b"Contact: <sip:alice@pc33.example.com>;expires=60\r\nUser-Agent: seed/1.0\r\n" + extra)
    if body:
        h += b"Content-Type: " + ctype + b"\r\n"
    return h + b"Content-Length: %d\r\n\r\n" % len(body) + body


def response(code, reason, body=b"", method=b"INVITE"):
    h = (b"SIP/2.0 %d " % code + reason + b"\r\n"
         b"Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
         b"To: Bob <sip:bob@example.com>;tag=a6c85cf\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n"
         b"Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 " + method + b"\r\n")
    if body:
        h += b"Content-Type: application/sdp\r\n"
    return h + b"Content-Length: %d\r\n\r\n" % len(body) + body


COMPACT = (b"INVITE sip:bob@b.example SIP/2.0\r\nv: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n"
           b"f: <sip:alice@a.example>;tag=88\r\nt: sip:bob@b.example\r\ni: compact-1@a.example\r\n"
           b"m: <sip:alice@192.0.2.1:5070>\r\nCSeq: 1 INVITE\r\nc: application/sdp\r\nk: 100rel\r\n"
           b"s: subject\r\ne: identity\r\nl: %d\r\n\r\n" % len(SDP)) + SDP
FOLDED = (b"REGISTER sip:registrar.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4:5060\r\n   ;branch=z9hG4bKfold\r\n"
          b"From:\r\n\t\"Folded\" <sip:fold@example.com>\r\n  ;tag=ff11\r\nTo: <sip:fold@example.com>\r\n"
          b"Call-ID: fold-1\r\nCSeq: 7\r\n REGISTER\r\nUser-Agent: Folding\r\n\t Phone/2\r\nExpires: 3600\r\n"
          b"Content-Length: 0\r\n\r\n")
MULTIPART = (b"--unique-boundary-1\r\nContent-Type: application/isup;version=itu-t92+\r\n\r\n"
             b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\r\n"
             b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + SDP +
             b"\r\n--unique-boundary-1--\r\n")
MANY_MEDIA = b"v=0\r\nc=IN IP4 192.0.2.1\r\n" + b"".join(
    b"m=audio %d RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n" % (10000 + 2 * i) for i in range(300))
MANY_FMT = b"v=0\r\nm=audio 1 RTP/AVP" + b"".join(b" %d" % (i % 128) for i in range(400)) + b"\r\n"
BIG_HEADER = b"INFO sip:a@b SIP/2.0\r\nCall-ID: big\r\n" + b"X-Pad: " + b"p" * 100 + b"\r\n" * 1 + \
    b"".join(b"X-Pad: %0100d\r\n" % i for i in range(200)) + b"\r\n"
OK_REG = b"SIP/2.0 200 OK\r\nCall-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"

SIP_SEEDS = {
    "udp_call": seed(UDP, rec(CLIENT, request(b"INVITE", SDP)), rec(SERVER, response(100, b"Trying")),
                     rec(SERVER, response(180, b"Ringing")), rec(SERVER, response(200, b"OK", ANSWER)),
                     rec(CLIENT, request(b"ACK")), rec(CLIENT, request(b"BYE")),
                     rec(SERVER, response(200, b"OK", method=b"BYE"))),
    "udp_methods": seed(UDP, *[rec(CLIENT, request(m)) for m in (
        b"REGISTER", b"OPTIONS", b"UPDATE", b"PRACK", b"INFO", b"NOTIFY", b"SUBSCRIBE", b"MESSAGE", b"CANCEL",
        b"REFER", b"PUBLISH", b"FROBNICATE")]),
    "compact": seed(UDP, rec(CLIENT, COMPACT)),
    "folded": seed(UDP, rec(CLIENT, FOLDED)),
    "multipart": seed(UDP, rec(CLIENT, request(b"INVITE", MULTIPART, b"multipart/mixed;boundary=unique-boundary-1"))),
    "many_media": seed(UDP, rec(CLIENT, request(b"INVITE", MANY_MEDIA))),
    "udp_hostile": seed(UDP,
                        rec(CLIENT, b"OPTIONS sip:x@e SIP/2.0\r\nCall-ID: huge\r\nContent-Length: 99999999999999\r\n"
                                    b"\r\nv=0\r\n"),
                        rec(CLIENT, b"MESSAGE sip:x@e SIP/2.0\r\nCall-ID: cut\r\nContent-Length: 500\r\n\r\nhi"),
                        rec(CLIENT, b"BYE sip:x@e SIP/2.0\r\nCall-ID: unterminated\r\nCSeq: 2 BY"),
                        rec(CLIENT, b"ACK sip:x@e SIP/2.0\r\nCall-ID: t\r\nContent-Length: 2\r\n\r\nokJUNK"),
                        rec(SERVER, b"\r\n\r\n"), rec(SERVER, b"     "), rec(CLIENT, b"\x00\x01\x00\x08\x21\x12\xa4\x42"),
                        rec(SERVER, b"SIP/2.0 999 Beyond\r\n\r\n"),
                        rec(CLIENT, b"X sip:a SIP/2.0\r\nFrom: \\\"a\\\" <sip:a@b;tag=1\r\nTo: <<<>>>;tag=\"x\r\n"
                                    b"Contact: \"unclosed, <sip:c@d>\r\nCSeq: 4294967296 X\r\nExpires: 99999999999\r\n\r\n")),
    "other_port": seed(UDP | OTHER_PORT, rec(SERVER, response(180, b"Ringing")), rec(CLIENT, request(b"OPTIONS"))),
    "short_text": seed(UDP | SHORT_TEXT, rec(CLIENT, request(b"INVITE", SDP))),
    "tcp_several": seed(TCP, rec(CLIENT, request(b"REGISTER") + b"\r\n\r\n" + request(b"INVITE", SDP) +
                                 request(b"REGISTER")), rec(SERVER, OK_REG + OK_REG)),
    "tcp_bytewise": seed(TCP, bytewise(CLIENT, request(b"INVITE", SDP)), bytewise(SERVER, OK_REG)),
    "tcp_split": seed(TCP | NO_HANDSHAKE, *[rec(SERVER, (OK_REG * 2)[:k]) + rec(SERVER, (OK_REG * 2)[k:])
                                            for k in range(1, 2 * len(OK_REG), 23)]),
    "tcp_holes": seed(TCP, rec(CLIENT, request(b"INVITE", SDP)[:400]),
                      rec(CLIENT, request(b"INVITE", SDP)[407:], hole=True), rec(SERVER, OK_REG),
                      rec(CLIENT, request(b"REGISTER")[:30]), rec(CLIENT, request(b"REGISTER")[37:], hole=True),
                      rec(CLIENT, request(b"REGISTER")), rec(SERVER, OK_REG)),
    "tcp_hostile": seed(TCP,
                        rec(CLIENT, b"MESSAGE sip:a@b SIP/2.0\r\nCall-ID: huge\r\nContent-Length: 4294967296\r\n\r\nxx"),
                        rec(CLIENT, request(b"REGISTER")),
                        rec(CLIENT, b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: nolen\r\n\r\n"),
                        rec(CLIENT, BIG_HEADER * 1), rec(CLIENT, request(b"REGISTER")),
                        rec(CLIENT, b"MESSAGE sip:a@b SIP/2.0\r\nl: 20000\r\n\r\n" + b"b" * 9000),
                        rec(CLIENT, b"b" * 11000), rec(CLIENT, request(b"REGISTER")),
                        rec(CLIENT, b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 100\r\n\r\nabc"),
                        rec(SERVER, b"SIP/2.0 200 OK\r\nCall-ID: x")),
    "tcp_other_port": seed(TCP | OTHER_PORT, rec(CLIENT, request(b"OPTIONS")), rec(SERVER, response(200, b"OK"))),
}

SDP_SEEDS = {
    "offer": bytes([0]) + SDP,
    "answer": bytes([0]) + ANSWER,
    "no_ctype": bytes([1]) + SDP,
    "multipart": bytes([2]) + MULTIPART.replace(b"unique-boundary-1", b"b"),
    "multipart_quoted": bytes([3]) + MULTIPART.replace(b"unique-boundary-1", b"x y"),
    "multipart_nested": bytes([2]) + b"--b\r\nContent-Type: multipart/mixed;boundary=c\r\n\r\n--c\r\n"
                        b"Content-Type: multipart/mixed;boundary=d\r\n\r\n--d\r\nContent-Type: application/sdp\r\n"
                        b"\r\n" + SDP + b"\r\n--d--\r\n--c--\r\n--b--\r\n",
    "multipart_unterminated": bytes([2]) + b"--b\r\nContent-Type: application/sdp",
    "multipart_many_parts": bytes([2]) + b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(40)),
    "no_boundary": bytes([4]) + MULTIPART,
    "other_type": bytes([5]) + SDP,
    "many_media": bytes([0]) + MANY_MEDIA,
    "many_formats": bytes([0]) + MANY_FMT,
    "bad_lines": bytes([0]) + (b"v=0\r\njunk\r\nX=upper\r\nc=IN IP4 media.example.com\r\nc=IN IPX 1.2.3.4\r\n"
                               b"c=IN IP4 999.1.1.1\r\nc=ATM NSAP x\r\nm=audio 70000 RTP/AVP 0\r\nm=\r\n"
                               b"a=rtcp:5001\r\nm=audio 5004 RTP/AVP 0 200 abc 96\r\na=rtpmap:96\r\n"
                               b"a=rtpmap:x PCMU/8000\r\na=rtpmap:0 Renamed/16000\r\nc=IN IP6 [::1]\r\n"),
    "long_tokens": bytes([0]) + b"v=0\r\nm=" + b"n" * 300 + b" 5 " + b"p" * 300 + b" " + b"f" * 300 + b"\r\n",
    # NULs inside tokens (found by the fuzzer: a name's length and its text disagreed)
    "nul_in_token": bytes([0]) + b"v=0\r\nm=aud\x00io 5 RTP/AVP 0 96 t\x0038\r\na=rtpmap:96 PC\x00MU/8000\r\n",
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                              "fuzz", "corpus")
    for sub, seeds in (("l7_sip", SIP_SEEDS), ("l7_sdp", SDP_SEEDS)):
        out = os.path.join(root, sub)
        os.makedirs(out, exist_ok=True)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(out, "seed-" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
