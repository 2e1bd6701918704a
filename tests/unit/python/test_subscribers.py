#!/usr/bin/python3
"""Unit tests of the mobile-subscriber side of the microcloud package that
need no Redis: user.<imsi> records as the probe writes them (types, empty
fields), user.teid.* keys, argument checks made before any connection, and
mcquery's subscribers/subscriber output from records (a stand-in Cloud).
Run by CTest (unit_python_test_subscribers) from the source tree.
"""
import contextlib
import io
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import mcpy  # noqa: E402,F401  (python/ on the path, or the installed package)

from microcloud import Cloud, cli  # noqa: E402
from microcloud.client import in_session, is_subscriber, subscriber_record, teid_key  # noqa: E402

# user.<imsi> as mcprobe's subscriber layer writes it (src/l7/mobile.c cloud_set, src/cloud/cloud.c): every
# attribute, empty when GTP-C did not give it, then the counters of the aggregation interface.
PROBE_HASH = {"ip": "10.45.0.7", "since": "1700000000123", "probe": "p1", "imsi": "001010000000007",
              "msisdn": "0393330000007", "imei": "3548210000000070", "apn": "internet.mnc001.mcc001.gprs",
              "rat": "EUTRAN", "rat_type": "6", "ip6": "", "teids": "192.0.2.1:1000,192.0.2.2:2000",
              "mcc": "001", "mnc": "01", "tac": "4660", "eci": "305419896", "lac": "", "ci": "",
              "sent_pkt": "12", "rcvd_pkt": "30", "sent_bytes": "1500", "rcvd_bytes": "42000",
              "last_seen": "1700000005000"}


class Records(unittest.TestCase):
    def test_probe_hash_types(self):
        r = subscriber_record(PROBE_HASH)
        for f in ("imsi", "msisdn", "imei", "apn", "rat", "ip", "teids", "probe"):
            self.assertEqual(r[f], PROBE_HASH[f], f)
        self.assertEqual((r["mcc"], r["mnc"]), ("001", "01"))  # MCC/MNC keep their leading zeros
        self.assertEqual(r["msisdn"], "0393330000007")
        for f in ("since", "rat_type", "tac", "eci", "sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes", "last_seen"):
            self.assertIsInstance(r[f], int, f)
            self.assertEqual(r[f], int(PROBE_HASH[f]), f)
        for f in ("ip6", "lac", "ci"):  # empty: GTP-C did not give them
            self.assertNotIn(f, r)

    def test_subscriber_and_session(self):
        self.assertTrue(is_subscriber(PROBE_HASH) and in_session(PROBE_HASH))
        v6 = dict(PROBE_HASH, ip="2001:db8:1::5", ip6="2001:db8:1::5")
        self.assertTrue(in_session(v6))
        lingering = {k: v for k, v in PROBE_HASH.items() if k not in ("ip", "ip6", "teids")}
        self.assertTrue(is_subscriber(lingering))
        self.assertFalse(in_session(lingering))
        self.assertFalse(in_session(dict(PROBE_HASH, ip="", ip6="")))
        self.assertFalse(is_subscriber({"ip": "10.0.0.1", "since": "1", "probe": "p"}))  # a plain user
        self.assertFalse(is_subscriber({"ip": "10.0.0.1", "imsi": ""}))
        self.assertFalse(is_subscriber({"sent_pkt": "3"}))  # counters alone (pushed after the key expired)

    def test_teid_keys(self):
        self.assertEqual(teid_key("192.0.2.1", 1000), "user.teid.192.0.2.1:1000")
        self.assertEqual(teid_key(" 2001:DB8:0::1 ", "4294967295"), "user.teid.[2001:db8::1]:4294967295")
        self.assertEqual(teid_key("192.0.2.1", "0x3e8"), "user.teid.192.0.2.1:1000")
        self.assertEqual(teid_key("192.0.2.1", "0010"), "user.teid.192.0.2.1:10")
        self.assertEqual(teid_key("::ffff:192.0.2.1", 0), "user.teid.[::ffff:192.0.2.1]:0")
        for addr, teid in (("192.0.2.1", -1), ("192.0.2.1", 1 << 32), ("192.0.2.1", "x"), ("192.0.2.1", True),
                           ("192.0.2.1", 1.5), ("192.0.2.1", ""), ("192.0.2", 1), ("[2001:db8::1]", 1)):
            with self.assertRaises(ValueError, msg=repr((addr, teid))):
                teid_key(addr, teid)

    def test_reads_refuse_bad_arguments_before_asking(self):
        cloud = Cloud(nodes="127.0.0.1:1", socket_timeout=0.2)  # nobody listens: errors must come first
        try:
            for bad in ("", "abc", "1" * 16, "00101-0000", "１２３", None, 1234):
                with self.assertRaises(ValueError, msg=repr(bad)):
                    cloud.subscriber(bad)
            with self.assertRaises(ValueError):
                cloud.subscriber_of_teid("10.0.0.300", 1)
            with self.assertRaises(ValueError):
                cloud.subscriber_of_teid("10.0.0.1", 1 << 32)
        finally:
            cloud.close()

    def test_annotations(self):
        for m in (Cloud.subscriber, Cloud.subscribers, Cloud.subscriber_of_teid, Cloud.user_of):
            self.assertIn("return", m.__annotations__, m.__name__)


class FakeCloud:
    """Stands in for Cloud in mcquery's command functions."""

    def __init__(self, recs, users=None):
        self.recs, self.users, self.asked = recs, users or {}, []

    def subscribers(self, active=True):
        self.asked.append(active)
        return [r for r in self.recs if not active or in_session(r)]

    def subscriber(self, imsi):
        return next((r for r in self.recs if r["imsi"] == imsi), None)

    def user_of(self, ip):
        return self.users.get(ip)

    def user(self, uid):
        return {}


