#!/bin/sh
# The networks of stdlib/ (xor_net, sentiment, cryptonets, keras_cnn) from
# an installed layout, as `make install` lays it out (PREFIX/bin/he and
# PREFIX/share/he/stdlib/*.he), run from a folder with no stdlib/ near it;
# the error of a convolution geometry cryptonets cannot have;
# then the IMDB network's training loop (sentiment.train, sentiment.test)
# through scripts/imdb.he and scripts/imdb_plain.he on 3,000 reviews, when
# the IMDB data is there (else a skip line). Prints ok / not ok lines.
HE=${HE:-build/he}
case $HE in /*) ;; *) HE=$PWD/$HE ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; }
nok() { echo "not ok $1: $2"; }

mkdir -p "$tmp/inst/bin" "$tmp/inst/share/he/stdlib" "$tmp/run"
cp "$HE" "$tmp/inst/bin/he" && cp stdlib/*.he "$tmp/inst/share/he/stdlib/"
printf 'import xor_net\nimport sentiment\nimport cryptonets\nimport keras_cnn\nprint(xor_net.HIDDEN, sentiment.HIDDEN, cryptonets.UNITS, keras_cnn.Wd.shape)\n' >"$tmp/run/nets.he"
out=$(cd "$tmp/run" && env -u HE_PATH "$tmp/inst/bin/he" nets.he 2>&1)
if [ "$out" = "4 8 845 [64, 10]" ]; then ok installed_stdlib_networks
else nok installed_stdlib_networks "$out"; fi
for m in nnplain sentiment mnistnet mnist_cnn; do
    if [ -f "scripts/$m.he" ]; then nok "no_library_in_scripts_$m" "scripts/$m.he is a library: it belongs in stdlib/"
    else ok "no_library_in_scripts_$m"; fi
done

# a geometry the network cannot have: a clear error naming it
"$HE" -e 'import cryptonets
cryptonets.geometry(8, 4, 2, 8, 4)' >"$tmp/geo" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q 'runtime error: cryptonets.geometry(8, 4, 2, 8, 4): img + 1 - kernel must be even' "$tmp/geo"; then
    ok cryptonets_bad_geometry
else nok cryptonets_bad_geometry "exit $rc: $(head -c 300 "$tmp/geo")"; fi

if ! "$HE" -e 'import data
let d = data.imdb(20, 0.15, 10)' >/dev/null 2>&1; then
    echo "skip imdb_train: the IMDB data is not found (make data)"
    exit 0
fi
"$HE" scripts/imdb_plain.he 3000 500 >"$tmp/plain" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q '^accuracy: 367/500 (73.4%)$' "$tmp/plain" &&
    grep -q '^trained 3000 reviews: .* training accuracy 77.9%$' "$tmp/plain"; then ok imdb_plain_train
else nok imdb_plain_train "exit $rc: $(tail -c 300 "$tmp/plain")"; fi
"$HE" scripts/imdb.he 3000 500 >"$tmp/enc" 2>&1
rc=$?
# encrypted: within 5 reviews (1%) of the plain network (fixed-point rounding)
right=$(sed -n 's|^accuracy: \([0-9]*\)/500 .*|\1|p' "$tmp/enc")
if [ "$rc" = 0 ] && [ -n "$right" ] && [ "$right" -ge 362 ] && [ "$right" -le 372 ]; then ok imdb_encrypted_train
else nok imdb_encrypted_train "exit $rc, accuracy '$right': $(tail -c 300 "$tmp/enc")"; fi
