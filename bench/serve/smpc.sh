#!/bin/sh
# The SMPC service under load on loopback (called by bench/serve/run.sh):
# the Keras CNN (stdlib/keras_cnn.he, seeded random weights: the figures do
# not depend on them) dealt by its owner to a cluster, under the dealer
# protocol (2 parties and the dealer) and rep3 (3 parties), and 1, 4 and 16
# concurrent clients (bench/serve/smpc_client.he), each for
# BENCH_SERVE_SECONDS (default 20). Prints, per protocol and client count,
# `bench serve_smpc_PROTO_cN_NAME VALUE UNIT`: throughput (requests
# answered per second, from the first request sent to the last answer),
# median and 99th-percentile latency, bytes per request (sent to and
# received from every party), and the requests answered, refused and lost
# (sent, neither answered nor refused: must be 0; exit status 1 otherwise).
HE=${HE:-build/he}
secs=${BENCH_SERVE_SECONDS:-20}
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
mkdir "$tmp/w"
"$HE" -e "import keras_cnn
keras_cnn.init(5)
keras_cnn.save(\"$tmp/w\")" || exit 1
lost_all=0
for proto in dealer rep3; do
    d=$tmp/$proto n=2 opt=
    [ $proto = rep3 ] && n=3 opt=rep3
    mkdir -p "$d"
    "$HE" -e "import smpc
import smpc_serve
smpc.local_parties(\"$d\", $n)
smpc_serve.local_cluster(\"$d\")" >/dev/null || exit 1
    "$HE" scripts/mnist_smpc_owner.he "$d/shares" "$tmp/w" $opt >/dev/null || exit 1
    pids= dealer=
    if [ $proto = dealer ]; then
        "$HE" --party dealer --parties "$d/parties" scripts/mnist_smpc_server.he "$d/shares" "$d/cluster" >"$d/dealer.out" 2>&1 &
        dealer=$!
    fi
    i=0
    while [ $i -lt $n ]; do
        "$HE" --party $i --parties "$d/parties" scripts/mnist_smpc_server.he "$d/shares" "$d/cluster" $opt max_queue=64 \
            >"$d/party-$i.out" 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    for c in 1 4 16; do
        i=0
        cp=
        while [ $i -lt $c ]; do
            "$HE" bench/serve/smpc_client.he "$d/cluster" "$secs" $((c * 100 + i)) >"$d/c$c.$i" 2>&1 &
            cp="$cp $!"
            i=$((i + 1))
        done
        for p in $cp; do wait "$p"; done
        cat "$d"/c$c.* | awk -v name="serve_smpc_${proto}_c$c" '
            /^sending$/ { sent++ }
            /^answered / { lat[++a] = $2; bytes += $3 + $4
                           if (first == "" || $5 < first) first = $5
                           if ($6 > last) last = $6 }
            /smpc serve: party [0-9]*: / { refused++ }
            END {
                for (i = 2; i <= a; i++) { v = lat[i]; j = i - 1; while (j > 0 && lat[j] > v) { lat[j + 1] = lat[j]; j-- } lat[j + 1] = v }
                med = a ? lat[int((a + 1) / 2)] : 0
                p99 = a ? lat[int(a * 0.99 + 0.999)] : 0
                tp = (a && last > first) ? a / (last - first) : 0
                printf "bench %s_throughput %.3f requests/s\n", name, tp
                printf "bench %s_latency_median %.1f ms\n", name, med
                printf "bench %s_latency_p99 %.1f ms\n", name, p99
                printf "bench %s_bytes_per_request %.0f bytes\n", name, a ? bytes / a : 0
                printf "bench %s_answered %d requests\n", name, a
                printf "bench %s_refused %d requests\n", name, refused
                printf "bench %s_lost %d requests\n", name, sent - a - refused
            }' | tee "$d/figures"
        l=$(sed -n 's/^bench .*_lost \([0-9-]*\).*/\1/p' "$d/figures")
        [ "$l" = 0 ] || lost_all=1
    done
    set -- $pids
    kill -TERM "$1" # one party: the whole cluster stops
    for p in $pids $dealer; do wait "$p" || { echo "bench serve smpc: a $proto party failed: $(cat "$d"/*.out | head -c 400)" >&2; lost_all=1; }; done
    pids=
done
[ $lost_all = 0 ] || { echo "bench serve smpc: requests were lost" >&2; exit 1; }
