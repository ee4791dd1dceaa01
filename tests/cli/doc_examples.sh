#!/bin/sh
# The doc-example runner (tests/doc/run_examples.sh) on a markdown file made
# here: a true example passes, a drifted output, a drifted REPL transcript, a
# block that does not compile and a wrong exit status fail with the file:line
# and the diff, fragments and data blocks are skipped with their reason, and
# an example that writes into tmpdir() reads as $TMPDIR. Prints ok / not ok.
HE=${HE:-build/he}
md="$TMPDIR/t.md"
cat >"$md" <<'EOF'
# a test document

```he
print(1 + 1)
```

```output
2
```

```he
print(1 + 1)
```

```output
3
```

```repl
he> 2 * 3
7 : int
```

```he
let x: int = "a"
```

```he fragment
let y = f(x [, z])
```

```he needs-data
import data
```

```he name=boom.he exit=1
assert(false)
```

```output
boom.he:1:7: runtime error: assertion failed
stack traceback:
  boom.he:1: in main chunk
```

```he exit=0
assert(false)
```

```output
```

```he
print(tmpdir())
```

```output
$TMPDIR
```

```repl
he> let t = [1, 2]
he> len(t)
2 : int
```
EOF
HE="$HE" sh tests/doc/run_examples.sh "$md" >"$TMPDIR/out" 2>&1
rc=$?
out="$TMPDIR/out"
want() { # $1 case, $2 a line the output must have
    if grep -qxF "$2" "$out"; then echo "ok $1"; else echo "not ok $1: no line '$2' in: $(head -c 600 "$out")"; fi
}
want doc_runner_passes_true_example "ok $md:3"
want doc_runner_fails_drifted_output "not ok $md:11: output differs from the text (< text, > program)"
want doc_runner_shows_diff "    > 2"
want doc_runner_fails_drifted_repl "not ok $md:19: output differs from the text (< text, > program)"
want doc_runner_checks_lone_block "not ok $md:24: he --check fails (mark the block 'fragment' if it is one)"
want doc_runner_skips_fragment "skip $md:28: a fragment"
want doc_runner_skips_needs_data "skip $md:32: needs data"
want doc_runner_names_file_and_exit "ok $md:36"
want doc_runner_checks_exit_status "not ok $md:46: exit status 1, want 0"
want doc_runner_tmpdir "ok $md:53"
want doc_runner_repl_true "ok $md:61"
want doc_runner_tally "doc examples: 4 passed, 4 failed, 2 skipped"
[ "$rc" -ne 0 ] && echo "ok doc_runner_exit_status" || echo "not ok doc_runner_exit_status: 0 with failures"
