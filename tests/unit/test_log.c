/*
 * test_log.c - common/log.c: one line per event, and limits on repetition.
 *
 * The log's stream is an open_memstream(), so every test reads exactly what was written.
 * Time passing is simulated by moving a complaint's or rate limit's recorded instants
 * back, rather than by sleeping.
 */
#include "log.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct ct_log log_;
static char *text;
static size_t text_len;

static void setup(void)
{
    ct_log_init(&log_);
    log_.journal = false;
    log_.out = open_memstream(&text, &text_len);
    cr_assert_not_null(log_.out);
}

static void teardown(void)
{
    fclose(log_.out);
    free(text);
}

TestSuite(log, .init = setup, .fini = teardown);

static int count_lines(void)
{
    int n = 0;
    fflush(log_.out);
    for (size_t i = 0; i < text_len; i++)
        n += text[i] == '\n';
    return n;
}

/* The text of line `index` (from 0) after its timestamp, or the whole line in journal mode. */
static const char *line_body(int index, char *out, size_t size)
{
    const char *p = text;

    fflush(log_.out);
    for (int i = 0; i < index; i++) {
        p = strchr(p, '\n');
        cr_assert_not_null(p, "no line %d in:\n%s", index, text);
        p++;
    }
    size_t len = strcspn(p, "\n");
    cr_assert_eq(p[len], '\n', "line %d is not terminated", index);
    if (!log_.journal) {
        const char *space = memchr(p, ' ', len);
        cr_assert_not_null(space);
        len -= (size_t)(space + 1 - p);
        p = space + 1;
    }
    snprintf(out, size, "%.*s", (int)len, p);
    return out;
}

Test(log, a_line_has_time_level_and_subject)
{
    char body[256], stamp[64];
    int64_t before = ct_time_now_ms(), at;

    ct_log_warn(&log_, "ingest", "frame from %s refused: %s", "erqi-01", "malformed");
    cr_assert_eq(count_lines(), 1);
    cr_assert_str_eq(line_body(0, body, sizeof(body)),
                     "warn  ingest: frame from erqi-01 refused: malformed");
    /* the timestamp is ISO 8601 in UTC+8, and now */
    size_t stamp_len = strcspn(text, " ");
    snprintf(stamp, sizeof(stamp), "%.*s", (int)stamp_len, text);
    cr_assert(strstr(stamp, "+08:00") != NULL, "%s", stamp);
    char err[64];
    cr_assert_eq(ct_time_parse(stamp, &at, err, sizeof(err)), 0, "%s: %s", stamp, err);
    cr_assert_geq(at, before - 1000);
    cr_assert_leq(at, ct_time_now_ms() + 1000);
}

Test(log, every_level_has_its_name)
{
    char body[128];

    log_.level = CT_LOG_DEBUG;
    ct_log_error(&log_, "s", "e");
    ct_log_warn(&log_, "s", "w");
    ct_log_info(&log_, "s", "i");
    ct_log_debug(&log_, "s", "d");
    cr_assert_eq(count_lines(), 4);
    cr_assert_str_eq(line_body(0, body, sizeof(body)), "error s: e");
    cr_assert_str_eq(line_body(1, body, sizeof(body)), "warn  s: w");
    cr_assert_str_eq(line_body(2, body, sizeof(body)), "info  s: i");
    cr_assert_str_eq(line_body(3, body, sizeof(body)), "debug s: d");
}

Test(log, lines_above_the_level_are_dropped)
{
    char body[128];

    log_.level = CT_LOG_WARN;
    ct_log_debug(&log_, "s", "hidden");
    ct_log_info(&log_, "s", "hidden");
    ct_log_warn(&log_, "s", "shown");
    ct_log_error(&log_, "s", "shown too");
    cr_assert_eq(count_lines(), 2);
    cr_assert_str_eq(line_body(0, body, sizeof(body)), "warn  s: shown");
}

Test(log, journal_lines_carry_a_syslog_priority_and_no_timestamp)
{
    char body[128];

    log_.journal = true;
    log_.level = CT_LOG_DEBUG;
    ct_log_error(&log_, "store", "commit failed");
    ct_log_warn(&log_, "store", "slow");
    ct_log_info(&log_, "store", "ready");
    ct_log_debug(&log_, "store", "batch");
    cr_assert_str_eq(line_body(0, body, sizeof(body)), "<3>store: commit failed");
    cr_assert_str_eq(line_body(1, body, sizeof(body)), "<4>store: slow");
    cr_assert_str_eq(line_body(2, body, sizeof(body)), "<6>store: ready");
    cr_assert_str_eq(line_body(3, body, sizeof(body)), "<7>store: batch");
}

