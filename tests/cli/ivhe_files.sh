#!/bin/sh
# IVHE files from the language: a key file has mode 0600; a ciphertext or
# key file with a flipped byte, a truncated one, one of the other kind and
# a foreign file are refused with a clear message; an intact pair loads in
# another process and decrypts to the values. Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/save.he" <<HE
import ivhe
let k = ivhe.keygen(3)
ivhe.save_key(k, "$tmp/k.key")
ivhe.save(ivhe.encrypt(k, [[1.5, -2.0], [0.25, 3.0]]), "$tmp/c.ct")
save_npy("$tmp/x.npy", [1.0, 2.0])
HE
cat >"$tmp/load.he" <<HE
import ivhe
let k = ivhe.load_key(argv(0))
print(ivhe.decrypt(k, ivhe.load(k, argv(1))))
HE
if "$HE" "$tmp/save.he" >"$tmp/out" 2>&1; then echo "ok ivhe_save"; else echo "not ok ivhe_save: $(head -c 300 "$tmp/out")"; fi
mode() { stat -c %a "$1" 2>/dev/null; }
[ "$(mode "$tmp/k.key")" = 600 ] && echo "ok ivhe_key_mode_0600" || echo "not ok ivhe_key_mode_0600: $(mode "$tmp/k.key")"
out=$("$HE" "$tmp/load.he" "$tmp/k.key" "$tmp/c.ct" 2>/dev/null)
[ "$out" = "[[1.5, -2.0], [0.25, 3.0]]" ] && echo "ok ivhe_load_other_process" || echo "not ok ivhe_load_other_process: $out"
refuse() {
    name=$1 key=$2 ct=$3 want=$4
    "$HE" "$tmp/load.he" "$key" "$ct" >"$tmp/out" 2>&1
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
refuse ivhe_ct_flipped_byte "$tmp/k.key" "$tmp/flip.ct" "is damaged (checksum mismatch)"
cp "$tmp/c.ct" "$tmp/ver.ct"
flip "$tmp/ver.ct" 8
refuse ivhe_ct_flipped_version "$tmp/k.key" "$tmp/ver.ct" "is damaged"
head -c $((size - 10)) "$tmp/c.ct" >"$tmp/short.ct"
refuse ivhe_ct_truncated "$tmp/k.key" "$tmp/short.ct" "is damaged"
refuse ivhe_ct_wrong_kind "$tmp/k.key" "$tmp/k.key" "holds a key, not ciphertexts"
refuse ivhe_key_wrong_kind "$tmp/c.ct" "$tmp/c.ct" "holds ciphertexts, not a key"
refuse ivhe_ct_foreign "$tmp/k.key" "$tmp/x.npy" "is not a he IVHE file"
cp "$tmp/k.key" "$tmp/flip.key"
flip "$tmp/flip.key" 40
refuse ivhe_key_flipped_byte "$tmp/flip.key" "$tmp/c.ct" "is damaged (checksum mismatch)"
