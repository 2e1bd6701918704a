#!/usr/bin/env python3
"""gen-l7-seeds-tns.py - writes seed inputs for fuzz/fuzz_l7_tns.c.

Input format (see fuzz/fuzz_l7_tns.c): one mode byte (bit 0: a port only
detect() recognises, bit 1: no handshake (mid-stream), bit 2: a 4 KiB
--l7-max-buffer), then records of a 2-byte header (bit 15: server
direction, bit 14: a 7-byte hole before the record, low 14 bits: length)
and the payload.  The TNS packets are written here from scratch: CONNECT
with its descriptor, RESEND, ACCEPT of versions 314 and 315 (4-byte lengths
after it), REFUSE with its error, REDIRECT, connect data sent in the next
DATA packet, DATA packets carrying SQL (length-prefixed and 0xfe-chunked)
and ORA- errors, a data descriptor, and the hostile shapes the unit tests
cover (lengths below the header or beyond the data, lying connect data
offsets, unknown types, deep descriptors, holes, byte-by-byte delivery);
nothing is copied from captures.  Standard library only.

Usage: scripts/gen-l7-seeds-tns.py [OUTDIR]   (default: fuzz/corpus/l7_tns)
"""
import os
import struct
import sys

CLIENT, SERVER = 0, 1
CONNECT, ACCEPT, REFUSE, REDIRECT, DATA, RESEND, DD = 1, 2, 4, 5, 6, 11, 15
CD = (b"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl.example)(CID=(PROGRAM=sqlplus@kali)(HOST=kali)(USER=root)))"
      b"(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.72.139)(PORT=1521)))")


def rec(direction, payload, hole=False):
    out = b""
    for i in range(0, max(len(payload), 1), 0x3fff):
        part = payload[i:i + 0x3fff]
        h = (0x8000 if direction else 0) | (0x4000 if hole and i == 0 else 0) | len(part)
        out += struct.pack("!H", h) + part
    return out


def bytewise(direction, payload):
    return b"".join(rec(direction, payload[i:i + 1]) for i in range(len(payload)))


def seed(mode, *records):
    return bytes([mode]) + b"".join(records)


def pkt(ptype, body, long_len=False):
    n = 8 + len(body)
    head = struct.pack("!I", n) if long_len else struct.pack("!HH", n, 0)
    return head + bytes([ptype, 0]) + b"\0\0" + body


def connect(cd=CD, follows=False, offset=70, cd_len=None):
    body = struct.pack("!HHHHHHHHHHIBB", 315, 300, 0x0c41, 8192, 65535, 0x7f08, 0, 0x0100,
                       len(cd) if cd_len is None else cd_len, offset, 2048, 0x41, 0x41)
    body += b"\0" * (offset - 8 - len(body)) if offset - 8 > len(body) else b""
    return pkt(CONNECT, body + (b"" if follows else cd))


def accept(version=315):
    return pkt(ACCEPT, struct.pack("!HHHHHHHBB", version, 0x0c41, 8192, 65535, 0x0100, 0, 0, 0x41, 0x41))


def data(ttc, long_len=True):
    return pkt(DATA, b"\0\0" + ttc, long_len)


def sql_call(sql, long_len=True):
    return data(b"\x11\x69\x00\x01\x01\x01\x03\x5e\x01\x02\x80\x21\x00\x01\x01" + bytes([len(sql)]) + sql +
                b"\x01\x01\x00\x00", long_len)


def chunked_sql(sql):
    return data(b"\x03\x5e\x02\x02\xfe\x40" + sql[:64] + bytes([len(sql) - 64]) + sql[64:] + b"\x00\x01\x01")


LONG_SQL = b"SELECT owner, table_name, tablespace_name FROM all_tables WHERE owner = 'SCOTT' ORDER BY 2"