Test(log, newlines_and_control_characters_in_a_message_are_escaped)
{
    char body[256];

    log_.journal = true;
    ct_log_warn(&log_, "spool", "bad line: %s", "a\nb\r\n<3>forged: root\x1b[31m\ttab");
    cr_assert_eq(count_lines(), 1, "a message broke the line:\n%s", text);
    cr_assert_str_eq(line_body(0, body, sizeof(body)),
                     "<4>spool: bad line: a\\nb\\r\\n<3>forged: root\\x1b[31m\ttab");
}

Test(log, the_journal_is_detected_from_the_environment)
{
    struct ct_log l;

    cr_assert_eq(setenv("JOURNAL_STREAM", "8:12345", 1), 0);
    ct_log_init(&l);
    cr_assert(l.journal);
    cr_assert_eq(l.level, CT_LOG_INFO);
    cr_assert_eq(l.out, stderr);
    cr_assert_eq(unsetenv("JOURNAL_STREAM"), 0);
    ct_log_init(&l);
    cr_assert_not(l.journal);
}

Test(log, a_very_long_message_is_cut_but_stays_one_line)
{
    char *big = malloc(10000);

    cr_assert_not_null(big);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    ct_log_info(&log_, "s", "%s\n%s", big, big);
    cr_assert_eq(count_lines(), 1);
    cr_assert_leq(text_len, 2048);
    cr_assert_eq(text[text_len - 1], '\n');
    free(big);
}

Test(log, level_names_parse)
{
    enum ct_log_level level;

    cr_assert_eq(ct_log_level_parse("error", &level), 0);
    cr_assert_eq(level, CT_LOG_ERROR);
    cr_assert_eq(ct_log_level_parse("WARN", &level), 0);
    cr_assert_eq(level, CT_LOG_WARN);
    cr_assert_eq(ct_log_level_parse("warning", &level), 0);
    cr_assert_eq(level, CT_LOG_WARN);
    cr_assert_eq(ct_log_level_parse("Info", &level), 0);
    cr_assert_eq(level, CT_LOG_INFO);
    cr_assert_eq(ct_log_level_parse("debug", &level), 0);
    cr_assert_eq(level, CT_LOG_DEBUG);
    cr_assert_eq(ct_log_level_parse("trace", &level), -1);
    cr_assert_eq(ct_log_level_parse("", &level), -1);
}

/* ------------------------------------------------------------------ complaints */

Test(log, a_complaint_is_logged_when_it_starts_and_not_on_every_repeat)
{
    struct ct_complaint c = CT_COMPLAINT_INIT;
    char body[256];

    for (int i = 0; i < 100; i++)
        ct_complain(&log_, &c, CT_LOG_ERROR, "store", "database unreachable: %s", "refused");
    cr_assert_eq(count_lines(), 1);
    cr_assert_str_eq(line_body(0, body, sizeof(body)),
                     "error store: database unreachable: refused");
    cr_assert(c.active);
}

Test(log, a_lasting_complaint_repeats_at_doubling_intervals)
{
    struct ct_complaint c = CT_COMPLAINT_INIT;
    char body[256];

    ct_complain(&log_, &c, CT_LOG_ERROR, "store", "down");
    cr_assert_eq(c.interval_ms, 10000);
    /* 10 s later (simulated): logged again, with how long it has lasted */
    c.next_report_ms -= 10000;
    c.since_ms -= 10000;
    ct_complain(&log_, &c, CT_LOG_ERROR, "store", "down");
    cr_assert_eq(count_lines(), 2);
    cr_assert_str_eq(line_body(1, body, sizeof(body)), "error store: down (for 10s)");
    cr_assert_eq(c.interval_ms, 20000);
    ct_complain(&log_, &c, CT_LOG_ERROR, "store", "down");
    cr_assert_eq(count_lines(), 2, "repeated before the next interval");
    /* the interval doubles up to an hour and stays there */
    for (int i = 0; i < 20; i++) {
        c.next_report_ms = 0;
        ct_complain(&log_, &c, CT_LOG_ERROR, "store", "down");
    }
    cr_assert_eq(count_lines(), 22);
    cr_assert_eq(c.interval_ms, 3600000);
}

