#!/bin/sh
# CKKS files from the language: a key file with a secret key has mode 0600;
# ckks.key_bytes gives the size of save_keys' file (with and without the
# secret key, with Galois keys); a ciphertext file with a flipped byte, a truncated one and one of another
# kind are refused with a clear message. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/save.he" <<HE
import ckks
let ctx = ckks.context(4096, 30, 1)
let k = ckks.keygen(ctx)
ckks.save_keys(k, "$tmp/k.keys")
ckks.save_keys(ckks.public_keys(k), "$tmp/k.pub")
ckks.save(ckks.encrypt(k, [1.0, 2.0]), "$tmp/c.ct")
let g = ckks.public_keys(ckks.keygen(ctx, [1, 4]))
ckks.save_keys(g, "$tmp/g.pub")
print(str(ckks.key_bytes(k)) + " " + str(ckks.key_bytes(ckks.public_keys(k))) + " " + str(ckks.key_bytes(g)))
HE
cat >"$tmp/load.he" <<HE
import ckks
let ctx = ckks.context(4096, 30, 1)
let k = ckks.load_keys(ctx, argv(0))
print(max(abs(ckks.decrypt(k, ckks.load(k, argv(1))) - [1.0, 2.0])) < 1e-3)
HE
if "$HE" "$tmp/save.he" >"$tmp/out" 2>&1; then echo "ok ckks_save"; else echo "not ok ckks_save: $(head -c 300 "$tmp/out")"; fi
bytes=$(stat -c %s "$tmp/k.keys" "$tmp/k.pub" "$tmp/g.pub" 2>/dev/null | tr '\n' ' ')
[ "$(cat "$tmp/out")" = "${bytes% }" ] && echo "ok ckks_key_bytes" || echo "not ok ckks_key_bytes: key_bytes $(head -c 300 "$tmp/out"), files ${bytes% }"
mode() { stat -c %a "$1" 2>/dev/null; }
[ "$(mode "$tmp/k.keys")" = 600 ] && echo "ok ckks_secret_key_mode_0600" || echo "not ok ckks_secret_key_mode_0600: $(mode "$tmp/k.keys")"
out=$("$HE" "$tmp/load.he" "$tmp/k.keys" "$tmp/c.ct" 2>&1)
[ "$out" = true ] && echo "ok ckks_load" || echo "not ok ckks_load: $out"
# refused: (file to corrupt, how, expected message)
refuse() {
    name=$1 keys=$2 ct=$3 want=$4
    "$HE" "$tmp/load.he" "$keys" "$ct" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" = 1 ] && grep -qF -- "$want" "$tmp/out"; then echo "ok $name"
    else echo "not ok $name: exit $rc: $(head -c 300 "$tmp/out")"; fi
}
# flip: inverts every bit of the byte at an offset (so it always changes)
flip() {
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
size=$(wc -c <"$tmp/c.ct")
cp "$tmp/c.ct" "$tmp/flip.ct"
flip "$tmp/flip.ct" $((size / 2))
refuse ckks_ct_flipped_byte "$tmp/k.keys" "$tmp/flip.ct" "is damaged"
cp "$tmp/c.ct" "$tmp/hdr.ct"
printf '\007' | dd of="$tmp/hdr.ct" bs=1 seek=16 conv=notrunc 2>/dev/null
refuse ckks_ct_flipped_header "$tmp/k.keys" "$tmp/hdr.ct" "is damaged"
head -c $((size - 100)) "$tmp/c.ct" >"$tmp/short.ct"
refuse ckks_ct_truncated "$tmp/k.keys" "$tmp/short.ct" "is damaged"
refuse ckks_ct_wrong_kind "$tmp/k.keys" "$tmp/k.pub" "not a ckks ciphertext file"
cp "$tmp/k.keys" "$tmp/flip.keys"
flip "$tmp/flip.keys" 1000
refuse ckks_keys_flipped_byte "$tmp/flip.keys" "$tmp/c.ct" "file damaged"
refuse ckks_keys_wrong_kind "$tmp/c.ct" "$tmp/c.ct" "not a he CKKS file"