def session():
    return [rec(CLIENT, connect()), rec(SERVER, pkt(RESEND, b"")), rec(CLIENT, connect()), rec(SERVER, accept()),
            rec(CLIENT, data(b"\xde\xad\xbe\xef\x00\x9a")), rec(SERVER, data(b"\xde\xad\xbe\xef\x00\x75")),
            rec(CLIENT, sql_call(b"SELECT * FROM dual")),
            rec(SERVER, data(b"\x04\x01\x02ORA-00942: table or view does not exist\n")),
            rec(CLIENT, chunked_sql(LONG_SQL)), rec(SERVER, data(b"\x06\x01rows")),
            rec(CLIENT, sql_call(b"select x from t")), rec(SERVER, data(b"\x04ORA-01403: no data found\n"))]


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus",
                                                                  "l7_tns")
    outdir = os.path.normpath(outdir)
    os.makedirs(outdir, exist_ok=True)
    dd = struct.pack("!I", 20) + bytes([DD, 0, 0, 0]) + b"\x00\x03\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00" + b"0123456789"
    seeds = {
        "session": seed(0, *session()),
        "session_detect_port": seed(1, *session()),
        "session_small_buffer": seed(4, *session()),
        "bytewise": seed(0, bytewise(CLIENT, connect()), bytewise(SERVER, accept()),
                         bytewise(CLIENT, sql_call(b"UPDATE t SET a = 1")), bytewise(SERVER, data(b"\x08\x01"))),
        "refuse": seed(0, rec(CLIENT, connect(b"(DESCRIPTION=(CONNECT_DATA=(SID=igor)(CID=(PROGRAM=p)(HOST=h)(USER=u))))")),
                       rec(SERVER, pkt(REFUSE, b"\x22\x00" + struct.pack("!H", 40) +
                                       b"(DESCRIPTION=(TMP=)(VSNNUM=0)(ERR=12514)(ERROR_STACK=(ERROR=(CODE=12514))))"))),
        "redirect": seed(0, rec(CLIENT, connect()),
                         rec(SERVER, pkt(REDIRECT, struct.pack("!H", 52) +
                                         b"(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.0.9)(PORT=1522))"))),
        "connect_data_follows": seed(0, rec(CLIENT, connect(follows=True)), rec(CLIENT, data(CD, False)),
                                     rec(SERVER, accept())),
        "version_314": seed(0, rec(CLIENT, connect()), rec(SERVER, accept(314)),
                            rec(CLIENT, sql_call(b"DELETE FROM t", False)), rec(SERVER, data(b"\x08\x01", False))),
        "mid_stream": seed(2, rec(CLIENT, sql_call(b"BEGIN p; END;")), rec(SERVER, data(b"\x08ORA-06550: x")),
                           rec(CLIENT, sql_call(b"COMMIT", False))),
        "length_lies": seed(0, rec(CLIENT, b"\x00\x04\x00\x00\x01\x00\x00\x00junkjunk"), rec(CLIENT, b"more junk"),
                            rec(CLIENT, connect()), rec(SERVER, accept()),
                            rec(SERVER, b"\x00\x00\x00\x10\x1e\x00\x00\x00abcdefgh"),
                            rec(CLIENT, b"\x7f\xff\xff\xff\x06\x00\x00\x00"),
                            rec(CLIENT, connect()[:100])),
        "connect_offsets": seed(0, rec(CLIENT, connect(offset=20)), rec(SERVER, accept()),
                                rec(CLIENT, connect(b"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=cut", cd_len=400)),
                                rec(CLIENT, connect(b"(" * 40 + b"(SID=z)" + b")" * 40))),
        "dd_and_holes": seed(0, rec(CLIENT, connect()), rec(SERVER, accept()), rec(CLIENT, dd),
                             rec(CLIENT, sql_call(b"UPDATE t SET a = 1")),
                             rec(SERVER, struct.pack("!I", 2010) + b"\x06\x00\x00\x00\x00\x00" + b"\x01" * 500),
                             rec(SERVER, b"\x01" * 500, hole=True), rec(SERVER, b"\x01" * 493),
                             rec(CLIENT, sql_call(b"INSERT INTO lost VALUES (1)")[3:], hole=True),
                             rec(SERVER, data(b"\x08\x00")), rec(CLIENT, sql_call(b"COMMIT")), rec(SERVER, data(b"\x08"))),
    }
    for name, blob in sorted(seeds.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(blob)
    print("wrote %d seeds to %s" % (len(seeds), outdir))


main()
