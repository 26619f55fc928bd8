/*
 * The ack's optional "warnings" key (CONTRACT section 10): golden bytes written by hand
 * from the msgpack specification, the decode of them, an ack without the key staying
 * byte for byte what it was, and a mistyped key refused as malformed.
 */
#include "wire.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

static struct ct_wire_encoder *enc;
static struct ct_msg *msg, *back;

static void setup(void)
{
    enc = ct_wire_encoder_new();
    msg = ct_msg_new();
    back = ct_msg_new();
    cr_assert(enc != NULL && msg != NULL && back != NULL);
}

static void teardown(void)
{
    ct_wire_encoder_free(enc);
    ct_msg_free(msg);
    ct_msg_free(back);
}

TestSuite(wire_warnings, .init = setup, .fini = teardown);

/* clang-format off */

/* {"v":1,"t":"ack","last_seq":9,"rejected":[],
 *  "warnings":[{"seq":9,"code":"unit_slip","msg":"10000x 2014"}]} */
static const char golden_warned_ack[] =
    "\x85"                               /* fixmap, 5 pairs */
    "\xa1" "v" "\x01"                    /* "v": 1 */
    "\xa1" "t" "\xa3" "ack"              /* "t": fixstr(3) "ack" */
    "\xa8" "last_seq" "\x09"             /* "last_seq": positive fixint 9 */
    "\xa8" "rejected" "\x90"             /* "rejected": fixarray, 0 items */
    "\xa8" "warnings" "\x91"             /* "warnings": fixarray, 1 item */
    "\x83"                               /* fixmap, 3 pairs */
    "\xa3" "seq" "\x09"                  /* "seq": 9 */
    "\xa4" "code" "\xa9" "unit_slip"     /* "code": fixstr(9) */
    "\xa3" "msg" "\xab" "10000x 2014";   /* "msg": fixstr(11) */

/* {"v":1,"t":"ack","last_seq":9,"rejected":[]}: no warnings, no key */
static const char golden_plain_ack[] =
    "\x84"                               /* fixmap, 4 pairs */
    "\xa1" "v" "\x01"
    "\xa1" "t" "\xa3" "ack"
    "\xa8" "last_seq" "\x09"
    "\xa8" "rejected" "\x90";

/* clang-format on */

#define GOLDEN_LEN(g) (sizeof(g) - 1)

static void build_ack(struct ct_msg *m, size_t n_warnings)
{
    m->type = CT_MSG_ACK;
    m->ack.last_seq = 9;
    m->ack.n_rejected = 0;
    cr_assert_eq(ct_msg_reserve_warnings(m, n_warnings), 0);
    m->ack.n_warnings = n_warnings;
    for (size_t i = 0; i < n_warnings; i++) {
        m->ack.warnings[i].seq = 9;
        strcpy(m->ack.warnings[i].code, "unit_slip");
        strcpy(m->ack.warnings[i].msg, "10000x 2014");
    }
}

static void assert_bytes(const void *got, size_t got_len, const char *want, size_t want_len)
{
    cr_assert_eq(got_len, want_len, "encoder wrote %zu bytes, golden frame has %zu", got_len,
                 want_len);
    cr_assert(memcmp(got, want, want_len) == 0, "encoder's bytes differ from the golden frame");
}

Test(wire_warnings, warned_ack_encodes_to_golden_bytes)
{
    const void *bytes;
    size_t len;

    build_ack(msg, 1);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    assert_bytes(bytes, len, golden_warned_ack, GOLDEN_LEN(golden_warned_ack));
}

Test(wire_warnings, ack_without_warnings_has_no_key)
{
    const void *bytes;
    size_t len;

    build_ack(msg, 0);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    assert_bytes(bytes, len, golden_plain_ack, GOLDEN_LEN(golden_plain_ack));
}

