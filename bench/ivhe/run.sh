#!/bin/bash
# The .he side of the ivhe group: scripts/xor.he, scripts/imdb.he,
# scripts/imdb_plain.he and scripts/federated.he timed through build/he.
# Each figure is one line `bench NAME VALUE UNIT`; the C programs of this
# folder print the runtime's own figures before.
HE=${HE:-build/he}
[ -x "$HE" ] || { echo "bench ivhe: $HE not built" >&2; exit 1; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# XOR, encrypted weights: 10 seeds, wall time per run (key generation and
# start-up included), epochs per second over all runs, runs that reach 4/4.
conv=0; epochs=0; total=0; best=
for s in 1 2 3 4 5 6 7 8 9 10; do
    t0=$(now)
    "$HE" scripts/xor.he "$s" >"$tmp/xor" 2>/dev/null || { echo "# xor.he seed $s failed"; tail -3 "$tmp/xor"; }
    t1=$(now)
    dt=$(calc "$t1 - $t0")
    total=$(calc "$total + $dt")
    if [ -z "$best" ] || [ "$(calc "$dt < $best")" = 1.000000 ]; then best=$dt; fi
    grep -q '^accuracy: 4/4' "$tmp/xor" && conv=$((conv + 1))
    e=$(sed -n 's/^trained \([0-9]*\) epochs in \([0-9.]*\) s.*/\1 \2/p' "$tmp/xor")
    [ -n "$e" ] && { epochs=$((epochs + ${e% *})); echo "${e#* }" >>"$tmp/xor_s"; }
done
train=$(awk '{ s += $1 } END { if (NR) printf "%.6f", s }' "$tmp/xor_s" 2>/dev/null)
echo "# reference: the tutorial's Python, 0.15 s per iteration (6.7 it/s), 34 s for a converging run"
printf 'bench xor.he.seconds %.3f s\n' "$best"
printf 'bench xor.he.mean_seconds %.3f s\n' "$(calc "$total / 10")"
[ -n "$train" ] && printf 'bench xor.he.iter_per_s %.0f it/s\n' "$(calc "$epochs / $train")"
[ -n "$train" ] && printf 'bench xor.he.iter_per_s.ratio %.0f x (ours / reference, higher is faster)\n' "$(calc "$epochs / $train / 6.7")"
echo "bench xor.he.converged_runs $conv/10 runs"

# IMDB: needs the data (see README, Datasets)
if "$HE" -e 'import data
if not data.has("imdb") { error("no imdb") }' >/dev/null 2>&1; then
    "$HE" scripts/imdb.he >"$tmp/imdb" 2>/dev/null || { echo "# imdb.he failed"; tail -3 "$tmp/imdb"; exit 1; }
    rps=$(sed -n 's/^training: .* s, \([0-9]*\) reviews\/s/\1/p' "$tmp/imdb")
    acc=$(sed -n 's/^accuracy: .*(\(.*\)%)/\1/p' "$tmp/imdb")
    echo "# reference: the tutorial's Python, 5.8 reviews/s"
    echo "bench imdb.he.reviews_per_s $rps reviews/s"
    printf 'bench imdb.he.reviews_per_s.ratio %.0f x (ours / reference, higher is faster; target >= 100)\n' "$(calc "$rps / 5.8")"
    echo "bench imdb.he.test_accuracy $acc %"
    "$HE" scripts/imdb_plain.he >"$tmp/imdbp" 2>/dev/null || { echo "# imdb_plain.he failed"; exit 1; }
    echo "bench imdb_plain.he.test_accuracy $(sed -n 's/^accuracy: .*(\(.*\)%)/\1/p' "$tmp/imdbp") %"
else
    echo "# skip imdb.he: the IMDB data is not found (make data)"
fi

# Federated learning over Paillier (2048-bit keys)
t0=$(now)
"$HE" scripts/federated.he >"$tmp/fed" 2>/dev/null || { echo "# federated.he failed"; exit 1; }
t1=$(now)
printf 'bench federated.he.seconds %.2f s\n' "$(calc "$t1 - $t0")"
echo "bench federated.he.max_weight_diff $(sed -n 's/^largest difference between the two models: //p' "$tmp/fed") (encrypted vs plain gradients)"
