#!/bin/sh
# The man page doc/he.1 stays in step with `he --help`: every option that
# --help lists is documented in it (as groff writes it: \-\-dump), every
# environment variable --help names has an entry, and mandoc finds no
# problem in it (skipped where mandoc is not installed). Prints ok / not ok.
HE=${HE:-build/he}
man=${HE_MAN:-doc/he.1}
"$HE" --help >"$TMPDIR/help" 2>&1
opts=$(grep '^  -' "$TMPDIR/help" | sed 's/   .*//' | grep -o -- '-[-a-z]*' | sort -u)
[ -n "$opts" ] || echo "not ok man_options: no option found in he --help"
for o in $opts; do
    g=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
    if grep -q "^\.B[IR]* $g\( \|$\)" "$man"; then echo "ok man_option$o"
    else echo "not ok man_option$o: $o is in he --help but has no entry in $man"; fi
done
for v in $(sed -n 's/^environment: //p' "$TMPDIR/help" | grep -o '[A-Z_]* (' | tr -d ' ('); do
    if grep -qx "\.B $v" "$man"; then echo "ok man_env_$v"
    else echo "not ok man_env_$v: $v is in he --help but not in $man's ENVIRONMENT"; fi
done
if command -v mandoc >/dev/null 2>&1; then
    if mandoc -Tlint -Wwarning "$man" >"$TMPDIR/lint" 2>&1; then echo "ok man_lint"
    else echo "not ok man_lint: $(head -5 "$TMPDIR/lint")"; fi
else
    echo "skip man_lint: mandoc is not installed"
fi
