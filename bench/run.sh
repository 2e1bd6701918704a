#!/usr/bin/env bash
# bench/run.sh - mcprobe throughput and memory benchmark (see bench/README.md).
#
# Usage: bench/run.sh [MCPROBE_BINARY]      (default build/release/mcprobe)
#
# Runs the floor (bare libpcap read loop), mcprobe, softflowd and ndpiReader
# on two generated captures (mixed, flood), measures CPU time and peak RSS of
# each, prints one table per capture and PASS/MISS lines for the targets.
# A benchmark, not a test: always exits 0 unless it cannot run at all.
#
# Environment:
#   BENCH_WORK     work dir for captures, binaries, logs (default build/bench)
#   BENCH_REPEAT   runs per tool and capture; the lowest CPU time is kept (default 3)
#   BENCH_TOOLS    tools to run (default "floor mcprobe mcprobe-l7 softflowd ndpiReader");
#                  mcprobe is the flow meter alone (--no-l7), like softflowd; mcprobe-l7 its
#                  default configuration, nDPI and the analyzers on, like ndpiReader
#   BENCH_PORT     UDP port of the local discard sink the exporters send to (default 39555)
#   BENCH_TIMEOUT  seconds before a run is killed (default 600)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
PY=/usr/bin/python3
WORK=${BENCH_WORK:-build/bench}
REPEAT=${BENCH_REPEAT:-3}
TOOLS=${BENCH_TOOLS:-floor mcprobe mcprobe-l7 softflowd ndpiReader}
PORT=${BENCH_PORT:-39555}
TIMEOUT=${BENCH_TIMEOUT:-600}
MCPROBE=${1:-build/release/mcprobe}
mkdir -p "$WORK/logs" || exit 2
WORK=$(cd "$WORK" && pwd)

say() { printf '%s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---- mcprobe: build the default binary if missing; a missing binary is reported, not fatal
MC_OK=1
if [ ! -x "$MCPROBE" ] && [ $# -eq 0 ]; then
    say "bench: $MCPROBE missing, building it (log: $WORK/logs/build.log)"
    if ! { cmake --preset release && cmake --build --preset release -j2 --target mcprobe; } \
        >"$WORK/logs/build.log" 2>&1; then
        say "bench: target build failed, trying the full release build"
        cmake --build --preset release -j2 >>"$WORK/logs/build.log" 2>&1
    fi
fi
if [ ! -x "$MCPROBE" ] || ! "$MCPROBE" --version >/dev/null 2>&1; then
    say "bench: WARNING: mcprobe not available at $MCPROBE (build failed or binary broken);"
    say "bench:          its rows and the targets will read 'not available'."
    MC_OK=0
fi
MCPROBE_ABS=$(cd "$(dirname "$MCPROBE")" 2>/dev/null && pwd)/$(basename "$MCPROBE")

# ---- floor
if ! cc -O2 bench/floor.c -lpcap -o "$WORK/floor" 2>"$WORK/logs/floor-build.log"; then
    say "bench: cannot build bench/floor.c (libpcap-dev missing?), see $WORK/logs/floor-build.log"
    exit 2
fi

# ---- captures (cached; delete them to regenerate)
for cap in mixed flood; do
    if [ ! -s "$WORK/$cap.pcap" ] || [ ! -s "$WORK/$cap.pcap.meta" ]; then
        say "bench: generating $WORK/$cap.pcap"
        "$PY" scripts/gen-bench-pcap.py "--$cap" "$WORK/$cap.pcap" || exit 2
    fi
done

# softflowd 1.1.0 truncates long -r paths: give it short symlinks
ln -sf "$WORK/mixed.pcap" /tmp/mcbm.pcap
ln -sf "$WORK/flood.pcap" /tmp/mcbf.pcap
declare -A SHORT=([mixed]=/tmp/mcbm.pcap [flood]=/tmp/mcbf.pcap)

# ---- UDP discard sink standing in for a collector
SINK_PID=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; fi
    rm -f /tmp/mcbm.pcap /tmp/mcbf.pcap
}
trap cleanup EXIT
"$PY" bench/udp_sink.py "$PORT" "$WORK/logs/sink.stats" &
SINK_PID=$!
sleep 0.5
if ! kill -0 "$SINK_PID" 2>/dev/null; then
    say "bench: UDP sink could not bind 127.0.0.1:$PORT (set BENCH_PORT)"
    SINK_PID=""
    exit 2
fi

# ---- measurement: bench/measure.c (a small C parent, so the wait4 peak RSS
# is not raised by the parent's own memory; microsecond CPU times), else
# bench/measure.py (same numbers, but peak RSS never reads below the python
# interpreter's ~10 MiB). Prints "user sys maxrss_kib wall status".
MEASURE=""
if cc -O2 bench/measure.c -o "$WORK/measure" 2>"$WORK/logs/measure-build.log"; then
    MEASURE="$WORK/measure"
fi
measure() {
    local log=$1
    shift
    if [ -n "$MEASURE" ]; then
        "$MEASURE" "$TIMEOUT" "$log" -- "$@"
    else
        "$PY" bench/measure.py --timeout "$TIMEOUT" --log "$log" -- "$@"
    fi
}

# Packets the tool says it saw, from its log/counters ("-" when it does not say).
seen_packets() {
    local tool=$1 log=$2 counters=$3
    case "$tool" in
    floor) sed -n 's/^floor: \([0-9]*\) packets.*/\1/p' "$log" | tail -n 1 ;;
    softflowd) sed -n 's/^Packets processed: \([0-9]*\).*/\1/p' "$log" | tail -n 1 ;;
    mcprobe*) if [ -s "$counters" ]; then awk '$1=="flow.packets"{print $2}' "$counters"; fi ;;
    esac
}

