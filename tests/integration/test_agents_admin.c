/* `agent add/list/remove`: one district per agent, keys in Z85 or zcert files, ids never
 * reused, and a NOTIFY for the running daemon. */
#include "agents.h"
#include "store_fixture.h"

#include <sys/select.h>
#include <unistd.h>

#define KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY_B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

Test(agents_admin, add_list_and_remove_an_agent)
{
    char ci[512], args[1024], out[4096], err[1024];
    PGconn *c = store_db("ct_agents_cycle", ci, sizeof(ci));

    snprintf(args, sizeof(args), "agent add erqi-1 --district erqi --key '%s' --db '%s'", KEY_A,
             ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out, "agent erqi-1 added for erqi with its CURVE key\n");
    snprintf(args, sizeof(args), "agent add city-1 --district city --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    snprintf(args, sizeof(args), "agent list --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, "AGENT ") == out, "%s", out);
    cr_assert(strstr(out, "erqi-1  erqi      " KEY_A) != NULL, "%s", out);
    cr_assert(strstr(out, "city-1  city      -") != NULL, "%s", out);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM agents WHERE revoked_at IS NULL"), 2);

    snprintf(args, sizeof(args), "agent remove erqi-1 --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out, "agent erqi-1 removed\n");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM agents WHERE agent_id = 'erqi-1'"
                                  " AND revoked_at IS NOT NULL"),
                 1, "a removed agent keeps its row");
    snprintf(args, sizeof(args), "agent list --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, "removed 20") != NULL, "%s", out);
    PQfinish(c);
}

