#!/usr/bin/env python3
"""gen-l7-seeds-mysql.py - writes seed inputs for fuzz/fuzz_l7_mysql.c.

Input format (see fuzz/fuzz_l7_mysql.c): one mode byte (bit 0: a port only
detect() recognises, bit 1: no handshake (mid-stream), bit 2: a 4 KiB
--l7-max-buffer), then records of a 2-byte header (bit 15: server
direction, bit 14: a 7-byte hole before the record, low 14 bits: length)
and the payload.  The MySQL packets are written here from scratch: logins
(OK, ERR, error greeting, TLS), queries with result sets (with and without
CLIENT_DEPRECATE_EOF, multiple results, an ERR among the rows), prepared
statements, LOCAL INFILE, COM_CHANGE_USER with an auth switch, query
attributes, a compressed session, and the hostile shapes the unit tests cover (length lies,
truncated greetings, a 16 MiB header, holes, byte-by-byte delivery);
nothing is copied from captures.  Standard library only.

Usage: scripts/gen-l7-seeds-mysql.py [OUTDIR]   (default: fuzz/corpus/l7_mysql)
"""
import os
import struct
import sys

CLIENT, SERVER = 0, 1
PROTOCOL_41, SECURE, WITH_DB, PLUGIN_AUTH, SSL, COMPRESS = 0x200, 0x8000, 0x8, 0x80000, 0x800, 0x20
LENENC_AUTH, DEPRECATE_EOF, QUERY_ATTRS = 0x200000, 0x1000000, 0x8000000
CAPS = PROTOCOL_41 | SECURE | WITH_DB | PLUGIN_AUTH


def rec(direction, payload, hole=False):
    out = b""
    # records hold at most 0x3fff bytes: longer payloads become several segments
    for i in range(0, max(len(payload), 1), 0x3fff):
        part = payload[i:i + 0x3fff]
        h = (0x8000 if direction else 0) | (0x4000 if hole and i == 0 else 0) | len(part)
        out += struct.pack("!H", h) + part
    return out


def bytewise(direction, payload):
    return b"".join(rec(direction, payload[i:i + 1]) for i in range(len(payload)))


def seed(mode, *records):
    return bytes([mode]) + b"".join(records)


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def greeting(version=b"8.0.36", caps=CAPS):
    return pkt(0, b"\x0a" + version + b"\0" + struct.pack("<I", 7) + b"abcdefgh\0" + struct.pack("<H", caps & 0xffff) +
           b"\x21\x02\x00" + struct.pack("<H", caps >> 16) + b"\x15" + b"\0" * 10 + b"ijklmnopqrstu\0" +
           b"mysql_native_password\0")


def login(user=b"root", db=b"shop", caps=CAPS):
    body = struct.pack("<IIB", caps, 16777216, 0x21) + b"\0" * 23 + user + b"\0" + b"\x14" + b"0123456789" * 2
    if caps & WITH_DB:
        body += db + b"\0"
    return pkt(1, body + b"mysql_native_password\0")


def ok(seq=1, head=0, status=2):
    return pkt(seq, bytes([head, 0, 0]) + struct.pack("<HH", status, 0))


def eof(seq, status=2):
    return pkt(seq, b"\xfe" + struct.pack("<HH", 0, status))


def err(seq, code, msg, state=b"HY000"):
    return pkt(seq, b"\xff" + struct.pack("<H", code) + b"#" + state + msg)


def cmd(c, arg=b""):
    return pkt(0, bytes([c]) + arg)


def coldef(seq, name=b"id"):
    return pkt(seq, b"\x03def\0\0\0" + bytes([len(name)]) + name + b"\0\x0c\x21\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00")


def result(rows, deprecate=False, status=2):
    out, seq = pkt(1, b"\x01") + coldef(2), 3
    if not deprecate:
        out += eof(seq)
        seq += 1
    for r in rows:
        out += pkt(seq, bytes([len(r)]) + r)
        seq += 1
    return out + (ok(seq, 0xfe, status) if deprecate else eof(seq, status))


def session():
    return [rec(SERVER, greeting()), rec(CLIENT, login()), rec(SERVER, ok(2)),
            rec(CLIENT, cmd(3, b"SELECT id FROM t")), rec(SERVER, result([b"1", b"22"])),
            rec(CLIENT, cmd(3, b"SELEC oops")), rec(SERVER, err(1, 1064, b"syntax error", b"42000")),
            rec(CLIENT, cmd(2, b"other")), rec(SERVER, ok()),
            rec(CLIENT, cmd(0x16, b"SELECT ? FROM t")),
            rec(SERVER, pkt(1, b"\x00" + struct.pack("<IHHBH", 1, 1, 1, 0, 0)) + coldef(2, b"?") + eof(3) +
                coldef(4, b"c") + eof(5)),
            rec(CLIENT, cmd(0x17, struct.pack("<IBI", 1, 0, 1))),
            rec(SERVER, pkt(1, b"\x01") + coldef(2) + eof(3) + pkt(4, b"\x00\x00\x02hi") + eof(5)),
            rec(CLIENT, cmd(0x19, struct.pack("<I", 1))),
            rec(CLIENT, cmd(3, b"LOAD DATA LOCAL INFILE 'f' INTO TABLE t")), rec(SERVER, pkt(1, b"\xfbf")),
            rec(CLIENT, pkt(2, b"1\n2\n") + pkt(3, b"")), rec(SERVER, ok(4)),
            rec(CLIENT, cmd(0x11, b"root2\0\x14" + b"0123456789" * 2 + b"\0")),
            rec(SERVER, pkt(1, b"\xfemysql_native_password\0" + b"x" * 20)), rec(CLIENT, pkt(2, b"y" * 20)),
            rec(SERVER, err(3, 1045, b"Access denied for user 'root2'", b"28000")),
            rec(CLIENT, cmd(1))]