run_tool() {
    local tool=$1 cap=$2 i=$3
    local file="$WORK/$cap.pcap" log="$WORK/logs/$tool-$cap-$i.log" counters="$WORK/logs/mcprobe-$cap.counters"
    local extra=()
    case "$tool" in
    floor) measure "$log" "$WORK/floor" "$file" ;;
    mcprobe | mcprobe-l7)
        [ "$cap" = flood ] && extra=(-m 1100000)
        [ "$tool" = mcprobe ] && extra+=(--no-l7)
        rm -f "$counters"
        measure "$log" "$MCPROBE_ABS" -i "$file" -n "127.0.0.1:$PORT" -V 10 -q --stats-interval 0 \
            "${extra[@]}" --counters "$counters"
        ;;
    softflowd)
        measure "$log" softflowd -r "${SHORT[$cap]}" -n "127.0.0.1:$PORT" -v 10 -m 1100000 -c none \
            -p "$WORK/softflowd.pid" -d
        ;;
    ndpiReader) measure "$log" ndpiReader -i "${SHORT[$cap]}" -q ;;
    esac
}

CPUINFO=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
say "bench: $(date -u +%FT%TZ)  $(nproc) CPUs  ${CPUINFO:-unknown CPU}  repeat=$REPEAT"
say "bench: mcprobe=$MCPROBE_ABS ($([ $MC_OK = 1 ] && "$MCPROBE_ABS" --version 2>&1 | head -n 1 || echo 'not available'))"
say "bench: softflowd $(softflowd -h 2>&1 | sed -n 's/.*softflowd version \([^.]*\.[^.]*\.[0-9]*\).*/\1/p' | head -n 1)," \
    "ndpiReader $(ndpiReader -h 2>&1 | sed -n 's/.*nDPI \([0-9.]*\).*/\1/p' | head -n 1)"

# ndpiReader runs last, after both captures: it grows to 3.5 GB, and the
# process that runs right after such a release pays for its first touches of
# memory again (page zeroing that varied from 0.07 s to 0.30 s per run here),
# which would bias whichever tool followed it.
for phase in probes ndpi; do
for cap in mixed flood; do
    res="$WORK/results-$cap.tsv"
    [ "$phase" = probes ] && : >"$res"
    for tool in $TOOLS; do
        case "$phase:$tool" in
            probes:ndpiReader | ndpi:floor | ndpi:mcprobe* | ndpi:softflowd) continue ;;
        esac
        if [ "${tool%-l7}" = mcprobe ] && [ $MC_OK = 0 ]; then
            printf '%s\tNA\n' "$tool" >>"$res"
            continue
        fi
        if [ "$tool" != floor ] && [ "${tool%-l7}" != mcprobe ] && ! have "$tool"; then
            printf '%s\tNA\n' "$tool" >>"$res"
            continue
        fi
        best=""
        maxrss=0
        for i in $(seq 1 "$REPEAT"); do
            printf 'bench: %-6s %-10s run %d/%d ... ' "$cap" "$tool" "$i" "$REPEAT"
            m=$(run_tool "$tool" "$cap" "$i")
            seen=$(seen_packets "$tool" "$WORK/logs/$tool-$cap-$i.log" "$WORK/logs/mcprobe-$cap.counters")
            say "$m"
            # shellcheck disable=SC2086 # split "user sys rss wall status"
            set -- $m
            [ "$3" -gt "$maxrss" ] && maxrss=$3
            if [ -z "$best" ] || awk -v a="$1 $2" -v b="$best" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]+x[2]<y[1]+y[2])}'; then
                best="$1 $2 $3 $4 $5 ${seen:--}"
            fi
        done
        # shellcheck disable=SC2086
        set -- $best
        # lowest-CPU run; peak RSS is the largest seen over all runs
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$1" "$2" "$maxrss" "$4" "$5" "$6" >>"$res"
    done
