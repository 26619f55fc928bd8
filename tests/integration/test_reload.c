/*
 * test_reload.c - SIGHUP on the real aggregator: what the option table marks reloadable is
 * applied, and each changed key that needs a restart gets a warning naming it, rather than
 * being dropped without a word.
 */
#include "aggtest.h"
#include "pgtest.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>

static struct aggtest agg;
static char conf[600];

static void teardown(void)
{
    aggtest_stop(&agg);
    if (conf[0] != '\0')
        unlink(conf); /* on every path, a failed assertion's too */
}

TestSuite(reload, .fini = teardown, .timeout = 120);

static void write_conf(const char *text)
{
    char tmp[620];
    snprintf(tmp, sizeof(tmp), "%s.tmp", conf);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, conf), 0);
}

Test(reload, sighup_applies_reloadable_keys_and_warns_about_each_restart_key)
{
    snprintf(conf, sizeof(conf), "/tmp/ct-reload-%d.conf", (int)getpid());
    write_conf("[ingest]\npublish_interval = 1s\ndb_retry_max = 5s\ngroup_max_wait = 2ms\n");
    agg.extra_args[0] = "-c";
    agg.extra_args[1] = conf;
    aggtest_start(&agg, "reload");

    write_conf("[aggregator]\nlog_level = info\n"
               "[ingest]\npublish_interval = 5s\ndb_retry_max = 10s\ngroup_max_wait = 7ms\n");
    cr_assert_eq(kill(agg.proc.pid, SIGHUP), 0);
    cr_assert(proc_wait_log(&agg.proc, "config: reloaded", 10000));
    cr_assert(proc_wait_log(&agg.proc,
                            "SIGHUP: [ingest] publish_interval changes only with a restart", 0));
    cr_assert(
        proc_wait_log(&agg.proc, "SIGHUP: [ingest] db_retry_max changes only with a restart", 0));
    /* group_max_wait is reloadable: no warning for it; log_level too (debug -> info). */
    cr_assert(!proc_wait_log(&agg.proc, "group_max_wait changes only", 0));
    cr_assert(!proc_wait_log(&agg.proc, "log_level changes only", 0));
}