Test(log, a_released_complaint_logs_once_that_it_ended)
{
    struct ct_complaint c = CT_COMPLAINT_INIT;
    char body[256];

    ct_complaint_release(&log_, &c, "store", "database reachable");
    cr_assert_eq(count_lines(), 0, "a complaint that never started cannot end");

    ct_complain(&log_, &c, CT_LOG_ERROR, "store", "database unreachable");
    c.since_ms -= 42000;
    ct_complaint_release(&log_, &c, "store", "database reachable again");
    ct_complaint_release(&log_, &c, "store", "database reachable again");
    cr_assert_eq(count_lines(), 2);
    cr_assert_str_eq(line_body(1, body, sizeof(body)),
                     "info  store: database reachable again (after 42s)");
    cr_assert_not(c.active);

    /* a new outage is a new complaint, logged at once */
    ct_complain(&log_, &c, CT_LOG_ERROR, "store", "database unreachable");
    cr_assert_eq(count_lines(), 3);
}

Test(log, a_complaint_below_the_level_is_tracked_but_not_written)
{
    struct ct_complaint c = CT_COMPLAINT_INIT;

    log_.level = CT_LOG_WARN;
    ct_complain(&log_, &c, CT_LOG_INFO, "sender", "aggregator not answering");
    cr_assert(c.active);
    cr_assert_eq(count_lines(), 0);
}

/* ------------------------------------------------------------------ rate limits */

Test(log, a_burst_is_cut_and_the_suppressed_count_reported)
{
    struct ct_ratelimit rl = CT_RATELIMIT_INIT(3600000, 3);
    char body[256];

    for (int i = 1; i <= 10; i++)
        ct_log_limited(&log_, &rl, CT_LOG_WARN, "ingest", "malformed frame %d", i);
    cr_assert_eq(count_lines(), 3);
    cr_assert_str_eq(line_body(0, body, sizeof(body)), "warn  ingest: malformed frame 1");
    cr_assert_str_eq(line_body(2, body, sizeof(body)), "warn  ingest: malformed frame 3");
    cr_assert_eq(rl.suppressed, 7);

    /* the next interval (simulated) starts with the count of what was dropped */
    rl.window_start_ms -= rl.interval_ms;
    ct_log_limited(&log_, &rl, CT_LOG_WARN, "ingest", "malformed frame %d", 11);
    cr_assert_eq(count_lines(), 4);
    cr_assert_str_eq(line_body(3, body, sizeof(body)),
                     "warn  ingest: malformed frame 11 (7 similar messages suppressed)");
    cr_assert_eq(rl.suppressed, 0);

    /* and the new interval has its own burst */
    for (int i = 12; i <= 20; i++)
        ct_log_limited(&log_, &rl, CT_LOG_WARN, "ingest", "malformed frame %d", i);
    cr_assert_eq(count_lines(), 6);
    cr_assert_eq(rl.suppressed, 7);
}

Test(log, a_quiet_interval_reports_nothing_suppressed)
{
    struct ct_ratelimit rl = CT_RATELIMIT_INIT(1000, 2);
    char body[256];

    ct_log_limited(&log_, &rl, CT_LOG_WARN, "s", "one");
    rl.window_start_ms -= rl.interval_ms;
    ct_log_limited(&log_, &rl, CT_LOG_WARN, "s", "two");
    cr_assert_eq(count_lines(), 2);
    cr_assert_str_eq(line_body(1, body, sizeof(body)), "warn  s: two");
}

Test(log, lines_below_the_level_do_not_use_up_the_burst)
{
    struct ct_ratelimit rl = CT_RATELIMIT_INIT(3600000, 2);

    log_.level = CT_LOG_INFO;
    for (int i = 0; i < 5; i++)
        ct_log_limited(&log_, &rl, CT_LOG_DEBUG, "s", "hidden");
    ct_log_limited(&log_, &rl, CT_LOG_WARN, "s", "a");
    ct_log_limited(&log_, &rl, CT_LOG_WARN, "s", "b");
    cr_assert_eq(count_lines(), 2);
    cr_assert_eq(rl.suppressed, 0);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* A crash leaves one line in the log, and the process still dies of the signal (so systemd
 * sees a crash and a core dump is still made). */
Test(log, a_fatal_signal_leaves_one_line_and_still_kills_the_process)
{
#ifdef UNDER_ASAN
    cr_skip_test("AddressSanitizer reports fatal signals itself");
#else
    int pipe_fds[2], status;
    char line[128] = {0};
    ssize_t n;
    pid_t pid;

    cr_assert_eq(pipe(pipe_fds), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        if (ct_log_catch_fatal_signals() != 0)
            _exit(3);
        raise(SIGSEGV);
        _exit(4); /* not reached: SIGSEGV's default action ends the process */
    }
    close(pipe_fds[1]);
    n = read(pipe_fds[0], line, sizeof(line) - 1);
    close(pipe_fds[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x", status);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(line, "FATAL daemon: signal 11 (SIGSEGV): stopping\n");
#endif
}
