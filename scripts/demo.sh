#!/usr/bin/env bash
# The main job, end to end on this machine: generate a small mixed capture,
# start a real IPFIX collector (nfcapd) on loopback, run mcprobe on the
# capture exporting IPFIX to it, and show the flows the collector stored
# (nfdump).  Everything it starts is stopped on exit.
set -euo pipefail
MCPROBE=${1:-build/release/mcprobe}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mcdemo.XXXXXX)
port=${MC_DEMO_PORT:-$((20000 + RANDOM % 20000))}
nfpid=""
cleanup() {
    [ -n "$nfpid" ] && kill "$nfpid" 2>/dev/null && wait "$nfpid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. generating a mixed capture (TCP, UDP, DNS, ICMP, IPv6, VLAN, QinQ, MPLS, PPPoE, GRE, VXLAN, GTP-U, fragments)"
/usr/bin/python3 "$here/scripts/gen-demo-pcap.py" "$work/demo.pcap"

echo "== 2. starting nfcapd (IPFIX collector) on 127.0.0.1:$port"
mkdir -p "$work/nfcapd"
nfcapd -w "$work/nfcapd" -b 127.0.0.1 -p "$port" -B 4194304 >"$work/nfcapd.log" 2>&1 &
nfpid=$!
sleep 1

echo "== 3. mcprobe -i demo.pcap -n 127.0.0.1:$port -V 10 --json flows.json"
"$MCPROBE" -i "$work/demo.pcap" -n "127.0.0.1:$port" -V 10 --uniflow --export-pps 2000 \
    --json "$work/flows.json" --stats-interval 0
sleep 1
kill "$nfpid"
wait "$nfpid" 2>/dev/null || true
nfpid=""

echo "== 4. what the collector stored (nfdump)"
nfdump -R "$work/nfcapd" -o long -c 40
echo
nfdump -R "$work/nfcapd" -s proto/packets -n 10 | head -20
echo "== 5. the same flows as JSON (first 3 of $(wc -l <"$work/flows.json"))"
head -3 "$work/flows.json"
