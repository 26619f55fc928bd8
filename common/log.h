/*
 * log.h - one line per event, with its level and subject, and limits on repetition.
 *
 * A `struct ct_log` is a small value owned by each daemon and handed (borrowed) to the
 * modules it creates; there is no global logger. Lines go to one stream (stderr by
 * default). Under systemd (JOURNAL_STREAM set) each line starts with a syslog priority
 * like "<4>" and carries no timestamp, since the journal adds its own.
 *
 * Message text is formatted into one buffer and written with a single call, so lines from
 * the HTTP thread and the main loop never interleave. Line breaks and other control
 * characters in a message are escaped ("\n", "\r", "\x1b"), so one event is one line.
 *
 * Two tools keep repeated trouble readable (after collectd's c_complain):
 * - ct_complaint: a condition that starts and ends ("database unreachable"). Logged when
 *   it starts, then at doubling intervals while it lasts, and once when it ends.
 * - ct_ratelimit: a burst of events ("malformed frame from X"). At most `burst` lines per
 *   interval; the next allowed line reports how many were suppressed.
 */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum ct_log_level {
    CT_LOG_ERROR = 0,
    CT_LOG_WARN = 1,
    CT_LOG_INFO = 2,
    CT_LOG_DEBUG = 3,
};

struct ct_log {
    enum ct_log_level level; /* lines above this level are dropped */
    FILE *out;               /* borrowed; stderr unless a test points it elsewhere */
    bool journal;            /* syslog priority prefixes instead of timestamps */
};

/* Initialises to INFO on stderr, detecting systemd's journal. */
void ct_log_init(struct ct_log *log);

/* Parses "error", "warn", "info" or "debug". Returns 0 or -1. */
int ct_log_level_parse(const char *text, enum ct_log_level *out);

void ct_log_write(const struct ct_log *log, enum ct_log_level level, const char *subject,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define ct_log_error(log, subject, ...) ct_log_write(log, CT_LOG_ERROR, subject, __VA_ARGS__)
#define ct_log_warn(log, subject, ...) ct_log_write(log, CT_LOG_WARN, subject, __VA_ARGS__)
#define ct_log_info(log, subject, ...) ct_log_write(log, CT_LOG_INFO, subject, __VA_ARGS__)
#define ct_log_debug(log, subject, ...) ct_log_write(log, CT_LOG_DEBUG, subject, __VA_ARGS__)

/* Makes a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) leave one line on stderr,
 * "FATAL daemon: signal 11 (SIGSEGV): stopping", before the process dies of it as before
 * (the default action runs, so a core dump and systemd's Restart= still happen). Without it
 * a crash left no trace in a log file. The handler only calls write(2), so it keeps no
 * state; under AddressSanitizer it is not installed, since ASan's own report says more.
 * Returns 0, or -1 with errno set when sigaction failed. */
int ct_log_catch_fatal_signals(void);

struct ct_complaint {
    bool active;
    int64_t next_report_ms; /* monotonic */
    int64_t interval_ms;
    int64_t since_ms; /* when the condition started (monotonic) */
};

#define CT_COMPLAINT_INIT                                                                          \
    {                                                                                              \
        false, 0, 0, 0                                                                             \
    }

/* Reports that the condition holds now. Logs at `level` when it starts, then again only
 * after 10 s, 20 s, 40 s ... (capped at one hour). */
void ct_complain(const struct ct_log *log, struct ct_complaint *c, enum ct_log_level level,
                 const char *subject, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reports that the condition ended. Logs one INFO line (with how long it lasted) only if
 * it was active. */
void ct_complaint_release(const struct ct_log *log, struct ct_complaint *c, const char *subject,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct ct_ratelimit {
    int64_t interval_ms;
    unsigned burst;
    int64_t window_start_ms; /* monotonic */
    unsigned in_window;
    unsigned suppressed;
};

#define CT_RATELIMIT_INIT(interval_ms, burst)                                                      \
    {                                                                                              \
        (interval_ms), (burst), 0, 0, 0                                                            \
    }

/* Logs like ct_log_write unless more than `burst` lines were logged in this interval; the
 * first line of a new interval notes how many were suppressed. */
void ct_log_limited(const struct ct_log *log, struct ct_ratelimit *rl, enum ct_log_level level,
                    const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
