/* test_transport_policy.c - common/transport_policy.c: when each end may start, and the
 * exact line that says why not (CONTRACT section 1). */
#include "curve_keys.h"
#include "transport_policy.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64], key_file[128], err[1024];

static void setup(void)
{
    char public_key[CT_CURVE_KEY_LEN + 1];

    snprintf(dir, sizeof(dir), "/tmp/ct_test_transport.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(key_file, sizeof(key_file), "%s/key", dir);
    cr_assert_eq(ct_curve_keygen(key_file, public_key, sizeof(public_key), err, sizeof(err)), 0,
                 "%s", err);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(transport_policy, .init = setup, .fini = teardown);

static int check(enum ct_transport_end end, const char *endpoint, const char *secret,
                 const char *peer, bool insecure)
{
    const struct ct_transport_policy policy = {
        .end = end,
        .endpoint = endpoint,
        .secret_key_file = secret,
        .peer_public_key = peer,
        .insecure = insecure,
    };

    err[0] = '\0';
    return ct_transport_check(&policy, err, sizeof(err));
}

Test(transport_policy, a_readable_key_pair_lets_either_end_start_anywhere)
{
    char public_file[160];

    snprintf(public_file, sizeof(public_file), "%s.pub", key_file);
    cr_assert_eq(check(CT_TRANSPORT_LISTEN, "tcp://0.0.0.0:5560", key_file, "", false), 0, "%s",
                 err);
    cr_assert_eq(check(CT_TRANSPORT_SEND, "tcp://10.1.2.3:5560", key_file, public_file, false), 0,
                 "%s", err);
}

Test(transport_policy, without_keys_or_insecure_each_end_says_what_to_give)
{
    cr_assert_eq(check(CT_TRANSPORT_LISTEN, "tcp://127.0.0.1:5560", "", "", false), -1);
    cr_assert_str_eq(err, "refusing to start without CURVE: give --server-key FILE (see keygen), "
                          "or --insecure to listen in plain text on a loopback address");
    cr_assert_eq(check(CT_TRANSPORT_SEND, "tcp://127.0.0.1:5560", "", "", false), -1);
    cr_assert_str_eq(err, "refusing to send without CURVE: give --key FILE and "
                          "--server-public-key KEY, or --insecure for plain text to a loopback "
                          "endpoint");
}

Test(transport_policy, insecure_is_allowed_on_loopback_only)
{
    cr_assert_eq(check(CT_TRANSPORT_LISTEN, "ipc:///tmp/x", "", "", true), 0, "%s", err);
    cr_assert_eq(check(CT_TRANSPORT_SEND, "tcp://127.0.0.1:5560", "", "", true), 0, "%s", err);
    cr_assert_eq(check(CT_TRANSPORT_LISTEN, "tcp://0.0.0.0:5560", "", "", true), -1);
    cr_assert_str_eq(err, "--insecure refuses to listen on tcp://0.0.0.0:5560: plain text is "
                          "allowed only on 127.0.0.0/8, ::1, ipc:// or inproc://");
    cr_assert_eq(check(CT_TRANSPORT_SEND, "tcp://10.1.2.3:5560", "", "", true), -1);
    cr_assert_str_eq(err, "--insecure refuses to send to tcp://10.1.2.3:5560: plain text is "
                          "allowed only to 127.0.0.0/8, ::1, ipc:// or inproc://");
}

Test(transport_policy, a_sender_needs_both_keys)
{
    cr_assert_eq(check(CT_TRANSPORT_SEND, "tcp://127.0.0.1:5560", key_file, "", true), -1);
    cr_assert_str_eq(err, "CURVE needs both --key (this agent's secret key file) and "
                          "--server-public-key (the aggregator's key)");
}

Test(transport_policy, an_unreadable_key_stops_the_start_with_its_flag_named)
{
    char missing[160], want[256];

    snprintf(missing, sizeof(missing), "%s/missing", dir);
    cr_assert_eq(check(CT_TRANSPORT_LISTEN, "tcp://127.0.0.1:5560", missing, "", true), -1);
    snprintf(want, sizeof(want), "--server-key: %s: No such file or directory", missing);
    cr_assert_str_eq(err, want);
    cr_assert_eq(check(CT_TRANSPORT_SEND, "tcp://127.0.0.1:5560", missing, "x", true), -1);
    cr_assert_str_eq(err, want + strlen("--server-key: "));
}
