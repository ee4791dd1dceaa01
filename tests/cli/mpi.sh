#!/bin/sh
# import mpi (interp/modules/mpi.c) under Open MPI's mpirun with 2 ranks on
# this machine: rank/size/gather/bcast/barrier against one process; an error
# on one rank ending the whole run; and scripts/mnist_ckks.he's batches
# split among the ranks (synthetic weights, 2 images, 1 per batch), the
# predictions gathered by rank 0 identical to one process's. Prints ok /
# not ok / skip lines. Under SANITIZE=1 Open MPI's own leaks are suppressed
# (tests/cli/mpi/lsan.supp says how); he's are still reported.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }
if ! command -v mpirun >/dev/null 2>&1; then
    echo "skip mpi: mpirun not found (tools/deps.sh installs openmpi-bin)"
    exit 0
fi
# root in a container: Open MPI refuses without both; more ranks than cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$PWD/tests/cli/mpi/lsan.supp:print_suppressions=0"
run2() { timeout 300 mpirun -np 2 -x ASAN_OPTIONS -x LSAN_OPTIONS "$@"; }

# --- the module: one process, then 2 ranks ---
"$HE" tests/cli/mpi/ranks.he >"$tmp/one" 2>&1
want="rank 0/1: gather [[0.0, 0.0]] [1, 2], to last [0, 1], bcast from last [1, 2, 3], empty [0, 3]"
[ "$(cat "$tmp/one")" = "$want" ] && ok mpi_single_rank || nok mpi_single_rank "$(head -c 400 "$tmp/one")"

run2 "$HE" tests/cli/mpi/ranks.he >"$tmp/two" 2>"$tmp/two.err"
rc=$?
sort "$tmp/two" >"$tmp/two.s"
cat >"$tmp/want" <<'END'
rank 0/2: gather [[0.0, 0.0], [10.0, -1.0], [11.0, -1.0]] [3, 2], to last [], bcast from last [1, 3, 5], empty [0, 3]
rank 1/2: gather [] [0, 2], to last [0, 1, 100, 101], bcast from last [1, 3, 5], empty [0, 3]
END
if [ "$rc" = 0 ] && cmp -s "$tmp/want" "$tmp/two.s"; then ok mpi_two_ranks; else
    nok mpi_two_ranks "exit $rc: $(head -c 400 "$tmp/two") $(head -c 600 "$tmp/two.err")"
fi

# --- an error on rank 1 while rank 0 waits in gather: the run ends, not hangs ---
run2 "$HE" tests/cli/mpi/fails.he >"$tmp/fail" 2>&1
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "fails.he:3:27: runtime error: rank 1 gives up" "$tmp/fail" &&
    ! grep -q "^gathered" "$tmp/fail"; then ok mpi_error_ends_run; else
    nok mpi_error_ends_run "exit $rc: $(head -c 600 "$tmp/fail")"
fi

# --- MNIST batches split between 2 ranks ---
if ! "$HE" -e 'import data
if not data.has("mnist") { error("no data") }' >/dev/null 2>&1; then
    echo "skip mpi_mnist_ckks: the MNIST data is not found"
    exit 0
fi
# a small synthetic model of the CryptoNets form (1 map, 4 hidden units)
mkdir "$tmp/w"
"$HE" -e "import cryptonets
cryptonets.geometry(28, 5, 1, 4, 10)
cryptonets.init(7)
cryptonets.save(\"$tmp/w\")" || nok mpi_mnist_weights "could not write synthetic weights"
"$HE" scripts/mnist_ckks.he 2 "$tmp/w" 1 "$tmp/p1.npy" >"$tmp/m1" 2>&1
rc1=$?
run2 "$HE" scripts/mnist_ckks.he 2 "$tmp/w" 1 "$tmp/p2.npy" >"$tmp/m2" 2>&1
rc2=$?
if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ -f "$tmp/p1.npy" ] && cmp -s "$tmp/p1.npy" "$tmp/p2.npy"; then
    ok mpi_mnist_same_predictions
else
    nok mpi_mnist_same_predictions "exit $rc1/$rc2: $(tail -c 300 "$tmp/m1") | $(tail -c 600 "$tmp/m2")"
fi
# each rank took one batch; rank 0 alone printed the totals
n0=$(grep -c '^rank 0, batch 1: 1 images' "$tmp/m2")
n1=$(grep -c '^rank 1, batch 2: 1 images' "$tmp/m2")
nt=$(grep -c '^agreement with the plaintext model: 2/2$' "$tmp/m2")
nr=$(grep -c '^ranks: 2, server time per rank \[' "$tmp/m2")
[ "$n0$n1$nt$nr" = 1111 ] && ok mpi_mnist_split || nok mpi_mnist_split "batch lines $n0 $n1, totals $nt, ranks $nr: $(head -c 600 "$tmp/m2")"
grep -q '^agreement with the plaintext model: 2/2$' "$tmp/m1" && ok mpi_mnist_one_process || nok mpi_mnist_one_process "$(tail -c 400 "$tmp/m1")"
