#!/bin/sh
# The HE service under load on loopback.
#
# 1. The test network (CryptoNets at the 8x8 test geometry, N = 8192,
#    tests/cli/serve/tiny_server.he): one server, then a front with two
#    workers (tiny_front.he, tiny_worker.he), each with 1, 4 and 16
#    concurrent clients (bench/serve/client.he) for BENCH_SERVE_SECONDS
#    (default 20) after their sessions are open. Prints, per setup and
#    client count (serve_he_cN_* for the server, serve_he_w2_cN_* for the
#    front and its two workers): throughput (requests answered per second,
#    from the first request sent to the last reply), median and 99th
#    percentile latency, bytes per request (request + reply), and the
#    requests answered, refused and lost (sent, neither answered nor
#    refused: must be 0).
# 2. MNIST (skipped, visibly, without the data or the weights of
#    scripts/mnist_train.he in $MNIST_DIR, default build/mnist): the batch
#    demonstration's server throughput (scripts/mnist_ckks.he on 4096
#    images: the network on one full batch, in one process), then
#    scripts/mnist_server.he with two clients (bench/serve/mnist_client.he)
#    each sending full batches (4096 images) BENCH_SERVE_MNIST_REQUESTS
#    times (default 3): the served throughput between the first and the
#    last reply (the server kept busy), and its ratio to the batch figure
#    (the goal: at least 0.8).
HE=${HE:-build/he}
secs=${BENCH_SERVE_SECONDS:-20}
DIR=${MNIST_DIR:-build/mnist}
mreq=${BENCH_SERVE_MNIST_REQUESTS:-3}
tmp=$(mktemp -d)
procs=
trap 'for p in $procs; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
port=$((20000 + ($$ * 17) % 40000))
key() { "$HE" -e "import smpc
print(smpc.keygen(\"$1\"))"; }
pub=$(key "$tmp/srv.key") || exit 1
lost_all=0

# figures PREFIX: the bench lines of the client outputs $tmp/c.*
figures() {
    cat "$tmp"/c.* | awk -v p="$1" '
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
            printf "bench %sthroughput %.3f requests/s\n", p, tp
            printf "bench %slatency_median %.0f ms\n", p, med
            printf "bench %slatency_p99 %.0f ms\n", p, p99
            printf "bench %sbytes_per_request %.0f bytes\n", p, a ? bytes / a : 0
            printf "bench %sanswered %d requests\n", p, a
            printf "bench %srefused %d requests\n", p, refused
            printf "bench %slost %d requests\n", p, lost
        }' | tee "$tmp/figures"
    l=$(sed -n 's/^bench .*lost \([0-9-]*\).*/\1/p' "$tmp/figures")
    [ "$l" = 0 ] || lost_all=1
}

# load NAME ADDRESS: 1, 4 and 16 clients
load() {
    for n in 1 4 16; do
        rm -f "$tmp"/c.*
        i=0
        pids=
        while [ $i -lt "$n" ]; do
            "$HE" bench/serve/client.he "$2" "$pub" "$secs" $((n * 100 + i)) >"$tmp/c.$i" 2>&1 &
            pids="$pids $!"
            i=$((i + 1))
        done
        for p in $pids; do wait "$p"; done
        figures "${1}_c${n}_"
    done
}

# stop PID: SIGTERM, then its exit
stop() {
    kill -TERM "$1"
    wait "$1"
}

# --- one server ---
addr="tcp://127.0.0.1:$port"
"$HE" tests/cli/serve/tiny_server.he "$addr" "$tmp/srv.key" max_sessions 64 >"$tmp/server.out" 2>&1 &
server=$!
procs="$procs $server"
load serve_he "$addr"
stop $server

# --- a front and two workers ---
addr="tcp://127.0.0.1:$((port + 1))"
waddr="tcp://127.0.0.1:$((port + 2))"
key "$tmp/w1.key" >"$tmp/workers"
key "$tmp/w2.key" >>"$tmp/workers"
"$HE" tests/cli/serve/tiny_front.he "$addr" "$waddr" "$tmp/srv.key" "$tmp/workers" >"$tmp/front.out" 2>&1 &
front=$!
procs="$procs $front"
for w in w1 w2; do
    "$HE" tests/cli/serve/tiny_worker.he "$waddr" "$pub" "$tmp/$w.key" max_sessions 64 >"$tmp/$w.out" 2>&1 &
    procs="$procs $!"
done
sleep 2
load serve_he_w2 "$addr"
stop $front # its workers stop with it

# --- MNIST: the batch demonstration, then the service with full batches ---
if ! "$HE" -e 'import data
let x = data.mnist("t10k", 0, 1)' >/dev/null 2>&1; then
    echo "# skip serve.mnist: the MNIST data is not found (make data)"
elif [ ! -f "$DIR/fc2_b.npy" ]; then
    echo "# skip serve.mnist: no weights in $DIR (scripts/mnist_train.he $DIR, or MNIST_DIR=...)"
else
    "$HE" scripts/mnist_ckks.he 4096 "$DIR" >"$tmp/batch" 2>&1 || { echo "# mnist_ckks.he failed"; tail -3 "$tmp/batch"; exit 1; }
    lat=$(sed -n 's/^latency per batch: \([0-9.]*\) s server.*/\1/p' "$tmp/batch")
    addr="tcp://127.0.0.1:$((port + 3))"
    "$HE" scripts/mnist_server.he "$addr" "$tmp/srv.key" "$DIR" >"$tmp/mserver.out" 2>&1 &
    server=$!
    procs="$procs $server"
    rm -f "$tmp"/c.*
    "$HE" bench/serve/mnist_client.he "$addr" "$pub" "$mreq" 0 >"$tmp/c.0" 2>&1 &
    c0=$!
    "$HE" bench/serve/mnist_client.he "$addr" "$pub" "$mreq" 4096 >"$tmp/c.1" 2>&1 &
    c1=$!
    wait $c0
    wait $c1
    figures serve.mnist.
    stop $server
    cat "$tmp"/c.* | awk -v lat="$lat" '
        /^answered / { t[++a] = $6 }
        /^accuracy / { split($2, f, "/"); right += f[1]; all += f[2] }
        END {
            for (i = 2; i <= a; i++) { v = t[i]; j = i - 1; while (j > 0 && t[j] > v) { t[j + 1] = t[j]; j-- } t[j + 1] = v }
            batch = 4096 / lat
            served = (a > 1 && t[a] > t[1]) ? (a - 1) * 4096 / (t[a] - t[1]) : 0
            printf "bench serve.mnist.batch_images_per_s %.1f img/s (scripts/mnist_ckks.he, the server part of one batch)\n", batch
            printf "bench serve.mnist.images_per_s %.1f img/s (served, full batches, between the first and the last of %d replies)\n", served, a
            printf "bench serve.mnist.ratio %.2f (served / batch; the goal: at least 0.80)\n", served / batch
            if (all) printf "bench serve.mnist.accuracy %.2f %% (%d/%d, the last reply of each client)\n", 100 * right / all, right, all
        }'
fi
# the SMPC service (its own script)
HE=$HE sh bench/serve/smpc.sh || lost_all=1
[ $lost_all = 0 ] || { echo "bench serve: requests were lost" >&2; exit 1; }
