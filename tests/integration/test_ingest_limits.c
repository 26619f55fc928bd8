/*
 * test_ingest_limits.c - the largest message (CONTRACT section 3: 1 MiB) against the real
 * daemon: a frame one byte over it is answered `too_large` and logged, instead of libzmq
 * dropping the connection without a word; the connection then still works.
 */
#include "aggtest.h"
#include "pgtest.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct aggtest agg;

static void teardown(void)
{
    aggtest_stop(&agg);
}

TestSuite(limits, .fini = teardown, .timeout = 120);

Test(limits, a_frame_of_1_mib_plus_1_is_answered_too_large_and_logged)
{
    size_t len = CT_WIRE_MAX_MESSAGE + 1;
    char *frame = calloc(1, len);
    cr_assert_not_null(frame);
    aggtest_start(&agg, "limits_too_large");
    aggtest_add_agent(&agg, "a1", "erqi");
    struct wc_client *c = aggtest_client(&agg, "a1", "erqi", NULL, NULL, NULL);

    cr_assert_eq(wc_send_raw(c, frame, len), 0);
    free(frame);
    cr_assert_eq(wc_recv(c, 10000), 0, "no reply to a frame of 1 MiB + 1");
    cr_assert_eq(c->reply->type, CT_MSG_ERROR);
    cr_assert_eq(c->reply->error.error, CT_WERR_TOO_LARGE);
    cr_assert_str_eq(c->reply->error.code, "too_large");
    cr_assert_str_eq(c->reply->error.msg, "message of 1048577 bytes exceeds 1 MiB");
    cr_assert(proc_wait_log(&agg.proc, "too_large message: message of 1048577 bytes exceeds 1 MiB",
                            5000));

    /* The same connection goes on. */
    cr_assert_eq(wc_send_hello(c, 1), 0);
    cr_assert_eq(wc_recv(c, 10000), 0);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME);
}
