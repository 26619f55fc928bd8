/*
 * test_commit_seconds.c - citytally_commit_seconds with more than one writer: a loop turn
 * may collect a commit from each writer, and each must be recorded with its own duration
 * (not the last one's for all). Drives the aggregator's metrics (aggregator/http_api.c)
 * in-process with the ingest's counters and reads them back over real HTTP.
 */
#include "http_api.h"
#include "httpget.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static long long count_of(const char *body, const char *line)
{
    const char *at = strstr(body, line);
    cr_assert_not_null(at, "no '%s' in:\n%s", line, body);
    return strtoll(at + strlen(line), NULL, 10);
}

Test(commit_seconds, each_commit_of_a_turn_is_recorded_with_its_own_duration)
{
    struct agg_settings settings;
    struct ct_log log;
    struct agg_ingest_stats st;
    struct http_reply r;
    char err[512];

    agg_settings_defaults(&settings);
    strcpy(settings.http, "127.0.0.1:0");
    ct_log_init(&log);
    log.level = CT_LOG_ERROR;
    struct agg_http *h = agg_http_new(&settings, &log, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);

    /* Two writers finished in one turn: one commit of 1 ms, one of 2 s. */
    memset(&st, 0, sizeof(st));
    st.commits = 2;
    st.commit_us[0] = 1000;
    st.commit_us[1] = 2000000;
    st.last_commit_us = 2000000;
    agg_http_observe(h, &st, true);
    /* And one more turn, with one commit of 30 ms. */
    st.commits = 3;
    st.commit_us[2] = 30000;
    st.last_commit_us = 30000;
    agg_http_observe(h, &st, true);

    cr_assert_eq(http_get(agg_http_port(h), "/metrics", &r), 0);
    cr_assert_eq(count_of(r.body, "citytally_commit_seconds_bucket{le=\"0.001\"} "), 1, "%s",
                 r.body);
    cr_assert_eq(count_of(r.body, "citytally_commit_seconds_bucket{le=\"0.025\"} "), 1);
    cr_assert_eq(count_of(r.body, "citytally_commit_seconds_bucket{le=\"0.05\"} "), 2);
    cr_assert_eq(count_of(r.body, "citytally_commit_seconds_bucket{le=\"2.5\"} "), 3);
    cr_assert_eq(count_of(r.body, "citytally_commit_seconds_count "), 3);
    static const char sum_line[] = "citytally_commit_seconds_sum ";
    const char *at = strstr(r.body, sum_line);
    cr_assert_not_null(at);
    double sum = strtod(at + strlen(sum_line), NULL);
    cr_assert_float_eq(sum, 2.031, 1e-9, "sum %.17g", sum);
    http_reply_free(&r);
    agg_http_free(h);
}
