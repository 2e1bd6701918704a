#!/usr/bin/python3
"""Unit tests of the microcloud package that need no Redis: address checks,
networks, units and times, mcquery's option handling, the package's typing
marker.  Run by CTest (unit_python_microcloud) from the source tree and by
tests/integration/test_python_venv.py against the installed package
(MC_PYTHON_INSTALLED=1, tests/lib/mcpy.py).
"""
import argparse
import datetime
import io
import ipaddress
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import mcpy  # noqa: E402

import microcloud  # noqa: E402
from microcloud import Cloud, cli, normalise_ip, parse_networks, in_networks  # noqa: E402
from microcloud.units import human_bytes, human_count, iso_ms, parse_time  # noqa: E402


def ms(*args, tz=datetime.timezone.utc):
    t = datetime.datetime(*args, tzinfo=tz)
    return int(t.timestamp() * 1000)


class Addresses(unittest.TestCase):
    def test_normalise_as_inet_ntop(self):
        self.assertEqual(normalise_ip("10.0.0.1"), "10.0.0.1")
        self.assertEqual(normalise_ip(" 2001:DB8:0:0::1 "), "2001:db8::1")
        self.assertEqual(normalise_ip("::FFFF:0A01:0203"), "::ffff:10.1.2.3")
        self.assertEqual(normalise_ip("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1")
        self.assertEqual(normalise_ip(ipaddress.ip_address("2001:db8::2")), "2001:db8::2")

    def test_invalid_addresses_raise(self):
        for bad in ("10.0.0.256", "10.0.0", "nope", "", " ", "10.0.0.1/24", "2001:db8::g", "1.2.3.4:80", None, 42):
            with self.assertRaises(ValueError, msg=repr(bad)):
                normalise_ip(bad)

    def test_reads_refuse_bad_addresses_before_asking(self):
        # a node nobody listens on: a ValueError must come before any connection is tried
        cloud = Cloud(nodes="127.0.0.1:1", socket_timeout=0.2)
        try:
            for call in (cloud.host, cloud.user_of):
                with self.assertRaises(ValueError):
                    call("10.0.0.300")
            with self.assertRaises(ValueError):
                cloud.set_user("alice", "not-an-ip")
            with self.assertRaises(ValueError):
                cloud.remove_user("alice", "10.1")
            for uid in ("", "x" * 64, "ip.10.0.0.1", "a\nb"):
                with self.assertRaises(ValueError, msg=repr(uid)):
                    cloud.set_user(uid, "10.0.0.1")
            for attrs in ({"imsi": "abc"}, {"imsi": "1" * 16}, {"msisdn": ""}, {"msisdn": "１２３"}):
                with self.assertRaises(ValueError, msg=repr(attrs)):
                    cloud.set_user("alice", "10.0.0.1", **attrs)
            for attrs in ({"k": object()}, {"k": True}, {"k": [1]}):
                with self.assertRaises(TypeError, msg=repr(attrs)):
                    cloud.set_user("alice", "10.0.0.1", **attrs)
        finally:
            cloud.close()

    def test_networks(self):
        nets = parse_networks(["10.0.0.0/8", "2001:db8::/32,192.168.1.1"])
        self.assertEqual([str(n) for n in nets], ["10.0.0.0/8", "2001:db8::/32", "192.168.1.1/32"])
        self.assertTrue(in_networks("10.1.2.3", nets))
        self.assertTrue(in_networks("2001:db8::5", nets))
        self.assertTrue(in_networks("192.168.1.1", nets))
        self.assertFalse(in_networks("192.168.1.2", nets))
        self.assertFalse(in_networks("::ffff:10.1.2.3", nets))  # an IPv6 address, not 10.1.2.3
        self.assertFalse(in_networks("garbage", nets))
        self.assertTrue(in_networks("anything", []))
        for bad in ("10.0.0.1/24", "10.0.0.0/33", "nope"):
            with self.assertRaises(ValueError):
                parse_networks(bad)

    def test_scan_glob_narrows_only_safely(self):
        from microcloud.client import _scan_tail
        self.assertEqual(_scan_tail(parse_networks("10.1.0.0/16")), "10.1.*")
        self.assertEqual(_scan_tail(parse_networks("10.0.0.0/8")), "10.*")
        self.assertEqual(_scan_tail(parse_networks("0.0.0.0/0")), "*")
        self.assertEqual(_scan_tail(parse_networks("10.1.0.0/17")), "*")  # not on an octet: filtered after
        self.assertEqual(_scan_tail(parse_networks("2001:db8::/32")), "*")
        self.assertEqual(_scan_tail(parse_networks("10.0.0.0/8,10.1.0.0/16")), "*")


class Units(unittest.TestCase):
    def test_counts(self):
        self.assertEqual([human_count(v) for v in (0, 999, 1000, 1234, 12345, 123456, 999999, 1234567, 10 ** 12)],
                         ["0", "999", "1.00k", "1.23k", "12.3k", "123k", "1.00M", "1.23M", "1.00T"])
        self.assertEqual(human_count(None), "-")
        self.assertEqual(human_count("abc"), "abc")

    def test_bytes(self):
        self.assertEqual([human_bytes(v) for v in (0, 1023, 1024, 1536, 10 * 1024 ** 2, 1024 ** 3 - 1)],
                         ["0B", "1023B", "1.00KiB", "1.50KiB", "10.0MiB", "1.00GiB"])

    def test_iso(self):
        self.assertEqual(iso_ms(1700000000123), "2023-11-14T22:13:20.123Z")
        self.assertEqual(iso_ms(0), "-")
        self.assertEqual(iso_ms(None), "-")
        self.assertEqual(iso_ms("x"), "-")

    def test_parse_time(self):
        self.assertEqual(parse_time("1700000000123"), 1700000000123)
        self.assertEqual(parse_time("0"), 0)
        self.assertEqual(parse_time("2024-05-01"), ms(2024, 5, 1))
        self.assertEqual(parse_time("2024-05-01T10:00"), ms(2024, 5, 1, 10))
        self.assertEqual(parse_time("2024-05-01T10:00:00Z"), ms(2024, 5, 1, 10))
        self.assertEqual(parse_time("2024-05-01 10:00:00.250Z"), ms(2024, 5, 1, 10) + 250)
        self.assertEqual(parse_time("2024-05-01T12:00:00+02:00"), ms(2024, 5, 1, 10))
        self.assertEqual(parse_time(iso_ms(1700000000123)), 1700000000123)  # what mcquery prints, it reads
        now = 1700000000000
        self.assertEqual(parse_time("15m", now), now - 900000)
        self.assertEqual(parse_time("2h", now), now - 7200000)
        self.assertEqual(parse_time("1d", now), now - 86400000)
        self.assertEqual(parse_time("500ms", now), now - 500)
        for bad in ("", "yesterday", "2024-13-01", "2024-05-01T25:00", "-5m", "1y"):
            with self.assertRaises(ValueError, msg=repr(bad)):
                parse_time(bad)


class CommandLine(unittest.TestCase):
    def parse(self, *argv):
        return cli.build_parser().parse_args(list(argv))

    def test_output_options_before_or_after_the_command(self):
        for argv in (["--top", "5", "--raw", "hosts"], ["hosts", "--top", "5", "--raw"]):
            a = self.parse(*argv)
            self.assertEqual((a.top, a.raw, a.json, a.sort, a.cidr), (5, True, False, None, None), argv)
        self.assertEqual(cli.parse_args(["--cidr", "10.0.0.0/8", "hosts", "--cidr", "2001:db8::/32"]).cidr,
                         ["10.0.0.0/8", "2001:db8::/32"])
        a = self.parse("replay", "--since", "2024-05-01")
        self.assertEqual(a.since, ms(2024, 5, 1))

    def test_bad_options_are_usage_errors(self):
        err = io.StringIO()
        old, sys.stderr = sys.stderr, err
        try:
            for argv in (["hosts", "--top", "0"], ["replay", "--since", "soon"], ["hosts", "--top", "x"]):
                with self.assertRaises(SystemExit) as e:
                    self.parse(*argv)
                self.assertEqual(e.exception.code, 2, argv)
            for argv in (["--json", "--raw", "hosts"], ["host", "10.0.0.1", "--sort", "bytes"],
                         ["probes", "--cidr", "10.0.0.0/8"], ["hosts", "--cidr", "10.0.0.1/8"],
                         ["--redis-auth", "a", "--redis-auth-file", "/dev/null", "probes"],
                         ["--redis-auth-file", "/no/such/file", "probes"]):
                self.assertEqual(cli.main(["--redis", "127.0.0.1:1"] + argv, environ={}), 2, argv)
        finally:
            sys.stderr = old

    def test_password_sources(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "auth")
        with open(path, "w") as f:
            f.write("app:s3:cret\nignored\n")

        def auth(argv, env):
            return cli.read_auth(self.parse(*(argv + ["probes"])), env)
        self.assertEqual(auth([], {}), (None, None))
        self.assertEqual(auth([], {"MICROCLOUD_REDIS_AUTH": "pw"}), (None, "pw"))
        self.assertEqual(auth([], {"MICROCLOUD_REDIS_AUTH": "u:pw"}), ("u", "pw"))
        self.assertEqual(auth(["--redis-auth-file", path], {"MICROCLOUD_REDIS_AUTH": "x"}), ("app", "s3:cret"))
        self.assertEqual(auth(["--redis-auth", "default:pw"], {"MICROCLOUD_REDIS_AUTH": "x"}), ("default", "pw"))
        with open(path, "w") as f:
            f.write("\n")
        with self.assertRaises(cli.UsageError):
            auth(["--redis-auth-file", path], {})

    def test_show_units(self):
        self.assertEqual(cli.show("sent_bytes", 1536, False), "1.50KiB")
        self.assertEqual(cli.show("sent_bytes", 1536, True), "1536")
        self.assertEqual(cli.show("flows", 12345, False), "12.3k")
        self.assertEqual(cli.show("last_seen", 1700000000123, False), "2023-11-14T22:13:20.123Z")
        self.assertEqual(cli.show("last_seen", 1700000000123, True), "1700000000123")
        self.assertEqual(cli.show("interval_ms", 60000, False), "60000")
        self.assertEqual(cli.show("imsi", "001010000000001", False), "001010000000001")
        self.assertEqual(cli.show("version", None, False), "-")

    def test_sort_and_top(self):
        items = [("10.0.0.10", {"sent_bytes": 5, "rcvd_bytes": 5, "flows": 1}),
                 ("10.0.0.9", {"sent_bytes": 30, "flows": 7}),
                 ("2001:db8::1", {"sent_bytes": 1, "rcvd_bytes": 40, "flows": 7}),
                 ("10.0.0.2", {"flows": 2})]

        def order(*argv):
            a = self.parse(*(list(argv) + ["hosts"]))
            return [ip for ip, _ in cli.ordered(iter(items), a, "ip", "bytes", cli.HOST_SORTS[1:], stream=True)]
        self.assertEqual(order(), [ip for ip, _ in items])  # streamed as found
        self.assertEqual(order("--sort", "bytes"), ["2001:db8::1", "10.0.0.9", "10.0.0.10", "10.0.0.2"])
        self.assertEqual(order("--top", "2"), ["2001:db8::1", "10.0.0.9"])
        self.assertEqual(order("--sort", "flows"), ["10.0.0.9", "2001:db8::1", "10.0.0.2", "10.0.0.10"])
        self.assertEqual(order("--sort", "ip"), ["10.0.0.2", "10.0.0.9", "10.0.0.10", "2001:db8::1"])
        with self.assertRaises(cli.UsageError):
            order("--sort", "nope")

    def test_table_streams(self):
        out = io.StringIO()
        t = cli.Table(["IP", "N"], out=out, sample=2)
        t.add(["10.0.0.1", "1"])
        self.assertEqual(out.getvalue(), "")  # widths from the first rows
        t.add(["10.0.0.2", "22"])
        self.assertEqual(out.getvalue().splitlines(), ["IP         N", "10.0.0.1   1", "10.0.0.2  22"])
        t.add(["2001:db8::1", "3"])  # after the sample: printed at once, wider
        self.assertEqual(out.getvalue().splitlines()[-1], "2001:db8::1   3")
        t.close()


class Package(unittest.TestCase):
    def test_typed_and_versioned(self):
        where = mcpy.check_installed()
        self.assertTrue(os.path.isfile(os.path.join(where, "py.typed")), "no py.typed in %s" % where)
        self.assertRegex(microcloud.__version__, r"^\d+\.\d+\.\d+$")

    def test_annotations(self):
        hints = Cloud.set_user.__annotations__
        self.assertIn("uid", hints)
        self.assertIn("return", Cloud.hosts.__annotations__)

    def test_manual_documents_every_option_and_command(self):
        page = os.path.join(mcpy.SRC, "docs", "mcquery.md")
        if not os.path.exists(page):
            self.skipTest("no docs/mcquery.md beside the tests")
        text = open(page, encoding="utf-8").read()
        ap = cli.build_parser()
        sub = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)][0]
        options, commands = set(), set(sub.choices)
        for parser in [ap] + list(sub.choices.values()):
            for action in parser._actions:
                if action.help != argparse.SUPPRESS:
                    options.update(o for o in action.option_strings if o.startswith("--") and o != "--help")
        self.assertEqual(sorted(o for o in options if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), text)),
                         [], "options missing from %s" % page)
        self.assertEqual(sorted(c for c in commands if "`" + c not in text), [], "commands missing from %s" % page)
        self.assertIn("`MICROCLOUD_REDIS_AUTH`", text)


if __name__ == "__main__":
    unittest.main(verbosity=1)
