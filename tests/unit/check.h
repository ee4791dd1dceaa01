/*
** check.h: the unit tests' few macros. Each case prints one line:
**   ok NAME | not ok NAME: why | skip NAME: why
** tests/run.sh counts them. A test program returns 0 unless it crashed.
*/
#ifndef HE_CHECK_H
#define HE_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failed_;

/* CHECK(cond, fmt, ...): records a failure of the current case. */
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            if (!check_failed_) {                                               \
                printf("not ok %s: %s:%d: ", check_case_, __FILE__, __LINE__); \
                printf(__VA_ARGS__);                                            \
                printf("\n");                                                   \
            }                                                                   \
            check_failed_ = 1;                                                  \
        }                                                                       \
    } while (0)

static const char *check_case_ = "";
/* Runs one case: a function void f(void). */
#define RUN(f)                                       \
    do {                                             \
        check_case_ = #f;                            \
        check_failed_ = 0;                           \
        f();                                         \
        if (!check_failed_) printf("ok %s\n", #f);   \
        fflush(stdout);                              \
    } while (0)
#define SKIP(f, why) printf("skip %s: %s\n", #f, why)
#endif
