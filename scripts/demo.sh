#!/usr/bin/env bash
# The main job, end to end on this machine: generate a small mixed capture,
# start two IPFIX collectors on loopback (a real nfcapd, and mccollector with
# its embedded SQLite store) and a private Redis node (the MicroCloud, on a
# unix socket), run mcprobe on the capture exporting IPFIX to both and
# writing to the cloud, then show the flows the collectors stored (nfdump,
# mcquery flows) and what the cloud knows (mcquery).  Everything it starts
# is stopped on exit.
set -euo pipefail
MCPROBE=${1:-build/release/mcprobe}
MCCOLLECTOR=${MCCOLLECTOR:-$(dirname "$MCPROBE")/mccollector}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mcdemo.XXXXXX)
port=${MC_DEMO_PORT:-$((20000 + RANDOM % 20000))}
cport=$((port + 1))
nfpid=""
mcpid=""
rdpid=""
cleanup() {
    [ -n "$nfpid" ] && kill "$nfpid" 2>/dev/null && wait "$nfpid" 2>/dev/null || true
    [ -n "$mcpid" ] && kill "$mcpid" 2>/dev/null && wait "$mcpid" 2>/dev/null || true
    [ -n "$rdpid" ] && kill "$rdpid" 2>/dev/null && wait "$rdpid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. generating a mixed capture (TCP, UDP, DNS, ICMP, IPv6, VLAN, QinQ, MPLS, PPPoE, GRE, VXLAN, GTP-U, fragments)"
/usr/bin/python3 "$here/scripts/gen-demo-pcap.py" "$work/demo.pcap"

echo "== 2. starting two IPFIX collectors: nfcapd on 127.0.0.1:$port, mccollector (store flows.db) on 127.0.0.1:$cport"
mkdir -p "$work/nfcapd"
nfcapd -w "$work/nfcapd" -b 127.0.0.1 -p "$port" -B 4194304 >"$work/nfcapd.log" 2>&1 &
nfpid=$!
"$MCCOLLECTOR" -b 127.0.0.1 -p "$cport" --store "$work/flows.db" --stats-interval 0 -q >"$work/mccollector.log" 2>&1 &
mcpid=$!
sleep 1

echo "== 3. starting a private redis-server for the MicroCloud (unix:$work/redis.sock)"
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
rdpid=$!
for _ in $(seq 50); do [ -S "$work/redis.sock" ] && break; sleep 0.1; done
# a user the cloud knows: the probe's records for her address carry her name
redis-cli -s "$work/redis.sock" SET user.ip.192.168.1.13 alice >/dev/null

echo "== 4. mcprobe -i demo.pcap -n 127.0.0.1:$port -n 127.0.0.1:$cport -V 10 --redis unix:$work/redis.sock"
echo "      --json flows.json --l7-log l7.json"
"$MCPROBE" -i "$work/demo.pcap" -n "127.0.0.1:$port" -n "127.0.0.1:$cport" -V 10 --export-pps 2000 \
    --redis "unix:$work/redis.sock" --probe-id demo --json "$work/flows.json" --l7-log "$work/l7.json" \
    --stats-interval 0
sleep 1
kill "$nfpid"
wait "$nfpid" 2>/dev/null || true
nfpid=""

echo "== 5. what the collector stored (nfdump)"
nfdump -R "$work/nfcapd" -o long -c 40
echo
nfdump -R "$work/nfcapd" -s proto/packets -n 10 >"$work/top.txt"
head -20 "$work/top.txt"
echo "== 6. the same flows as JSON (first 2 of $(wc -l <"$work/flows.json")), and two of alice's (user from the cloud)"
head -2 "$work/flows.json"
grep '"userName":"alice"' "$work/flows.json" >"$work/alice.json" || true
head -2 "$work/alice.json"
echo
echo "== 7. what the MicroCloud knows: mcquery hosts (top 15), probes, and the events stream"
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" hosts --top 15
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" probes
echo "events: $(redis-cli -s "$work/redis.sock" XLEN events) in the stream, e.g.:"
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" replay --count 3
echo
echo "== 8. the application layer: transactions ($(wc -l <"$work/l7.json") in l7.json, e.g. a DNS and an HTTP one),"
echo "      then what the cloud aggregated in real time: the DNS top names and the HTTP hosts"
grep -m1 '"protocol":"dns"' "$work/l7.json" || true
grep -m1 '"protocol":"http"' "$work/l7.json" || true
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" dns top --minute latest --count 10
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" http hosts >"$work/http.txt"
head -11 "$work/http.txt"
echo
echo "== 9. VoIP: 12 generated SIP calls with their RTP (scripts/gen-voip-pcap.py), read by a second probe"
echo "      writing to the same cloud: the calls as the call layer followed them, and the active users"
/usr/bin/python3 "$here/scripts/gen-voip-pcap.py" "$work/voip.pcap" --loss 0.01 --jitter 2
"$MCPROBE" -i "$work/voip.pcap" --redis "unix:$work/redis.sock" --probe-id demo-voip --l7-log "$work/sip.json" \
    --json "$work/voip-flows.json" \
    --stats-interval 0 -q
grep -m1 '"protocol":"sip"' "$work/sip.json" || true
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" voip calls --all --top 6
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" voip users --all --top 6
echo
echo "== 10. Mobile: 300 generated subscribers (scripts/gen-gtp-pcap.py: GTPv1 and GTPv2 sessions, handovers,"
echo "       deletes, GTP-U traffic), read by a third probe: a GTP-C transaction, the subscribers still attached"
echo "       with their traffic, and one subscriber's record"
/usr/bin/python3 "$here/scripts/gen-gtp-pcap.py" "$work/mobile.pcap" --subscribers 300 --seconds 30
"$MCPROBE" -i "$work/mobile.pcap" --redis "unix:$work/redis.sock" --probe-id demo-mobile --l7-log "$work/gtp.json" \
    --json "$work/mobile-flows.json" \
    --stats-interval 0 -q
grep -m1 '"protocol":"gtp"' "$work/gtp.json" || true
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" subscribers --top 6
/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" subscriber \
    "$(/usr/bin/python3 "$here/python/mcquery" --redis "unix:$work/redis.sock" --json subscribers --top 1 |
       /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["imsi"])')"
echo
echo "== 11. the collector: mccollector kept every flow the probe exported in its SQLite store (flows.db);"
echo "       mcquery flows answers from it: the top talkers and ports"
kill "$mcpid"
wait "$mcpid" 2>/dev/null || true  # it writes what it holds, then exits
mcpid=""
/usr/bin/python3 "$here/python/mcquery" flows --store "$work/flows.db" --top talkers -n 8
/usr/bin/python3 "$here/python/mcquery" flows --store "$work/flows.db" --top ports -n 5