done
done

"$PY" - "$WORK" <<'EOF'
import json, os, sys
work = sys.argv[1]
targets = {"mixed": [("mcprobe >= 6x softflowd pps", "sf", 6.0), ("mcprobe >= 0.5x floor pps", "floor", 0.5)],
           "flood": [("mcprobe >= 5x softflowd pps", "sf", 5.0), ("mcprobe <= 160 bytes peak RSS per flow held", "bpf", 160)]}
for cap in ("mixed", "flood"):
    meta = json.load(open(os.path.join(work, cap + ".pcap.meta")))
    pkts, held = meta["packets"], meta["peak_concurrent_flows"]
    rows = {}
    for line in open(os.path.join(work, "results-%s.tsv" % cap)):
        f = line.rstrip("\n").split("\t")
        if len(f) < 7:
            rows[f[0]] = None
            continue
        tool, u, s, rss, wall, status, seen = f
        cpu = float(u) + float(s)
        rows[tool] = dict(cpu=cpu, pps=pkts / cpu if cpu > 0 else float("inf"), rss=int(rss) * 1024,
                          wall=float(wall), status=status, seen=seen)
    print()
    print("== %s: %d packets, %d flows, %d flows held at peak (%s) ==" % (
        cap, pkts, meta["flows"], held, "all flows" if cap == "flood" else "peak concurrent, from the generator"))
    hdr = ("tool", "CPU s", "pkts/CPU-s", "peak RSS MiB", "B RSS/flow", "vs softflowd", "vs floor", "wall s",
           "exit", "pkts seen")
    fmt = "%-11s %8s %12s %13s %11s %13s %9s %7s %8s %10s"
    print(fmt % hdr)
    sf, fl = rows.get("softflowd"), rows.get("floor")
    for tool, r in rows.items():
        if r is None:
            print(fmt % (tool, "-", "-", "-", "-", "-", "-", "-", "n/a", "-"))
            continue
        ratio = lambda x: ("%.2fx" if x >= 0.1 else "%.3fx") % x
        vs_sf = ratio(r["pps"] / sf["pps"]) if sf else "-"
        vs_fl = ratio(r["pps"] / fl["pps"]) if fl else "-"
        bpf = "-" if tool == "floor" else "%.0f" % (r["rss"] / held)
        print(fmt % (tool, "%.3f" % r["cpu"], "{:,.0f}".format(r["pps"]), "%.1f" % (r["rss"] / 2**20), bpf,
                     vs_sf, vs_fl, "%.2f" % r["wall"], r["status"], r["seen"]))
        r["vs_sf"] = r["pps"] / sf["pps"] if sf else None
        r["vs_floor"] = r["pps"] / fl["pps"] if fl else None
        r["bpf"] = r["rss"] / held
    mc = rows.get("mcprobe")
    for name, kind, lim in targets[cap]:
        if not mc or mc["status"] != "0":
            why = "mcprobe not available" if not mc else "mcprobe exit status %s" % mc["status"]
            print("MISS  %-6s %-46s (%s)" % (cap, name, why))
            continue
        if kind == "bpf":
            v, ok, shown = mc["bpf"], mc["bpf"] <= lim, "%.0f B/flow" % mc["bpf"]
        else:
            v = mc["vs_sf"] if kind == "sf" else mc["vs_floor"]
            if v is None:
                print("MISS  %-6s %-46s (no %s row)" % (cap, name, kind))
                continue
            ok, shown = v >= lim, "%.2fx" % v
        print("%s  %-6s %-46s (measured %s)" % ("PASS" if ok else "MISS", cap, name, shown))
EOF
kill "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null
SINK_PID=""
say ""
say "bench: the collector sink received $(cut -d' ' -f1 "$WORK/logs/sink.stats" 2>/dev/null || echo '?') datagrams; logs in $WORK/logs"
exit 0