Test(agents_admin, add_refuses_unknown_district_duplicate_and_reused_ids)
{
    char ci[512], args[1024], out[1024], err[1024];
    PGconn *c = store_db("ct_agents_refuse", ci, sizeof(ci));

    snprintf(args, sizeof(args), "agent add a1 --district atlantis --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, "unknown district 'atlantis'") != NULL, "%s", err);

    snprintf(args, sizeof(args), "agent add a1 --district erqi --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    snprintf(args, sizeof(args), "agent add a1 --district jinshui --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert_str_eq(err, "citytally-aggregator agent: agent 'a1' already exists (district "
                          "erqi)\n");

    snprintf(args, sizeof(args), "agent remove a1 --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, "agent 'a1' is already removed") != NULL, "%s", err);
    snprintf(args, sizeof(args), "agent add a1 --district erqi --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, "a removed id is never reused") != NULL, "%s", err);

    snprintf(args, sizeof(args), "agent remove ghost --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, "unknown agent 'ghost'") != NULL, "%s", err);

    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM agents"), 1);
    PQfinish(c);
}

/* A malformed id is a usage error (exit 2, CONTRACT section 1), not a runtime failure. */
Test(agents_admin, malformed_ids_are_usage_errors_with_one_line)
{
    char ci[512], args[1024], out[1024], err[1024];
    PGconn *c = store_db("ct_agents_badid", ci, sizeof(ci));

    snprintf(args, sizeof(args), "agent add 'Bad Id!' --district erqi --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2, "%s", err);
    cr_assert_str_eq(err, "citytally-aggregator agent: 'Bad Id!' is not a valid agent id "
                          "([a-z0-9_-], 1-64 bytes)\n");
    snprintf(args, sizeof(args), "agent remove 'Bad Id!' --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2, "%s", err);
    snprintf(args, sizeof(args), "agent add a1 --district 'Er Qi' --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2, "%s", err);
    cr_assert_str_eq(err, "citytally-aggregator agent: 'Er Qi' is not a valid district id "
                          "([a-z0-9_-], 1-64 bytes)\n");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM agents"), 0);
    PQfinish(c);
}

/* CONTRACT section 1: every aggregator subcommand takes --db, keygen too. */
Test(agents_admin, keygen_takes_db_like_every_subcommand)
{
    char ci[512], args[1024], out[1024], err[1024], key[128], pub[160];
    PGconn *c = store_db("ct_agents_keygen", ci, sizeof(ci));

    snprintf(key, sizeof(key), "/tmp/ct-keygen-db-%d.key", (int)getpid());
    snprintf(pub, sizeof(pub), "%s.pub", key);
    unlink(key);
    unlink(pub);
    snprintf(args, sizeof(args), "keygen %s --db '%s'", key, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, "secret key: ") == out, "%s", out);
    cr_assert_eq(access(key, R_OK), 0);
    cr_assert_eq(access(pub, R_OK), 0);
    snprintf(args, sizeof(args), "keygen %s.2 --no-such-flag", key);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2);
    cr_assert(strstr(err, "unknown option '--no-such-flag'") != NULL, "%s", err);
    unlink(key);
    unlink(pub);
    PQfinish(c);
}

Test(agents_admin, keys_are_z85_or_zcert_public_files)
{
    char ci[512], args[1024], out[1024], err[1024];
    const char *pub = "/tmp/ct-agent-key.pub", *secret = "/tmp/ct-agent-key";
    PGconn *c = store_db("ct_agents_keys", ci, sizeof(ci));
    FILE *f = fopen(pub, "w");

    fprintf(f,
            "#   ****  Generated by citytally  ****\n#   ZeroMQ CURVE Public Certificate\n"
            "metadata\n    name = \"erqi\"\ncurve\n    public-key = \"%s\"\n",
            KEY_B);
    fclose(f);
    f = fopen(secret, "w");
    fprintf(f, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", KEY_B, KEY_A);
    fclose(f);

    snprintf(args, sizeof(args), "agent add k1 --district erqi --key %s --db '%s'", pub, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM agents WHERE public_key = '" KEY_B "'"), 1);
    snprintf(args, sizeof(args), "agent add k2 --district erqi --key '%s' --db '%s'", KEY_B, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, "already registered to agent 'k1'") != NULL, "%s", err);
    snprintf(args, sizeof(args), "agent add k3 --district erqi --key %s --db '%s'", secret, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2);
    cr_assert(strstr(err, "holds a secret key") != NULL, "%s", err);
    snprintf(args, sizeof(args), "agent add k4 --district erqi --key 'short~key' --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2);
    cr_assert(strstr(err, "neither a 40-character Z85 public key nor a readable key file") != NULL,
              "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM agents"), 1);

    cr_assert(agg_z85_key_valid(KEY_A));
    cr_assert_not(agg_z85_key_valid(KEY_A "x"));
    cr_assert_not(agg_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""));
    unlink(pub);
    unlink(secret);
    PQfinish(c);
}

Test(agents_admin, add_and_remove_notify_the_daemon)
{
    char ci[512], err[512];
    PGconn *c = store_db("ct_agents_notify", ci, sizeof(ci));
    PGconn *admin = PQconnectdb(ci);
    PGnotify *n;
    int got = 0;

    cr_assert_eq(PQstatus(admin), CONNECTION_OK);
    pgtest_exec(c, "LISTEN citytally_agents");
    cr_assert_eq(agg_agent_add(admin, "n1", "erqi", NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(agg_agent_remove(admin, "n1", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(agg_agent_add(admin, "n2", "nowhere", NULL, err, sizeof(err)), -1);
    /* wait (bounded) for both notices on the listening connection */
    for (int tries = 0; tries < 50 && got < 2; tries++) {
        fd_set fds;
        struct timeval tv = {0, 100000};
        FD_ZERO(&fds);
        FD_SET(PQsocket(c), &fds);
        select(PQsocket(c) + 1, &fds, NULL, NULL, &tv);
        cr_assert_eq(PQconsumeInput(c), 1);
        while ((n = PQnotifies(c)) != NULL) {
            cr_assert_str_eq(n->relname, "citytally_agents");
            cr_assert_str_eq(n->extra, "n1");
            got++;
            PQfreemem(n);
        }
    }
    cr_assert_eq(got, 2, "one notice per committed change, none for the refused add");
    PQfinish(admin);
    PQfinish(c);
}
