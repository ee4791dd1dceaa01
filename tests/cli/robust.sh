#!/bin/sh
# Robustness: mutated versions of the golden test scripts (bytes deleted,
# duplicated, replaced; seeded, so every run is the same) must be either
# accepted or rejected with a compile error: exit 0 or 65, never a crash,
# a hang or a sanitizer report. A poor man's fuzzer for the front end.
HE=${HE:-build/he}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
for src in $(find tests/lang -name '*.he' | sort); do
    for seed in $(seq 1 25); do
        awk -v seed="$seed$n" 'BEGIN { srand(seed); RS = "^$" } {
            s = $0
            for (k = 0; k < 4; k++) {
                i = int(rand() * length(s)) + 1
                r = rand()
                c = substr("(){}[],.:;=+-*/@<>\"#\n 0x9_aZ", int(rand() * 30) + 1, 1)
                if (r < 0.33) s = substr(s, 1, i - 1) substr(s, i + 1)
                else if (r < 0.66) s = substr(s, 1, i) c substr(s, i + 1)
                else s = substr(s, 1, i - 1) c substr(s, i + 1)
            }
            printf "%s", s
        }' "$src" >"$tmp/m.he"
        timeout 20 "$HE" --check "$tmp/m.he" >/dev/null 2>"$tmp/err"
        rc=$?
        n=$((n + 1))
        if [ "$rc" != 0 ] && [ "$rc" != 65 ]; then
            bad=$((bad + 1))
            cp "$tmp/m.he" "$tmp/crash$bad.he"
            echo "not ok mutant_$n: exit $rc on a mutant of $src (seed $seed): $(head -c 300 "$tmp/err")"
        fi
    done
done
[ "$bad" = 0 ] && echo "ok mutants_$n"