Test(wire_warnings, warned_ack_golden_bytes_decode)
{
    struct ct_wire_fault fault;

    cr_assert_eq(ct_wire_decode(golden_warned_ack, GOLDEN_LEN(golden_warned_ack), back, &fault), 0,
                 "%s", fault.msg);
    cr_assert_eq(back->type, CT_MSG_ACK);
    cr_assert_eq(back->ack.last_seq, 9);
    cr_assert_eq(back->ack.n_rejected, 0);
    cr_assert_eq(back->ack.n_warnings, 1);
    cr_assert_eq(back->ack.warnings[0].seq, 9);
    cr_assert_str_eq(back->ack.warnings[0].code, "unit_slip");
    cr_assert_str_eq(back->ack.warnings[0].msg, "10000x 2014");
}

Test(wire_warnings, a_reused_message_forgets_the_last_acks_warnings)
{
    struct ct_wire_fault fault;

    cr_assert_eq(ct_wire_decode(golden_warned_ack, GOLDEN_LEN(golden_warned_ack), back, &fault), 0);
    cr_assert_eq(back->ack.n_warnings, 1);
    cr_assert_eq(ct_wire_decode(golden_plain_ack, GOLDEN_LEN(golden_plain_ack), back, &fault), 0);
    cr_assert_eq(back->ack.n_warnings, 0);
}

/* An ack whose "warnings" value is `value_fn`'s, decoded: returns the fault. */
static struct ct_wire_fault decode_with(void (*value_fn)(msgpack_packer *pk))
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct ct_wire_fault fault;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "ack", 3);
    msgpack_pack_str_with_body(&pk, "last_seq", 8);
    msgpack_pack_uint64(&pk, 9);
    msgpack_pack_str_with_body(&pk, "rejected", 8);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "warnings", 8);
    value_fn(&pk);
    memset(&fault, 0, sizeof(fault));
    cr_assert_neq(ct_wire_decode(sb.data, sb.size, back, &fault), 0, "a bad warnings key decoded");
    msgpack_sbuffer_destroy(&sb);
    return fault;
}

static void not_an_array(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "x", 1);
}

static void entry_without_code(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 2);
    msgpack_pack_str_with_body(pk, "seq", 3);
    msgpack_pack_uint64(pk, 9);
    msgpack_pack_str_with_body(pk, "msg", 3);
    msgpack_pack_str_with_body(pk, "m", 1);
}

static void seq_not_an_integer(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 3);
    msgpack_pack_str_with_body(pk, "seq", 3);
    msgpack_pack_str_with_body(pk, "9", 1);
    msgpack_pack_str_with_body(pk, "code", 4);
    msgpack_pack_str_with_body(pk, "unit_slip", 9);
    msgpack_pack_str_with_body(pk, "msg", 3);
    msgpack_pack_str_with_body(pk, "m", 1);
}

Test(wire_warnings, warnings_that_are_not_an_array_are_malformed)
{
    struct ct_wire_fault f = decode_with(not_an_array);
    cr_assert_eq(f.error, CT_WERR_MALFORMED);
    cr_assert(strstr(f.msg, "warnings") != NULL, "%s", f.msg);
}

Test(wire_warnings, a_warning_without_code_is_malformed)
{
    struct ct_wire_fault f = decode_with(entry_without_code);
    cr_assert_eq(f.error, CT_WERR_MALFORMED);
    cr_assert(strstr(f.msg, "warnings[0]") != NULL && strstr(f.msg, "code") != NULL, "%s", f.msg);
}

Test(wire_warnings, a_warning_seq_that_is_text_is_malformed)
{
    struct ct_wire_fault f = decode_with(seq_not_an_integer);
    cr_assert_eq(f.error, CT_WERR_MALFORMED);
    cr_assert(strstr(f.msg, "warnings[0]") != NULL, "%s", f.msg);
}

Test(wire_warnings, too_many_warnings_do_not_encode)
{
    const void *bytes;
    size_t len;

    build_ack(msg, CT_WIRE_MAX_BATCH + 1);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
}