def recs():
    a = subscriber_record(PROBE_HASH)
    b = subscriber_record(dict(PROBE_HASH, imsi="001010000000002", msisdn="", ip="2001:db8:1::9",
                               ip6="2001:db8:1::9", sent_pkt="1", sent_bytes="2048", rcvd_pkt="", rcvd_bytes=""))
    gone = subscriber_record({k: v for k, v in PROBE_HASH.items() if k not in ("ip", "ip6", "teids")})
    gone["imsi"] = "001010000000009"
    return [b, a, gone]


class CommandLine(unittest.TestCase):
    def run_cmd(self, argv, cloud):
        args = cli.parse_args(argv)
        cli.check_options(args)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.HANDLERS[args.command](cloud, args)
        return rc, out.getvalue(), err.getvalue()

    def test_subscribers_table(self):
        cloud = FakeCloud(recs())
        rc, out, _ = self.run_cmd(["subscribers"], cloud)
        lines = out.splitlines()
        self.assertEqual((rc, cloud.asked), (0, [True]))
        self.assertEqual(lines[0].split(), ["IMSI", "MSISDN", "APN", "RAT", "IP", "IP6", "SENT_PKT", "RCVD_PKT",
                                            "SENT_BYTES", "RCVD_BYTES", "LAST_SEEN"])
        self.assertEqual([x.split()[0] for x in lines[1:]], ["001010000000002", "001010000000007"])  # by IMSI
        row = dict(zip(lines[0].split(), lines[2].split()))
        self.assertEqual((row["MSISDN"], row["RAT"], row["IP"], row["IP6"]), ("0393330000007", "EUTRAN",
                                                                              "10.45.0.7", "-"))
        self.assertEqual((row["SENT_BYTES"], row["RCVD_BYTES"], row["LAST_SEEN"]),
                         ("1.46KiB", "41.0KiB", "2023-11-14T22:13:25.000Z"))
        row = dict(zip(lines[0].split(), lines[1].split()))
        self.assertEqual((row["MSISDN"], row["RCVD_PKT"], row["SENT_BYTES"]), ("-", "0", "2.00KiB"))
        rc, out, _ = self.run_cmd(["subscribers", "--all", "--raw"], cloud)
        self.assertEqual([x.split()[0] for x in out.splitlines()[1:]],
                         ["001010000000002", "001010000000007", "001010000000009"])
        self.assertIn("42000", out)
        rc, out, _ = self.run_cmd(["--top", "1", "subscribers", "--sort", "bytes"], cloud)
        self.assertEqual([x.split()[0] for x in out.splitlines()[1:]], ["001010000000007"])

    def test_subscribers_json(self):
        rc, out, _ = self.run_cmd(["subscribers", "--json"], FakeCloud(recs()))
        got = json.loads(out)
        self.assertEqual(rc, 0)
        self.assertEqual([r["imsi"] for r in got], ["001010000000002", "001010000000007"])
        self.assertEqual(got[1], subscriber_record(PROBE_HASH))
        rc, out, _ = self.run_cmd(["subscribers", "--json"], FakeCloud([]))
        self.assertEqual((rc, json.loads(out)), (0, []))

    def test_subscriber_one(self):
        cloud = FakeCloud(recs(), users={"10.45.0.7": "001010000000007", "10.0.0.1": "alice"})
        rc, out, _ = self.run_cmd(["subscriber", "001010000000007"], cloud)
        fields = dict(line.split(None, 1) for line in out.splitlines())
        self.assertEqual(rc, 0)
        self.assertEqual((fields["imsi"], fields["mcc"], fields["mnc"], fields["eci"], fields["tac"]),
                         ("001010000000007", "001", "01", "305419896", "4660"))  # codes never scaled
        self.assertEqual(fields["since"], "2023-11-14T22:13:20.123Z")
        rc, out2, _ = self.run_cmd(["subscriber", "10.45.0.7"], cloud)  # by UE address
        self.assertEqual((rc, out2), (0, out))
        rc, out, _ = self.run_cmd(["--json", "subscriber", "001010000000007"], cloud)
        self.assertEqual((rc, json.loads(out)), (0, subscriber_record(PROBE_HASH)))
        rc, out, err = self.run_cmd(["subscriber", "001010000000099"], cloud)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("no such subscriber", err)
        rc, out, _ = self.run_cmd(["--json", "subscriber", "001010000000099"], cloud)
        self.assertEqual((rc, json.loads(out)), (1, None))
        for ip in ("10.0.0.1", "10.9.9.9"):  # a plain user's address, nobody's
            rc, out, err = self.run_cmd(["subscriber", ip], cloud)
            self.assertEqual(rc, 1, ip)
            self.assertIn("no subscriber", err)
        with self.assertRaises(cli.UsageError):
            self.run_cmd(["subscriber", "imsi-7"], cloud)

    def test_options(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            for argv in (["subscribers", "--cidr", "10.0.0.0/8"], ["subscriber", "001", "--top", "3"],
                         ["subscriber", "not-an-imsi"]):
                self.assertEqual(cli.main(["--redis", "127.0.0.1:1", "--timeout", "0.2"] + argv, environ={}), 2,
                                 argv)
        a = cli.parse_args(["subscribers", "--all"])
        self.assertTrue(a.all)
        self.assertFalse(cli.parse_args(["subscribers"]).all)


if __name__ == "__main__":
    unittest.main(verbosity=1)
