#include "wireexpect.h"

#include "proc.h"

#include <criterion/criterion.h>

void wc_expect_welcome(struct wc_client *c, uint64_t last_seq)
{
    long long deadline = proc_now_ms() + WC_REPLY_MS;

    do {
        cr_assert_eq(wc_send_hello(c, 1), 0);
        cr_assert_eq(wc_recv(c, WC_REPLY_MS), 0, "no reply to hello from %s", c->agent);
    } while (c->reply->type == CT_MSG_ERROR && c->reply->error.error == CT_WERR_UNKNOWN_AGENT &&
             proc_now_ms() < deadline);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME, "%s: got %s: %s", c->agent,
                 ct_msg_type_name(c->reply->type), c->reply->error.msg);
    cr_assert_eq(c->reply->welcome.last_seq, last_seq);
}

void wc_expect_ack(struct wc_client *c, uint64_t last_seq, size_t n_rejected)
{
    cr_assert_eq(wc_recv(c, WC_REPLY_MS), 0, "no ack for %s", c->agent);
    cr_assert_eq(c->reply->type, CT_MSG_ACK, "expected ack, got %s: %s",
                 ct_msg_type_name(c->reply->type), c->reply->error.msg);
    cr_assert_eq(c->reply->ack.last_seq, last_seq);
    cr_assert_eq(c->reply->ack.n_rejected, n_rejected);
}

void wc_expect_error(struct wc_client *c, enum ct_wire_error error, uint64_t last_seq)
{
    cr_assert_eq(wc_recv(c, WC_REPLY_MS), 0, "no reply for %s", c->agent);
    cr_assert_eq(c->reply->type, CT_MSG_ERROR, "expected error %s, got %s",
                 ct_wire_error_code(error), ct_msg_type_name(c->reply->type));
    cr_assert_str_eq(c->reply->error.code, ct_wire_error_code(error), "msg: %s",
                     c->reply->error.msg);
    cr_assert_eq(c->reply->error.last_seq, last_seq);
    cr_assert(c->reply->error.msg[0] != '\0', "error without a message");
}
