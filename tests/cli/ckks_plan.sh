#!/bin/sh
# ckks.plan's byte sizes against the files the keys and ciphertexts really
# make, and `he --plan`: the plans printed, nothing encrypted. Prints ok /
# not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/sizes.he" <<HE
import ckks
fn f(x) { return ckks.rotate(x * x, 2) + ckks.rotate(x, -1) * 0.5 }
let p = ckks.plan(f, ckks.input(8))
print(p)
let k = ckks.keygen(p)
ckks.save_keys(ckks.public_keys(k), "$tmp/server.keys")
ckks.save(f(ckks.encrypt(k, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])), "$tmp/result.ct")
ckks.save(ckks.encrypt(k, [1.0, 2.0]), "$tmp/fresh.ct")
print("saved")
HE
out=$("$HE" "$tmp/sizes.he" 2>&1)
line=$(printf '%s\n' "$out" | grep 'bytes:')
server=$(printf '%s\n' "$line" | sed 's/.*server key file \([0-9]*\).*/\1/')
ct=$(printf '%s\n' "$line" | sed 's/.*ciphertext file \([0-9]*\).*/\1/')
size() { stat -c %s "$1" 2>/dev/null; }
[ -n "$server" ] && [ "$(size "$tmp/server.keys")" = "$server" ] && echo "ok ckks_plan_server_key_bytes" ||
    echo "not ok ckks_plan_server_key_bytes: planned '$server', file $(size "$tmp/server.keys")"
[ -n "$ct" ] && [ "$(size "$tmp/fresh.ct")" = "$ct" ] && echo "ok ckks_plan_ciphertext_bytes" ||
    echo "not ok ckks_plan_ciphertext_bytes: planned '$ct', file $(size "$tmp/fresh.ct")"
# the server file holds the public key, the relinearization key and one
# Galois key per planned step (2 here), each of the planned size
pub=$(printf '%s\n' "$line" | sed 's/.*public key \([0-9]*\),.*/\1/')
rel=$(printf '%s\n' "$line" | sed 's/.*relinearization key \([0-9]*\),.*/\1/')
gal=$(printf '%s\n' "$line" | sed 's/.*each Galois key \([0-9]*\);.*/\1/')
[ $((88 + 4 + pub + rel + 4 + 2 * gal)) = "$server" ] && echo "ok ckks_plan_key_parts" ||
    echo "not ok ckks_plan_key_parts: $pub $rel $gal $server"
# he --plan prints the plan and stops before ckks.keygen: no file is written
rm -f "$tmp/server.keys" "$tmp/result.ct" "$tmp/fresh.ct"
out=$("$HE" --plan "$tmp/sizes.he" 2>"$tmp/err")
rc=$?
n=$(printf '%s\n' "$out" | grep -c '^<ckks plan of <fn f>')
[ $rc = 0 ] && [ "$n" = 2 ] && ! printf '%s\n' "$out" | grep -q saved && [ ! -e "$tmp/server.keys" ] &&
    grep -q 'he --plan: stopped at ckks.keygen (line 5): nothing was encrypted' "$tmp/err" &&
    echo "ok ckks_plan_mode" || echo "not ok ckks_plan_mode: rc $rc, $n plans, $(cat "$tmp/err")"
