/*
 * test_agent_add_hello.c - an agent is welcomed the moment `agent add` returns (issue 19).
 *
 * The README says the daemon "picks it up at once". It learns of new agents from a NOTIFY
 * that travels separately from the collector's hello, so a hello sent right after
 * `agent add` could arrive first and be refused with unknown_agent. Here the real
 * `citytally-aggregator agent add` runs, and one hello follows at once, 200 times in a row:
 * every one must be welcomed on its first try.
 */
#include "aggtest.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define ROUNDS 200
#define REPLY_MS 10000

static struct aggtest agg;
static void *zctx;

static void setup(void)
{
    aggtest_start(&agg, "agent_add_hello");
    zctx = zmq_ctx_new();
    cr_assert_not_null(zctx);
}

static void teardown(void)
{
    aggtest_stop(&agg);
    zmq_ctx_term(zctx);
}

TestSuite(agent_add_hello, .init = setup, .fini = teardown, .timeout = 300);

Test(agent_add_hello, a_hello_right_after_agent_add_is_welcomed_two_hundred_times_in_a_row)
{
    char bin[512], id[32], out[1024], why[CT_WIRE_MAX_TEXT + 1];

    proc_bin("citytally-aggregator", bin, sizeof(bin));
    for (int round = 1; round <= ROUNDS; round++) {
        char *argv[] = {bin, "agent", "add", id, "--district", "erqi", "--db", agg.conninfo, NULL};
        struct wc_client *c;

        snprintf(id, sizeof(id), "erqi-%d", round);
        cr_assert_eq(proc_run(argv, out, sizeof(out)), 0, "agent add %s: %s", id, out);
        c = wc_new(zctx, agg.endpoint, id, "erqi", NULL, NULL, NULL);
        cr_assert_not_null(c);
        /* The verdict is read before the client goes, so a failure leaves no socket behind
         * to hold up zmq_ctx_term in the teardown. */
        bool replied = wc_send_hello(c, 1) == 0 && wc_recv(c, REPLY_MS) == 0;
        enum ct_msg_type type = replied ? c->reply->type : CT_MSG_ERROR;
        uint64_t last_seq = type == CT_MSG_WELCOME ? c->reply->welcome.last_seq : 0;
        snprintf(why, sizeof(why), "%s",
                 type == CT_MSG_ERROR && replied ? c->reply->error.msg : "");
        wc_free(c);
        cr_assert(replied, "round %d: no reply to hello", round);
        cr_assert_eq(type, CT_MSG_WELCOME, "round %d: %s refused: %s", round, id, why);
        cr_assert_eq(last_seq, 0, "round %d", round);
    }
}
