#!/bin/sh
# The HE service under load on loopback: one server (the CryptoNets network
# at the 8x8 test geometry, N = 8192, tests/cli/serve/tiny_server.he) and 1,
# 4 and 16 concurrent clients (bench/serve/client.he), each for
# BENCH_SERVE_SECONDS (default 20) after its session is open. Prints, per
# client count: throughput (requests answered per second, from the first
# request sent to the last reply), median and 99th
# percentile latency, bytes per request (request + reply), and the requests
# answered, refused and lost (sent, neither answered nor refused: must be 0).
HE=${HE:-build/he}
secs=${BENCH_SERVE_SECONDS:-20}
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + ($$ * 17) % 40000))
addr="tcp://127.0.0.1:$port"
pub=$("$HE" -e "import smpc
print(smpc.keygen(\"$tmp/srv.key\"))") || exit 1
"$HE" tests/cli/serve/tiny_server.he "$addr" "$tmp/srv.key" max_sessions 64 >"$tmp/server.out" 2>&1 &
server=$!
lost_all=0
for n in 1 4 16; do
    i=0
    pids=
    while [ $i -lt "$n" ]; do
        "$HE" bench/serve/client.he "$addr" "$pub" "$secs" $((n * 100 + i)) >"$tmp/c$n.$i" 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    for p in $pids; do wait "$p"; done
    cat "$tmp"/c$n.* | awk -v n="$n" -v secs="$secs" '
        /^sending$/ { sent++ }
        /^answered / { lat[++a] = $2; bytes += $3 + $4
                       if (first == "" || $5 < first) first = $5
                       if ($6 > last) last = $6 }
        /the server refused/ { refused++ }
        END {
            # latencies sorted (insertion: a few hundred at most)
            for (i = 2; i <= a; i++) { v = lat[i]; j = i - 1; while (j > 0 && lat[j] > v) { lat[j + 1] = lat[j]; j-- } lat[j + 1] = v }
            med = a ? lat[int((a + 1) / 2)] : 0
            p99 = a ? lat[int(a * 0.99 + 0.999)] : 0
            lost = sent - a - refused
            tp = (a && last > first) ? a / (last - first) : 0
            printf "bench serve_he_c%d_throughput %.3f requests/s\n", n, tp
            printf "bench serve_he_c%d_latency_median %.0f ms\n", n, med
            printf "bench serve_he_c%d_latency_p99 %.0f ms\n", n, p99
            printf "bench serve_he_c%d_bytes_per_request %.0f bytes\n", n, a ? bytes / a : 0
            printf "bench serve_he_c%d_answered %d requests\n", n, a
            printf "bench serve_he_c%d_refused %d requests\n", n, refused
            printf "bench serve_he_c%d_lost %d requests\n", n, lost
        }' | tee "$tmp/figures"
    l=$(sed -n 's/^bench serve_he_c[0-9]*_lost \([0-9-]*\).*/\1/p' "$tmp/figures")
    [ "$l" = 0 ] || lost_all=1
done
kill -TERM "$server"
wait "$server"
server=
# the SMPC service (its own script)
HE=$HE sh bench/serve/smpc.sh || lost_all=1
[ $lost_all = 0 ] || { echo "bench serve: requests were lost" >&2; exit 1; }
