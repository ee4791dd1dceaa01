/*
** cli.h: what the command line (main.c) and the REPL (repl.c) share: the
** one VM of the process, and running code with Ctrl-C and SIGTERM caught.
** Nothing outside interp/cli/ includes this.
*/
#ifndef HE_CLI_H
#define HE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "interp.h"

extern he_vm *cli_vm;

/* The signal that stopped the last run_guarded (SIGINT, SIGTERM), or 0. */
extern int cli_stopped_by;

/* fn(arg) with SIGINT and SIGTERM turned into the runtime's interrupt flag. */
int run_guarded(int (*fn)(void *), void *arg);

/* After a run: true when SIGTERM stopped it (the REPL leaves); a Ctrl-C
** is forgotten (the REPL goes back to its prompt). */
bool terminated(void);

struct src_arg {
    const char *file;
    const char *src;
    size_t len;
    int flags;
};
int run_src_cb(void *p);  /* he_run_source on a struct src_arg */
int run_file_cb(void *p); /* he_run_file on a struct src_arg */

/* repl.c: the interactive loop; 0. */
int cli_repl(void);

#endif
