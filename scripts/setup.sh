#!/usr/bin/env bash
# Installs, from Debian's archive only, the packages MicroCloud needs to build,
# test and run its demo. Idempotent: it apt-installs only what is missing and
# does nothing (not even apt-get update) when everything is there.
set -euo pipefail

PKGS=(
    # build
    build-essential cmake pkg-config clang
    # man pages and the Debian package (make deb; tests/integration/test_package.py: systemd-analyze)
    go-md2man dpkg-dev man-db systemd
    libpcap-dev libhiredis-dev libndpi-dev libev-dev libcmocka-dev libmicrohttpd-dev
    # the collector's embedded store (and the sqlite3 shell the tests and docs query it with)
    libsqlite3-dev sqlite3
    # the collector's ClickHouse store: libcurl is its HTTP client; the server and client are what
    # tests/integration/test_collector_clickhouse.py starts privately (no system instance: policy-rc.d below)
    libcurl4-openssl-dev clickhouse-server clickhouse-client
    # real peers used by tests, demo and benchmarks
    tshark nfdump softflowd libndpi-bin redis-server redis-tools
    # exporters feeding the collector in its tests (tests/integration/test_collector_peers.py)
    pmacct fprobe
    python3 python3-redis tcpdump
    # the Python package installed offline into a fresh venv (tests/integration/test_python_venv.py)
    python3-venv python3-setuptools python3-wheel
    # --metrics is scraped by curl and parsed by the Prometheus client's own parser
    python3-prometheus-client
    # live application-layer partners (tests/integration/test_l7_live.py)
    dnsmasq-base dnsutils nginx-light curl mariadb-server mariadb-client
    # live VoIP partner (tests/integration/test_voip_live.py)
    sip-tester
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "setup: installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq || true
# The servers among these (redis-server, nginx, mariadb-server, clickhouse-server) would start
# system instances on install, and a port already taken (80, 3306, 6379)
# would fail the install; the tests and the demo start private instances of
# their own, so none is started here (policy-rc.d, only while installing).
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Installing enables their services at boot all the same: the ones this run
# installed are disabled again, so a machine set up for the tests does not
# start system instances (or fprobe/pmacctd listening on the wire) at its
# next boot.  An operator's own, installed before, are left as they were.
if command -v systemctl >/dev/null 2>&1; then
    for p in "${missing[@]}"; do
        case "$p" in
        redis-server) units="redis-server" ;;
        nginx-light) units="nginx" ;;
        mariadb-server) units="mariadb" ;;
        clickhouse-server) units="clickhouse-server" ;;
        softflowd) units="softflowd" ;;
        fprobe) units="fprobe" ;;
        pmacct) units="pmacctd nfacctd sfacctd uacctd pmbgpd pmbmpd pmtelemetryd" ;;
        *) units="" ;;
        esac
        for u in $units; do
            $SUDO systemctl disable --quiet "$u" >/dev/null 2>&1 || true
        done
    done
fi
