#include "log.h"
#include "timefmt.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
#define COMPLAINT_FIRST_REPEAT_MS 10000
#define COMPLAINT_MAX_REPEAT_MS 3600000

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char level_priorities[] = {'3', '4', '6', '7'};

void ct_log_init(struct ct_log *log)
{
    log->level = CT_LOG_INFO;
    log->out = stderr;
    log->journal = getenv("JOURNAL_STREAM") != NULL;
}

int ct_log_level_parse(const char *text, enum ct_log_level *out)
{
    for (int i = CT_LOG_ERROR; i <= CT_LOG_DEBUG; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (enum ct_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = CT_LOG_WARN;
        return 0;
    }
    return -1;
}

/* Formats "prefix subject: message suffix" and writes it with one fwrite. */
__attribute__((format(printf, 5, 0))) static void emit(const struct ct_log *log,
                                                       enum ct_log_level level, const char *subject,
                                                       const char *suffix, const char *fmt,
                                                       va_list ap)
{
    char line[LINE_MAX_BYTES], text[LINE_MAX_BYTES];
    size_t n = 0;
    int w;

    if (log->journal) {
        w = snprintf(line, sizeof(line), "<%c>%s: ", level_priorities[level], subject);
    } else {
        char stamp[CT_TIME_TEXT_MAX];
        ct_time_format(ct_time_now_ms(), stamp, sizeof(stamp));
        w = snprintf(line, sizeof(line), "%s %-5s %s: ", stamp, level_names[level], subject);
    }
    if (w < 0)
        return;
    n = (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;

    w = vsnprintf(text, sizeof(text), fmt, ap);
    if (w > 0) {
        /* One event, one line: line breaks and other control characters in the text
         * (often echoed from the network or a file) are escaped, never written raw. */
        size_t len = (size_t)w < sizeof(text) ? (size_t)w : sizeof(text) - 1;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)text[i];
            char esc[5];
            size_t esc_len = 1;

            if (c == '\n' || c == '\r') {
                esc[0] = '\\';
                esc[1] = c == '\n' ? 'n' : 'r';
                esc_len = 2;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                snprintf(esc, sizeof(esc), "\\x%02x", c);
                esc_len = 4;
            } else {
                esc[0] = (char)c;
            }
            if (n + esc_len >= sizeof(line) - 1)
                break;
            memcpy(line + n, esc, esc_len);
            n += esc_len;
        }
    }
    if (suffix != NULL && *suffix != '\0') {
        w = snprintf(line + n, sizeof(line) - n, "%s", suffix);
        if (w > 0)
            n += (size_t)w < sizeof(line) - n ? (size_t)w : sizeof(line) - n - 1;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, log->out);
    fflush(log->out);
}

void ct_log_write(const struct ct_log *log, enum ct_log_level level, const char *subject,
                  const char *fmt, ...)
{
    va_list ap;

    if (level > log->level)
        return;
    va_start(ap, fmt);
    emit(log, level, subject, NULL, fmt, ap);
    va_end(ap);
}

void ct_complain(const struct ct_log *log, struct ct_complaint *c, enum ct_log_level level,
                 const char *subject, const char *fmt, ...)
{
    int64_t now = ct_time_mono_ms();
    char suffix[64] = "";
    va_list ap;

    if (!c->active) {
        c->active = true;
        c->since_ms = now;
        c->interval_ms = COMPLAINT_FIRST_REPEAT_MS;
    } else if (now < c->next_report_ms) {
        return;
    } else {
        snprintf(suffix, sizeof(suffix), " (for %llds)", (long long)((now - c->since_ms) / 1000));
        c->interval_ms *= 2;
        if (c->interval_ms > COMPLAINT_MAX_REPEAT_MS)
            c->interval_ms = COMPLAINT_MAX_REPEAT_MS;
    }
    c->next_report_ms = now + c->interval_ms;
    if (level > log->level)
        return;
    va_start(ap, fmt);
    emit(log, level, subject, suffix, fmt, ap);
    va_end(ap);
}

void ct_complaint_release(const struct ct_log *log, struct ct_complaint *c, const char *subject,
                          const char *fmt, ...)
{
    char suffix[64];
    va_list ap;

    if (!c->active)
        return;
    c->active = false;
    snprintf(suffix, sizeof(suffix), " (after %llds)",
             (long long)((ct_time_mono_ms() - c->since_ms) / 1000));
    if (CT_LOG_INFO > log->level)
        return;
    va_start(ap, fmt);
    emit(log, CT_LOG_INFO, subject, suffix, fmt, ap);
    va_end(ap);
}

void ct_log_limited(const struct ct_log *log, struct ct_ratelimit *rl, enum ct_log_level level,
                    const char *subject, const char *fmt, ...)
{
    int64_t now = ct_time_mono_ms();
    char suffix[64] = "";
    va_list ap;

    if (level > log->level)
        return;
    if (rl->window_start_ms == 0 || now - rl->window_start_ms >= rl->interval_ms) {
        if (rl->suppressed > 0)
            snprintf(suffix, sizeof(suffix), " (%u similar messages suppressed)", rl->suppressed);
        rl->window_start_ms = now;
        rl->in_window = 0;
        rl->suppressed = 0;
    }
    if (rl->in_window >= rl->burst) {
        rl->suppressed++;
        return;
    }
    rl->in_window++;
    va_start(ap, fmt);
    emit(log, level, subject, suffix, fmt, ap);
    va_end(ap);
}

#if defined(__SANITIZE_ADDRESS__)
#define CT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CT_UNDER_ASAN 1
#endif
#endif

#ifndef CT_UNDER_ASAN
static const struct {
    int signo;
    const char *line;
} fatal_lines[] = {
    {SIGSEGV, "FATAL daemon: signal 11 (SIGSEGV): stopping\n"},
    {SIGBUS, "FATAL daemon: signal 7 (SIGBUS): stopping\n"},
    {SIGFPE, "FATAL daemon: signal 8 (SIGFPE): stopping\n"},
    {SIGILL, "FATAL daemon: signal 4 (SIGILL): stopping\n"},
    {SIGABRT, "FATAL daemon: signal 6 (SIGABRT): stopping\n"},
};
#define N_FATAL (sizeof(fatal_lines) / sizeof(fatal_lines[0]))

/* Async-signal-safe: write(2), then the default action (SA_RESETHAND restored it). */
static void on_fatal_signal(int signo)
{
    for (size_t i = 0; i < N_FATAL; i++) {
        if (fatal_lines[i].signo == signo) {
            ssize_t ignored =
                write(STDERR_FILENO, fatal_lines[i].line, strlen(fatal_lines[i].line));
            (void)ignored;
        }
    }
    raise(signo);
}
#endif

int ct_log_catch_fatal_signals(void)
{
#ifndef CT_UNDER_ASAN
    struct sigaction sa = {0};

    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = (int)(SA_RESETHAND | SA_NODEFER);
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FATAL; i++) {
        if (sigaction(fatal_lines[i].signo, &sa, NULL) != 0)
            return -1;
    }
#endif
    return 0;
}