def attrs_query():
    body = (b"\x03\x03\x01\x02\x01\xfe\x00\x02n1\xfe\x00\x02n2\x08\x00\x02n3\x05hello" + b"\x01" * 8 +
            b"SELECT mysql_query_attribute_string('n1')")
    return pkt(0, body)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                                  "l7_mysql")
    outdir = os.path.normpath(outdir)
    os.makedirs(outdir, exist_ok=True)
    caps_d = CAPS | DEPRECATE_EOF | QUERY_ATTRS
    seeds = {
        "session": seed(0, *session()),
        "session_detect_port": seed(1, *session()),
        "session_small_buffer": seed(4, *session()),
        "bytewise_login": seed(0, bytewise(SERVER, greeting()), bytewise(CLIENT, login()), bytewise(SERVER, ok(2)),
                               bytewise(CLIENT, cmd(3, b"SELECT 1")), bytewise(SERVER, result([b"1"]))),
        "deprecate_eof_more_results": seed(0, rec(SERVER, greeting(caps=caps_d)), rec(CLIENT, login(caps=caps_d)),
                                           rec(SERVER, ok(2)), rec(CLIENT, cmd(3, b"CALL p()")),
                                           rec(SERVER, result([b"a", b"b"], True, 0x000a) + ok(6)),
                                           rec(CLIENT, attrs_query()), rec(SERVER, ok()),
                                           rec(CLIENT, cmd(3, b"SELECT slow")),
                                           rec(SERVER, pkt(1, b"\x01") + coldef(2) + pkt(3, b"\x011") +
                                               err(4, 1317, b"interrupted"))),
        "tls": seed(0, rec(SERVER, greeting(b"5.5.5-10.0.36-MariaDB", CAPS | SSL)),
                    rec(CLIENT, pkt(1, struct.pack("<IIB", CAPS | SSL, 16777216, 0x21) + b"\0" * 23)),
                    rec(CLIENT, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
                    rec(SERVER, b"\x16\x03\x03\x00\x5d\x02\x00\x00\x59\x03\x03")),
        "compressed": seed(0, rec(SERVER, greeting(caps=CAPS | COMPRESS)), rec(CLIENT, login(caps=CAPS | COMPRESS)),
                           rec(SERVER, ok(2)), rec(CLIENT, b"\x0d\x00\x00\x00\x00\x00\x00" + cmd(3, b"SELECT 1"))),
        "error_greeting": seed(0, rec(SERVER, err(0, 1130, b"Host 'x' is not allowed to connect"))),
        "login_refused": seed(0, rec(SERVER, greeting(b"5.1.67-log")), rec(CLIENT, login(b"nope", b"", CAPS & ~WITH_DB)),
                              rec(SERVER, err(2, 1045, b"Access denied", b"28000"))),
        "mid_stream": seed(2, rec(CLIENT, cmd(3, b"\x00\x01SELECT 7")), rec(SERVER, ok()),
                           rec(CLIENT, cmd(3, b"\tSELECT 8")), rec(SERVER, result([b"8"]))),
        "auth_length_lie": seed(0, rec(SERVER, greeting(caps=CAPS | LENENC_AUTH)),
                                rec(CLIENT, pkt(1, struct.pack("<IIB", CAPS | LENENC_AUTH, 1 << 24, 0x21) + b"\0" * 23 +
                                                b"mallory\0\xfc\xff\xffxyz")), rec(SERVER, ok(2)),
                                rec(CLIENT, cmd(3, b"SELECT 1")), rec(SERVER, pkt(1, b"\xff")),
                                rec(CLIENT, b"\xe8\x03\x00\x00\x03SELECT")),
        "truncated_greetings": seed(0, rec(SERVER, pkt(0, b"\x0a8.0.36")), rec(CLIENT, login(b"alice")),
                                    rec(SERVER, ok(2)), rec(SERVER, pkt(0, b"\x098.0\0"))),
        "huge_header": seed(0, rec(SERVER, greeting()), rec(CLIENT, login()), rec(SERVER, ok(2)),
                            rec(CLIENT, b"\xff\xff\xff\x00\x03SELECT '" + b"a" * 3000),
                            rec(CLIENT, b"a" * 3000), rec(SERVER, ok(1))),
        "holes": seed(0, rec(SERVER, greeting()), rec(CLIENT, login()), rec(SERVER, ok(2)),
                      rec(CLIENT, cmd(3, b"SELECT blob FROM t")),
                      rec(SERVER, pkt(1, b"\x01") + coldef(2, b"blob") + eof(3)),
                      rec(SERVER, b"\xb8\x0b\x00\x04\xfc\xb5\x0b" + b"z" * 993),
                      rec(SERVER, b"z" * 993, hole=True), rec(SERVER, b"z" * 1000 + eof(5)),
                      rec(CLIENT, cmd(3, b"SELECT lost")[7:], hole=True), rec(SERVER, ok()),
                      rec(CLIENT, cmd(3, b"SELECT found")), rec(SERVER, ok())),
    }
    for name, data in sorted(seeds.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), outdir))


main()
