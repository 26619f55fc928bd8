/* test_signals.c - common/signals.c: the three daemon signals arrive on the descriptor. */
#include "signals.h"

#include <criterion/criterion.h>
#include <signal.h>

Test(signals, a_raised_signal_is_read_once_from_the_descriptor)
{
    struct ct_signals s;
    char err[256];

    cr_assert_eq(ct_signals_init(&s, err, sizeof(err)), 0, "%s", err);
    cr_assert_geq(s.fd, 0);
    cr_assert_eq(ct_signals_next(&s), 0, "nothing is pending yet");
    cr_assert_eq(raise(SIGHUP), 0); /* blocked, so it waits on the signalfd */
    cr_assert_eq(ct_signals_next(&s), SIGHUP);
    cr_assert_eq(ct_signals_next(&s), 0);
    ct_signals_release(&s);
    cr_assert_eq(s.fd, -1);
    cr_assert_eq(ct_signals_next(&s), 0, "a released struct reads nothing");
    ct_signals_release(&s); /* and may be released again */
}
