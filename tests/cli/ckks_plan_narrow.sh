#!/bin/sh
# The planner keeps only the slots in use when the function is slot-wise (no
# rotation, no sum across slots): a batch of 3000 ciphertexts of 2 values
# plans in a few MB instead of 3000 x 3 x N/2 doubles (150 MB and more).
# Run under a 120 MB address-space limit (skipped in sanitizer builds,
# which reserve far more address space). Prints ok / not ok / skip lines.
HE=${HE:-build/he}
BUILD=${BUILD:-build}
case "$BUILD$HE" in *asan*)
    echo "skip ckks_plan_narrow_memory: an address-space limit under the sanitizers"
    echo "skip ckks_plan_narrow_same_plan: an address-space limit under the sanitizers"
    exit 0 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/narrow.he" <<'HE'
import ckks
let X = uniform(rng(5), [3000, 2], -1.0, 1.0)
let w = uniform(rng(6), [3000], -0.01, 0.01)
fn layer(b) {
  let h = ckks.dot(b, w)
  return h * h + h
}
let p = ckks.plan(layer, ckks.input(X))
print(ckks.depth(p), ckks.counts(p))
HE
out=$( (ulimit -v 120000; "$HE" "$tmp/narrow.he") 2>&1)
want="2 products 1, relinearizations 1, plain products 3000, rotations 0, key switches 1, rescales 3"
[ "$out" = "$want" ] && echo "ok ckks_plan_narrow_memory" ||
    echo "not ok ckks_plan_narrow_memory: got '$out'"
# a function that rotates plans with all slots; the same words as before
cat >"$tmp/wide.he" <<'HE'
import ckks
fn f(x) { return x * x + ckks.rotate(x, 1) }
let p = ckks.plan(f, ckks.input(4))
print(ckks.depth(p), ckks.counts(p))
HE
out=$("$HE" "$tmp/wide.he" 2>&1)
want="1 products 1, relinearizations 1, plain products 0, rotations 1, key switches 2, rescales 2"
[ "$out" = "$want" ] && echo "ok ckks_plan_narrow_same_plan" ||
    echo "not ok ckks_plan_narrow_same_plan: got '$out'"
