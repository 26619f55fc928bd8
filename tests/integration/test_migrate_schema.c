/* migrate: one transaction under an advisory lock; a no-op when up to date; safe when run
 * twice at once; seeds the 2015 facts from the embedded data files. */
#include "store_fixture.h"

#include "embedded.h"

#include <pthread.h>

/* Every embedded migration is applied once; a build may lack numbers given to parallel
 * work, so their count, not the latest number, is what schema_migrations must hold. */
extern const struct ct_embedded_file agg_sql_files[];

static long long embedded_migrations(void)
{
    long long n = 0;
    for (const struct ct_embedded_file *f = agg_sql_files; f->name != NULL; f++)
        n++;
    return n;
}

Test(migrate_schema, fresh_database_gets_every_migration_and_the_2015_facts)
{
    char ci[512];
    PGconn *c = store_db("ct_mig_fresh", ci, sizeof(ci));

    cr_assert_eq(pgtest_scalar(c, "SELECT max(version) FROM schema_migrations"),
                 agg_migrate_latest());
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM schema_migrations"), embedded_migrations());
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM units"), 17);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM indicators"), 34);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015"), 35);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM indicators WHERE reported_by = 'city'"), 1);
    cr_assert_eq(pgtest_scalar(c, "SELECT position FROM targets WHERE code = 'patents_per_10k'"), 6,
                 "targets keep the file's order");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE kind = 'growth'"
                                  " AND of_target IN ('hightech_output', 'patents_per_10k',"
                                  " 'tech_contract_turnover')"),
                 3);
    cr_assert_eq(pgtest_scalar(c, "SELECT (scale = 100)::int FROM targets"
                                  " WHERE code = 'hightech_va_share'"),
                 1);
    PQfinish(c);
}

Test(migrate_schema, migrating_an_up_to_date_database_changes_nothing)
{
    char ci[512], err[512];
    int version = 0;
    PGconn *c = store_db("ct_mig_noop", ci, sizeof(ci));
    const char *fingerprint =
        "SELECT hashtext(string_agg(version || ':' || applied_at, ',' ORDER BY version)"
        " || (SELECT count(*) FROM pg_class) || (SELECT count(*) FROM pg_proc)"
        " || (SELECT string_agg(code || target, ',' ORDER BY year, position) FROM targets))"
        " FROM schema_migrations";
    long long before = pgtest_scalar(c, fingerprint);

    cr_assert_eq(agg_migrate(c, &version, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(version, agg_migrate_latest());
    cr_assert_eq(pgtest_scalar(c, fingerprint), before);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM units"), 17);
    PQfinish(c);
}

Test(migrate_schema, migrate_command_prints_the_version_and_is_repeatable)
{
    char ci[512], args[700], out[256], err[512], expect[64];
    PGconn *c = pgtest_fresh_db("ct_mig_cli", ci, sizeof(ci));

    snprintf(args, sizeof(args), "migrate --db '%s'", ci);
    snprintf(expect, sizeof(expect), "schema version %d\n", agg_migrate_latest());
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out, expect);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out, expect);
    cr_assert_str_empty(err);
    PQfinish(c);
}

struct migrate_run {
    const char *conninfo;
    int rc, version;
    char err[512];
};

static void *migrate_thread(void *arg)
{
    struct migrate_run *r = arg;
    PGconn *conn = PQconnectdb(r->conninfo);

    r->rc = PQstatus(conn) == CONNECTION_OK ? agg_migrate(conn, &r->version, r->err, sizeof(r->err))
                                            : -1;
    PQfinish(conn);
    return NULL;
}

Test(migrate_schema, two_concurrent_runs_both_succeed)
{
    char ci[512];
    PGconn *c = pgtest_fresh_db("ct_mig_race", ci, sizeof(ci));

    for (int round = 0; round < 3; round++) {
        struct migrate_run runs[2] = {{ci, -1, 0, ""}, {ci, -1, 0, ""}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            cr_assert_eq(pthread_create(&t[i], NULL, migrate_thread, &runs[i]), 0);
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            cr_assert_eq(runs[i].rc, 0, "run %d: %s", i, runs[i].err);
            cr_assert_eq(runs[i].version, agg_migrate_latest());
        }
        if (round == 0)
            cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM units"), 17);
    }
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM schema_migrations"), embedded_migrations());
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets"), 35);
    PQfinish(c);
}

Test(migrate_schema, concurrent_migrate_commands_both_succeed)
{
    char ci[512], cmd[1200];
    PGconn *c = pgtest_fresh_db("ct_mig_race_cli", ci, sizeof(ci));
    const char *bin = getenv("CT_BIN_DIR");

    cr_assert(bin != NULL);
    snprintf(cmd, sizeof(cmd),
             "%s/citytally-aggregator migrate --db '%s' >/dev/null & a=$!;"
             " %s/citytally-aggregator migrate --db '%s' >/dev/null; b=$?; wait $a; a=$?;"
             " test $a -eq 0 && test $b -eq 0",
             bin, ci, bin, ci);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets"), 35);
    PQfinish(c);
}

Test(migrate_schema, refuses_a_schema_newer_than_it_knows)
{
    char ci[512], err[512];
    int version = 0;
    PGconn *c = store_db("ct_mig_newer", ci, sizeof(ci));

    pgtest_exec(c, "INSERT INTO schema_migrations (version, name) VALUES (999, '999_future.sql')");
    cr_assert_eq(agg_migrate(c, &version, err, sizeof(err)), -1);
    cr_assert(strstr(err, "version 999") != NULL, "%s", err);
    cr_assert_eq(PQtransactionStatus(c), PQTRANS_IDLE, "the failed run leaves no transaction");
    PQfinish(c);
}

Test(migrate_schema, connection_errors_never_show_the_password)
{
    char out[256], err[1024];

    cr_assert_eq(run_aggregator("migrate --db 'host=/nonexistent-dir user=x password=hunter2'", out,
                                sizeof(out), err, sizeof(err)),
                 1);
    cr_assert(strstr(err, "cannot connect to the database") != NULL, "%s", err);
    cr_assert_null(strstr(err, "hunter2"), "%s", err);
    cr_assert_eq(strchr(err, '\n'), strrchr(err, '\n'), "one line: %s", err);
}

Test(migrate_schema, schema_refuses_bad_rows_from_any_writer)
{
    char ci[512];
    PGconn *c = store_db("ct_mig_checks", ci, sizeof(ci));
    PGresult *res;

    res = PQexec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                    " observed_at) VALUES ('a', 1, 'erqi', 'x', 2015, 'mul', 1, now())");
    cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR, "op is set or add");
    PQclear(res);
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at) VALUES ('a', 1, 'erqi', 'x', 2015, 'set', 1, now())");
    res = PQexec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                    " observed_at) VALUES ('a', 1, 'erqi', 'x', 2015, 'set', 2, now())");
    cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR, "(agent_id, seq) is unique");
    PQclear(res);
    res = PQexec(c, "INSERT INTO agents (agent_id, district) VALUES ('a', 'atlantis')");
    cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR, "an agent's district must exist");
    PQclear(res);
    PQfinish(c);
}
