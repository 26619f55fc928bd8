/*
 * proc.h - the real binaries as child processes of a test.
 *
 * A test starts citytally-aggregator or citytally-collector with proc_start(), waits for a
 * line in its log (proc_wait_log), and stops it with SIGTERM or SIGKILL. stderr goes to a
 * file in the test's scratch directory so a failing test can show it. No sleeps: every
 * wait polls a condition until a deadline.
 */
#ifndef CT_PROC_H
#define CT_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    char log_path[512];
    int exit_status; /* after proc_wait: the exit code, or 128 + signal */
};

/* Starts `argv` (argv[0] is a program name in $CT_BIN_DIR, or a path) with stdout and
 * stderr appended to `log_path`. Fails the test on error. */
void proc_start(struct proc *p, const char *log_path, char *const argv[]);

/* Waits up to `timeout_ms` for `needle` to appear in the log. Returns true if it did. */
bool proc_wait_log(const struct proc *p, const char *needle, int timeout_ms);

/* Sends `sig`, then waits up to `timeout_ms` for the exit. Returns true if it exited. */
bool proc_stop(struct proc *p, int sig, int timeout_ms);

/* Waits up to `timeout_ms` for the process to exit on its own. */
bool proc_wait(struct proc *p, int timeout_ms);

/* Runs a program to completion, capturing stdout+stderr into `out` (NUL-terminated,
 * truncated to out_size). Returns its exit status (or 128 + signal). */
int proc_run(char *const argv[], char *out, size_t out_size);

/* Full path of a built program: $CT_BIN_DIR/name. */
const char *proc_bin(const char *name, char *buf, size_t size);

/* Peak resident set size (VmHWM) of a running process, in KiB; -1 if unknown. */
long proc_peak_rss_kib(pid_t pid);

/* Removes a test's scratch directory and everything in it, unless CT_KEEP_TEST_DIRS is
 * set: then it stays, logs and all, for a look after the run. */
void proc_remove_scratch(const char *dir);

/* Milliseconds on the monotonic clock. */
long long proc_now_ms(void);

#endif
