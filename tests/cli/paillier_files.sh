#!/bin/sh
# Circuit privacy of saved Paillier results: paillier.save re-randomizes, so
# one value saved twice gives two different files (a deterministic writer
# would give the same bytes, and a saved result would carry the randomness
# the evaluation left in it), and both load and decrypt to the value.
# Prints ok / not ok lines.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/save.he" <<HE
import paillier
let key = paillier.keygen_insecure(512)
paillier.save_key(key, "$tmp/k.key")
let c = paillier.encrypt(paillier.public_key(key), [0.5, -1.25])
let d = c * 0 + 7
paillier.save(d, "$tmp/a.ct")
paillier.save(d, "$tmp/b.ct")
let e = c * 0.5 + 1.0
paillier.save(e, "$tmp/e1.ct")
paillier.save(e, "$tmp/e2.ct")
HE
cat >"$tmp/load.he" <<HE
import paillier
let key = paillier.load_key_insecure("$tmp/k.key")
print(paillier.decrypt(key, paillier.load(key, argv(0))))
HE
if "$HE" "$tmp/save.he" >"$tmp/out" 2>&1; then echo "ok paillier_save"; else echo "not ok paillier_save: $(head -c 300 "$tmp/out")"; fi
pair() { # two files of one value, the value printed
    if cmp -s "$tmp/$1.ct" "$tmp/$2.ct"; then echo "not ok paillier_save_rerandomized_$1: two saves of one value are equal"
    else echo "ok paillier_save_rerandomized_$1"; fi
    for f in "$1" "$2"; do
        out=$("$HE" "$tmp/load.he" "$tmp/$f.ct" 2>/dev/null)
        [ "$out" = "$3" ] && echo "ok paillier_load_$f" || echo "not ok paillier_load_$f: $out, want $3"
    done
}
pair a b "[7.0, 7.0]"
pair e1 e2 "[1.25, 0.375]"
