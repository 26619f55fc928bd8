/*
 * test_collector_support.h - helpers for the collector's integration tests: run the real
 * binaries from $CT_BIN_DIR as child processes, capture their output, wait for conditions
 * with deadlines (never a bare sleep standing in for synchronisation), make scratch dirs.
 */
#ifndef TEST_COLLECTOR_SUPPORT_H
#define TEST_COLLECTOR_SUPPORT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

static inline int64_t ts_now_ms(void)
{
    return proc_now_ms();
}

static inline void ts_pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls `cond` every 20 ms until it holds or `timeout_ms` passes. */
#define WAIT_FOR(cond, timeout_ms)                                                                 \
    ({                                                                                             \
        int64_t wait_deadline_ = ts_now_ms() + (timeout_ms);                                       \
        bool wait_ok_ = false;                                                                     \
        while (!(wait_ok_ = (cond)) && ts_now_ms() < wait_deadline_)                               \
            ts_pause_ms(20);                                                                       \
        wait_ok_;                                                                                  \
    })

/* proc_bin() into one of four rotating buffers, so an argv can hold a few at once. */
static inline const char *ts_bin(const char *name)
{
    static char path[4][512];
    static int next;
    return proc_bin(name, path[next++ % 4], sizeof(path[0]));
}

static inline void ts_scratch(char *dir, size_t size, const char *what)
{
    snprintf(dir, size, "/tmp/ct-%s-XXXXXX", what);
    cr_assert_not_null(mkdtemp(dir));
}

/* Starts argv[] (NULL-terminated) with stdout and stderr appended to `log_path`. With
 * `fsize_soft` > 0 the files it writes are capped at that size (RLIMIT_FSIZE, SIGXFSZ
 * ignored so that write() fails with EFBIG, as on a full disk); a test may lift the cap
 * later with prlimit(). */
static inline pid_t ts_spawn_limited(const char *const argv[], const char *log_path,
                                     rlim_t fsize_soft)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (fsize_soft > 0) {
            struct rlimit lim = {fsize_soft, RLIM_INFINITY};
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
                _exit(125);
        }
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static inline pid_t ts_spawn(const char *const argv[], const char *log_path)
{
    return ts_spawn_limited(argv, log_path, 0);
}

/* Waits for `pid` up to `timeout_ms`; returns its wait status, or -1 on timeout. */
static inline int ts_wait(pid_t pid, int timeout_ms)
{
    int status = 0;
    int64_t deadline = ts_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        cr_assert_neq(r, -1, "waitpid: %s", strerror(errno));
        if (ts_now_ms() >= deadline)
            return -1;
        ts_pause_ms(10);
    }
}

static inline void ts_kill9(pid_t pid)
{
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int st = ts_wait(pid, 10000);
    cr_assert(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* Runs argv[] to completion; its stdout and stderr go to `out` (NUL-terminated). Returns
 * the exit status (128 + the signal when it was killed). */
static inline int ts_run(const char *const argv[], char *out, size_t out_size)
{
    return proc_run((char *const *)argv, out, out_size);
}

static inline char *ts_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static inline bool ts_file_contains(const char *path, const char *text)
{
    char *s = ts_slurp(path);
    bool found = strstr(s, text) != NULL;
    free(s);
    return found;
}

/* How often `text` occurs in the file at `path` (none when there is no such file). */
static inline int ts_occurrences(const char *path, const char *text)
{
    char *s = ts_slurp(path);
    int n = 0;
    for (const char *at = strstr(s, text); at != NULL; at = strstr(at + 1, text))
        n++;
    free(s);
    return n;
}

static inline bool ts_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline bool ts_exists(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return access(path, F_OK) == 0;
}

/* Writes `text` to DIR/NAME.part and renames it to DIR/NAME, as droppers should. */
static inline void ts_drop(const char *dir, const char *name, const char *text, size_t len)
{
    char tmp[1024], final[1024];
    snprintf(tmp, sizeof(tmp), "%s/%s.part", dir, name);
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    FILE *f = fopen(tmp, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, final), 0);
}

#endif
