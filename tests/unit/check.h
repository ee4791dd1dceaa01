/*
** check.h: the unit tests' few macros. Each case prints one line:
**   ok NAME | not ok NAME: why | skip NAME: why
** tests/run.sh counts them. A test program returns 0 unless it crashed.
*/
#ifndef HE_CHECK_H
#define HE_CHECK_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A new folder for a test's files, NAME_XXXXXX under $TMPDIR (tests/run.sh
** gives every test a private one; never a fixed path, so two runs of the
** suite at once do not collide). Writes its path into buf (n bytes);
** returns buf, or NULL (with a '#' line saying why). */
static inline char *check_tmpdir(char *buf, size_t n, const char *name)
{
    const char *t = getenv("TMPDIR");
    if (!t || !*t) t = P_tmpdir;
    int k = snprintf(buf, n, "%s/%s_XXXXXX", t, name);
    if (k < 0 || (size_t)k >= n || !mkdtemp(buf)) {
        printf("# cannot make a folder %s/%s_XXXXXX\n", t, name);
        return NULL;
    }
    return buf;
}

/* Entries of folder dir other than . and .. (left-over temporaries show
** here). */
static inline int check_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}
#endif
