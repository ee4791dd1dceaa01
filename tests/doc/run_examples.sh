#!/bin/sh
# The docs' examples, run: every ```he and ```repl block of README.md and
# doc/*.md (or of the files given as arguments). Prints one line per block:
#   ok FILE:LINE | not ok FILE:LINE: why (then the diff) | skip FILE:LINE: why
# and a last line "doc examples: N passed, N failed, N skipped".
# tests/run.sh counts the ok / not ok / skip lines in `make check`.
#
# How a writer marks a block (the words after the fence's language):
#
#   ```he            followed (blank lines aside) by an ```output or ```text
#   ...              block: a runnable example; its stdout and stderr together
#   ```              must equal the output block. Without an output block
#                    after it the block is compiled only (`he --check`).
#   ```he fragment   not a whole program (a sketch, pseudo-arguments): skipped.
#   ```he needs-data needs the MNIST/IMDB files or long runs: skipped.
#   ```he name=x.he  the file name the block is run as (default example.he),
#                    for examples whose output names the file.
#   ```he exit=N     the expected exit status (default 0).
#   ```repl          a REPL transcript: the lines after the prompts `he> ` and
#                    `..> ` are fed to `he`, and its echoed transcript must
#                    equal the block (the banner line left out).
#
# Each block runs as its own file in its own folder, named after the doc file
# and line (e.g. $TMPDIR/doc_ckks.md-L42/example.he), with that folder as
# working directory and its sub-folder tmp as TMPDIR: an example that writes files uses
# tmpdir(), and in compared output that folder reads as $TMPDIR.
# Environment: HE (the interpreter, default build/he), TMPDIR.
HE=${HE:-build/he}
case $HE in /*) ;; *) HE=$(pwd)/$HE ;; esac
TMO=${HE_DOC_TIMEOUT:-120}
[ $# -gt 0 ] || set -- README.md doc/*.md
work=$(mktemp -d "${TMPDIR:-/tmp}/docex.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
pass=0 fail=0 skip=0

# Splits one markdown file into blocks: writes $work/<n>.src (and <n>.want)
# and prints one record per example: KIND|LINE|ATTRS|N
# with KIND run (he + output), check (he alone) or repl.
extract() { # $1 markdown file, $2 prefix for block files
    awk -v pre="$2" '
    function flush() {
        if (pend == "") return
        printf "%s|%d|%s|%s\n", pend, pline, pattrs, pn
        pend = ""
    }
    BEGIN { inb = 0; n = 0; pend = ""; blank = 1 }
    {
        if (!inb && $0 ~ /^```/) {
            info = substr($0, 4); sub(/^[ \t]+/, "", info); sub(/[ \t]+$/, "", info)
            lang = info; sub(/[ \t].*/, "", lang)
            attrs = info; if (attrs ~ /[ \t]/) sub(/^[^ \t]*[ \t]+/, "", attrs); else attrs = ""
            n++; inb = 1; bline = NR
            file = pre n (lang == "output" || lang == "text" ? ".want" : ".src")
            printf "" > file
            # an output block right after an he block completes it
            if (pend == "check" && blank && (lang == "output" || lang == "text")) {
                pend = "run"; wantfor = pn
                file = pre pn ".want"; printf "" > file
            } else flush()
            next
        }
        if (inb && $0 ~ /^```[ \t]*$/) {
            inb = 0; close(file); blank = 1
            if (lang == "he") { pend = "check"; pline = bline; pattrs = attrs; pn = n }
            else if (lang == "repl") { pend = "repl"; pline = bline; pattrs = attrs; pn = n; flush() }
            else if (lang == "output" || lang == "text") flush()
            next
        }
        if (inb) { print > file; next }
        if ($0 !~ /^[ \t]*$/) { blank = 0; flush() }
    }
    END { flush() }' "$1"
}

# Compares $1 (wanted) with $2 (got); on a difference prints "not ok" and the diff.
compare() { # $1 want, $2 got, $3 label, $4 exit status, $5 wanted exit status
    if [ "$4" != "$5" ]; then
        echo "not ok $3: exit status $4, want $5"; diff "$1" "$2" | head -30 | sed 's/^/    /'
        fail=$((fail + 1))
    elif cmp -s "$1" "$2"; then
        echo "ok $3"; pass=$((pass + 1))
    else
        echo "not ok $3: output differs from the text (< text, > program)"
        diff "$1" "$2" | head -30 | sed 's/^/    /'
        fail=$((fail + 1))
    fi
}

for md in "$@"; do
    [ -f "$md" ] || { echo "not ok $md: no such file"; fail=$((fail + 1)); continue; }
    tag=$(printf '%s' "$md" | tr '/' '_')
    extract "$md" "$work/$tag." >"$work/$tag.list"
    while IFS="|" read -r kind line attrs n; do
        label="$md:$line"
        name=example.he want_rc=0 skipwhy=
        for a in $attrs; do
            case $a in
            fragment) skipwhy="a fragment" ;;
            needs-data) skipwhy="needs data" ;;
            name=*) name=${a#name=} ;;
            exit=*) want_rc=${a#exit=} ;;
            *) echo "not ok $label: unknown block attribute '$a'"; fail=$((fail + 1)); continue 2 ;;
            esac
        done
        if [ -n "$skipwhy" ]; then echo "skip $label: $skipwhy"; skip=$((skip + 1)); continue; fi
        B="$work/$tag-L$line"
        mkdir -p "$B/tmp"
        src="$work/$tag.$n.src"
        case $kind in
        repl)
            sed -n 's/^he> //p; s/^he>$//p; s/^\.\.> //p; s/^\.\.>$//p' "$src" >"$B/in"
            (cd "$B" && HOME="$B/tmp" HE_HISTFILE="$B/tmp/hist" TMPDIR="$B/tmp" \
                timeout "$TMO" "$HE" <in >out 2>&1)
            rc=$?
            # the banner line and the last, empty prompt are not in the text
            sed '1d; $s/^he> $//' "$B/out" | sed "s|$B/tmp|\$TMPDIR|g" | sed '${/^$/d}' >"$B/got"
            compare "$src" "$B/got" "$label" "$rc" 0 ;;
        run)
            cp "$src" "$B/$name"
            (cd "$B" && TMPDIR="$B/tmp" timeout "$TMO" "$HE" "$name" >out 2>&1 </dev/null)
            rc=$?
            sed "s|$B/tmp|\$TMPDIR|g" "$B/out" >"$B/got"
            compare "$work/$tag.$n.want" "$B/got" "$label" "$rc" "$want_rc" ;;
        check)
            cp "$src" "$B/$name"
            if (cd "$B" && TMPDIR="$B/tmp" timeout "$TMO" "$HE" --check "$name" >out 2>&1 </dev/null); then
                echo "ok $label"; pass=$((pass + 1))
            else
                echo "not ok $label: he --check fails (mark the block 'fragment' if it is one)"
                head -10 "$B/out" | sed 's/^/    /'; fail=$((fail + 1))
            fi ;;
        esac
    done <"$work/$tag.list"
done
echo "doc examples: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
