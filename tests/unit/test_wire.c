/*
 * test_wire.c - common/wire_encode.c and wire_decode.c: golden bytes and round trips of every
 * protocol v1 message.
 *
 * The golden frames below were written by hand from the msgpack specification
 * (https://github.com/msgpack/msgpack/blob/master/spec.md), not captured from the encoder:
 * each run of bytes carries a comment saying which msgpack format it is. The encoder must
 * produce exactly these bytes, and the decoder must read them back into the expected
 * struct, so an independent client written from CONTRACT section 3 interoperates.
 *
 * Malformed frames are in test_wire_malformed.c.
 */
#include "csv.h"
#include "wire.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

TestSuite(wire, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ helpers */

static void assert_bytes(const void *got, size_t got_len, const char *want, size_t want_len)
{
    const unsigned char *g = got, *w = (const unsigned char *)want;
    size_t n = got_len < want_len ? got_len : want_len;

    for (size_t i = 0; i < n; i++)
        cr_assert_eq(g[i], w[i], "byte %zu: encoder wrote 0x%02x, golden frame has 0x%02x", i, g[i],
                     w[i]);
    cr_assert_eq(got_len, want_len, "encoder wrote %zu bytes, golden frame has %zu", got_len,
                 want_len);
}

static void encode_ok(const struct ct_msg *m, const void **bytes, size_t *len)
{
    cr_assert_eq(ct_wire_encode(enc, m, bytes, len), 0, "encoding a valid %s failed",
                 ct_msg_type_name(m->type));
}

static void decode_ok(const void *bytes, size_t len, struct ct_msg *out)
{
    struct ct_wire_fault fault;
    int rc = ct_wire_decode(bytes, len, out, &fault);
    cr_assert_eq(rc, 0, "decode failed: %s (%s)", fault.msg, ct_wire_error_code(fault.error));
    cr_assert_eq(fault.error, CT_WERR_NONE);
}

static void round_trip(const struct ct_msg *m, struct ct_msg *out)
{
    const void *bytes;
    size_t len;

    encode_ok(m, &bytes, &len);
    decode_ok(bytes, len, out);
    cr_assert_eq(out->type, m->type);
}

static void assert_value_eq(const struct ct_value *got, const struct ct_value *want)
{
    cr_assert_eq(got->kind, want->kind);
    switch (want->kind) {
    case CT_VALUE_INT:
        cr_assert_eq(got->as.i, want->as.i);
        break;
    case CT_VALUE_UINT:
        cr_assert_eq(got->as.u, want->as.u);
        break;
    case CT_VALUE_FLOAT:
        /* bit-exact, so -0.0 and the last ulp count */
        cr_assert_eq(memcmp(&got->as.f, &want->as.f, sizeof(double)), 0, "%.17g != %.17g",
                     got->as.f, want->as.f);
        break;
    }
}

static void assert_update_eq(const struct ct_update *got, const struct ct_update *want)
{
    cr_assert_eq(got->seq, want->seq);
    cr_assert_str_eq(got->ind, want->ind);
    cr_assert_eq(got->period, want->period);
    cr_assert_eq(got->op, want->op);
    assert_value_eq(&got->value, &want->value);
    cr_assert_eq(got->at_ms, want->at_ms);
    cr_assert_eq(got->has_note, want->has_note);
    if (want->has_note)
        cr_assert_str_eq(got->note, want->note);
    cr_assert_eq(got->fault, CT_REJECT_NONE, "update %llu: unexpected fault %s",
                 (unsigned long long)got->seq, ct_reject_code(got->fault));
}

static struct ct_update *add_update(struct ct_msg *m, uint64_t seq, const char *ind, enum ct_op op,
                                    struct ct_value value, int64_t at_ms, const char *note)
{
    struct ct_update *u;

    cr_assert_eq(ct_msg_reserve(m, CT_MSG_BATCH, m->batch.n_updates + 1), 0);
    u = &m->batch.updates[m->batch.n_updates++];
    memset(u, 0, sizeof(*u));
    u->seq = seq;
    ct_strlcpy(u->ind, ind, sizeof(u->ind));
    u->period = 2015;
    u->op = op;
    u->value = value;
    u->at_ms = at_ms;
    if (note != NULL) {
        u->has_note = true;
        ct_strlcpy(u->note, note, sizeof(u->note));
    }
    return u;
}

static struct ct_value int_value(int64_t i)
{
    struct ct_value v = {.kind = CT_VALUE_INT, .as.i = i};
    return v;
}

static struct ct_value uint_value(uint64_t u)
{
    struct ct_value v = {.kind = CT_VALUE_UINT, .as.u = u};
    return v;
}

static struct ct_value float_value(double f)
{
    struct ct_value v = {.kind = CT_VALUE_FLOAT, .as.f = f};
    return v;
}

static void start_batch(struct ct_msg *m, const char *agent, const char *district)
{
    m->type = CT_MSG_BATCH;
    ct_strlcpy(m->batch.agent, agent, sizeof(m->batch.agent));
    ct_strlcpy(m->batch.district, district, sizeof(m->batch.district));
    m->batch.n_updates = 0;
}

static void add_catalog(struct ct_msg *m, const char *code, const char *name_zh,
                        const char *reported_by)
{
    struct ct_catalog_entry *e;

    cr_assert_eq(ct_msg_reserve(m, CT_MSG_WELCOME, m->welcome.n_catalog + 1), 0);
    e = &m->welcome.catalog[m->welcome.n_catalog++];
    ct_strlcpy(e->code, code, sizeof(e->code));
    ct_strlcpy(e->name_zh, name_zh, sizeof(e->name_zh));
    ct_strlcpy(e->reported_by, reported_by, sizeof(e->reported_by));
}

static void add_rejection(struct ct_msg *m, uint64_t seq, const char *code, const char *text)
{
    struct ct_rejection *r;

    cr_assert_eq(ct_msg_reserve(m, CT_MSG_ACK, m->ack.n_rejected + 1), 0);
    r = &m->ack.rejected[m->ack.n_rejected++];
    r->seq = seq;
    ct_strlcpy(r->code, code, sizeof(r->code));
    ct_strlcpy(r->msg, text, sizeof(r->msg));
}

/* 2015-06-30T18:00:00+08:00 = 2015-06-30T10:00:00Z = 1435658400 s = 0x0000014e43e8b100 ms */
#define AT_2015_06_30_18H 1435658400000LL

/* ------------------------------------------------------------------ golden frames */

/* Each line is one key and its value: the format byte(s), then the payload. A string
 * literal is closed after every \x escape that a hex-looking letter follows. */
/* clang-format off */

/* {"v":1,"t":"hello","agent":"erqi-01","district":"erqi","next_seq":300} */
static const char golden_hello[] =
    "\x85"                               /* fixmap, 5 pairs */
    "\xa1" "v" "\x01"                    /* fixstr(1) "v": positive fixint 1 */
    "\xa1" "t" "\xa5" "hello"            /* "t": fixstr(5) "hello" */
    "\xa5" "agent" "\xa7" "erqi-01"      /* fixstr(5) "agent": fixstr(7) "erqi-01" */
    "\xa8" "district" "\xa4" "erqi"      /* fixstr(8) "district": fixstr(4) "erqi" */
    "\xa8" "next_seq" "\xcd\x01\x2c";    /* fixstr(8) "next_seq": uint16 0x012c = 300 */

/* {"v":1,"t":"batch","agent":"erqi-01","district":"erqi","updates":[
 *   {"seq":7,"ind":"hightech_output","period":2015,"op":"add","value":6.8,
 *    "at":1435658400000,"note":"Q2"},
 *   {"seq":8,"ind":"st_enterprises","period":2015,"op":"set","value":-3,"at":1435658400000}]} */
static const char golden_batch[] =
    "\x85"                               /* fixmap, 5 pairs */
    "\xa1" "v" "\x01"                    /* "v": 1 */
    "\xa1" "t" "\xa5" "batch"            /* "t": fixstr(5) "batch" */
    "\xa5" "agent" "\xa7" "erqi-01"      /* "agent": fixstr(7) */
    "\xa8" "district" "\xa4" "erqi"      /* "district": fixstr(4) */
    "\xa7" "updates" "\x92"              /* fixstr(7) "updates": fixarray, 2 items */
    /* update 1 */
    "\x87"                               /* fixmap, 7 pairs */
    "\xa3" "seq" "\x07"                  /* "seq": positive fixint 7 */
    "\xa3" "ind" "\xaf" "hightech_output" /* "ind": fixstr(15) */
    "\xa6" "period" "\xcd\x07\xdf"       /* "period": uint16 0x07df = 2015 */
    "\xa2" "op" "\xa3" "add"             /* "op": fixstr(3) "add" */
    "\xa5" "value" "\xcb"                /* "value": float64, IEEE 754 big-endian: */
    "\x40\x1b\x33\x33\x33\x33\x33\x33"   /*   6.8 = 0x401b333333333333 */
    "\xa2" "at" "\xcf"                   /* "at": uint64 (over 2^32): */
    "\x00\x00\x01\x4e\x43\xe8\xb1\x00"   /*   0x0000014e43e8b100 = 1435658400000 */
    "\xa4" "note" "\xa2" "Q2"            /* "note": fixstr(2) "Q2" */
    /* update 2: no note */
    "\x86"                               /* fixmap, 6 pairs */
    "\xa3" "seq" "\x08"                  /* "seq": 8 */
    "\xa3" "ind" "\xae" "st_enterprises" /* "ind": fixstr(14) */
    "\xa6" "period" "\xcd\x07\xdf"       /* "period": uint16 2015 */
    "\xa2" "op" "\xa3" "set"             /* "op": fixstr(3) "set" */
    "\xa5" "value" "\xfd"                /* "value": negative fixint 0xfd = -3 */
    "\xa2" "at" "\xcf"                   /* "at": uint64 */
    "\x00\x00\x01\x4e\x43\xe8\xb1\x00";  /*   1435658400000 */

/* {"v":1,"t":"welcome","last_seq":70000,"catalog":[
 *   {"code":"hightech_output","name_zh":"高新技术产业产值","reported_by":"district"}]} */
static const char golden_welcome[] =
    "\x84"                               /* fixmap, 4 pairs */
    "\xa1" "v" "\x01"                    /* "v": 1 */
    "\xa1" "t" "\xa7" "welcome"          /* "t": fixstr(7) "welcome" */
    "\xa8" "last_seq" "\xce\x00\x01\x11\x70" /* "last_seq": uint32 0x00011170 = 70000 */
    "\xa7" "catalog" "\x91"              /* "catalog": fixarray, 1 item */
    "\x83"                               /* fixmap, 3 pairs */
    "\xa4" "code" "\xaf" "hightech_output" /* "code": fixstr(15) */
    "\xa7" "name_zh" "\xb8"              /* "name_zh": fixstr(24), 8 characters of UTF-8: */
    "\xe9\xab\x98" "\xe6\x96\xb0"        /*   高 U+9AD8, 新 U+65B0 */
    "\xe6\x8a\x80" "\xe6\x9c\xaf"        /*   技 U+6280, 术 U+672F */
    "\xe4\xba\xa7" "\xe4\xb8\x9a"        /*   产 U+4EA7, 业 U+4E1A */
    "\xe4\xba\xa7" "\xe5\x80\xbc"        /*   产 U+4EA7, 值 U+503C */
    "\xab" "reported_by" "\xa8" "district"; /* fixstr(11) "reported_by": fixstr(8) */

/* {"v":1,"t":"ack","last_seq":8,"rejected":[
 *   {"seq":8,"code":"bad_period","msg":"period is not a year in 2000..2100"}]} */
static const char golden_ack[] =
    "\x84"                               /* fixmap, 4 pairs */
    "\xa1" "v" "\x01"                    /* "v": 1 */
    "\xa1" "t" "\xa3" "ack"              /* "t": fixstr(3) "ack" */
    "\xa8" "last_seq" "\x08"             /* "last_seq": positive fixint 8 */
    "\xa8" "rejected" "\x91"             /* "rejected": fixarray, 1 item */
    "\x83"                               /* fixmap, 3 pairs */
    "\xa3" "seq" "\x08"                  /* "seq": 8 */
    "\xa4" "code" "\xaa" "bad_period"    /* "code": fixstr(10) */
    "\xa3" "msg" "\xd9\x22"              /* "msg": str8, 0x22 = 34 bytes (over fixstr's 31) */
    "period is not a year in 2000..2100";

/* {"v":1,"t":"error","code":"seq_gap","msg":"expected seq 5","last_seq":4} */
static const char golden_error[] =
    "\x85"                               /* fixmap, 5 pairs */
    "\xa1" "v" "\x01"                    /* "v": 1 */
    "\xa1" "t" "\xa5" "error"            /* "t": fixstr(5) "error" */
    "\xa4" "code" "\xa7" "seq_gap"       /* "code": fixstr(7) */
    "\xa3" "msg" "\xae" "expected seq 5" /* "msg": fixstr(14) */
    "\xa8" "last_seq" "\x04";            /* "last_seq": positive fixint 4 */

/* clang-format on */

#define GOLDEN_LEN(g) (sizeof(g) - 1) /* minus the literal's NUL */

static void build_golden_hello(struct ct_msg *m)
{
    m->type = CT_MSG_HELLO;
    ct_strlcpy(m->hello.agent, "erqi-01", sizeof(m->hello.agent));
    ct_strlcpy(m->hello.district, "erqi", sizeof(m->hello.district));
    m->hello.next_seq = 300;
}

static void build_golden_batch(struct ct_msg *m)
{
    start_batch(m, "erqi-01", "erqi");
    add_update(m, 7, "hightech_output", CT_OP_ADD, float_value(6.8), AT_2015_06_30_18H, "Q2");
    add_update(m, 8, "st_enterprises", CT_OP_SET, int_value(-3), AT_2015_06_30_18H, NULL);
}

static void build_golden_welcome(struct ct_msg *m)
{
    m->type = CT_MSG_WELCOME;
    m->welcome.last_seq = 70000;
    m->welcome.n_catalog = 0;
    add_catalog(m, "hightech_output", "高新技术产业产值", "district");
}

static void build_golden_ack(struct ct_msg *m)
{
    m->type = CT_MSG_ACK;
    m->ack.last_seq = 8;
    m->ack.n_rejected = 0;
    add_rejection(m, 8, "bad_period", "period is not a year in 2000..2100");
}

static void build_golden_error(struct ct_msg *m)
{
    m->type = CT_MSG_ERROR;
    m->error.error = CT_WERR_SEQ_GAP;
    ct_strlcpy(m->error.code, "seq_gap", sizeof(m->error.code));
    ct_strlcpy(m->error.msg, "expected seq 5", sizeof(m->error.msg));
    m->error.last_seq = 4;
}

Test(wire, hello_encodes_to_golden_bytes)
{
    const void *bytes;
    size_t len;

    build_golden_hello(msg);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_hello, GOLDEN_LEN(golden_hello));
}

Test(wire, hello_golden_bytes_decode)
{
    decode_ok(golden_hello, GOLDEN_LEN(golden_hello), back);
    cr_assert_eq(back->type, CT_MSG_HELLO);
    cr_assert_str_eq(back->hello.agent, "erqi-01");
    cr_assert_str_eq(back->hello.district, "erqi");
    cr_assert_eq(back->hello.next_seq, 300);
}

/* {"v":1,"t":"hello","agent":"erqi-01","district":"erqi","next_seq":300,"instance":"3f9a"} */
/* clang-format off */
static const char golden_hello_instance[] =
    "\x86"                               /* fixmap, 6 pairs */
    "\xa1" "v" "\x01"
    "\xa1" "t" "\xa5" "hello"
    "\xa5" "agent" "\xa7" "erqi-01"
    "\xa8" "district" "\xa4" "erqi"
    "\xa8" "next_seq" "\xcd\x01\x2c"
    "\xa8" "instance" "\xa4" "3f9a";     /* fixstr(8) "instance": fixstr(4) "3f9a" */
/* clang-format on */

Test(wire, hello_with_an_instance_encodes_to_golden_bytes_and_decodes)
{
    const void *bytes;
    size_t len;

    build_golden_hello(msg);
    ct_strlcpy(msg->hello.instance, "3f9a", sizeof(msg->hello.instance));
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_hello_instance, GOLDEN_LEN(golden_hello_instance));
    decode_ok(golden_hello_instance, GOLDEN_LEN(golden_hello_instance), back);
    cr_assert_str_eq(back->hello.instance, "3f9a");
    cr_assert_eq(back->hello.next_seq, 300);
}

Test(wire, hello_without_an_instance_decodes_with_an_empty_one)
{
    /* The message object is reused: an instance from the last hello must not linger. */
    ct_strlcpy(back->hello.instance, "stale", sizeof(back->hello.instance));
    decode_ok(golden_hello, GOLDEN_LEN(golden_hello), back);
    cr_assert_str_eq(back->hello.instance, "");
}

Test(wire, hello_with_an_instance_that_is_not_an_id_is_malformed)
{
    /* clang-format off */
    static const char frame[] =
        "\x86"
        "\xa1" "v" "\x01"
        "\xa1" "t" "\xa5" "hello"
        "\xa5" "agent" "\xa1" "a"
        "\xa8" "district" "\xa4" "erqi"
        "\xa8" "next_seq" "\x01"
        "\xa8" "instance" "\xa3" "A B";
    static const char number[] =
        "\x86"
        "\xa1" "v" "\x01"
        "\xa1" "t" "\xa5" "hello"
        "\xa5" "agent" "\xa1" "a"
        "\xa8" "district" "\xa4" "erqi"
        "\xa8" "next_seq" "\x01"
        "\xa8" "instance" "\x07";
    /* clang-format on */
    struct ct_wire_fault fault;

    cr_assert_eq(ct_wire_decode(frame, GOLDEN_LEN(frame), back, &fault), -1);
    cr_assert_eq(fault.error, CT_WERR_MALFORMED);
    cr_assert_str_eq(fault.msg, "hello.instance: not an id (1-64 bytes of a-z, 0-9, '_', '-')");
    cr_assert_eq(ct_wire_decode(number, GOLDEN_LEN(number), back, &fault), -1);
    cr_assert_str_eq(fault.msg, "hello.instance: not a string");
}

Test(wire, batch_encodes_to_golden_bytes)
{
    const void *bytes;
    size_t len;

    build_golden_batch(msg);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_batch, GOLDEN_LEN(golden_batch));
}

Test(wire, batch_golden_bytes_decode)
{
    decode_ok(golden_batch, GOLDEN_LEN(golden_batch), back);
    cr_assert_eq(back->type, CT_MSG_BATCH);
    cr_assert_str_eq(back->batch.agent, "erqi-01");
    cr_assert_str_eq(back->batch.district, "erqi");
    cr_assert_eq(back->batch.n_updates, 2);

    const struct ct_update *u = &back->batch.updates[0];
    cr_assert_eq(u->seq, 7);
    cr_assert_str_eq(u->ind, "hightech_output");
    cr_assert_eq(u->period, 2015);
    cr_assert_eq(u->op, CT_OP_ADD);
    cr_assert_eq(u->value.kind, CT_VALUE_FLOAT);
    cr_assert_eq(u->value.as.f, 6.8);
    cr_assert_eq(u->at_ms, AT_2015_06_30_18H);
    cr_assert(u->has_note);
    cr_assert_str_eq(u->note, "Q2");
    cr_assert_eq(u->fault, CT_REJECT_NONE);
    cr_assert_null(u->fault_msg);

    u = &back->batch.updates[1];
    cr_assert_eq(u->seq, 8);
    cr_assert_str_eq(u->ind, "st_enterprises");
    cr_assert_eq(u->period, 2015);
    cr_assert_eq(u->op, CT_OP_SET);
    cr_assert_eq(u->value.kind, CT_VALUE_INT);
    cr_assert_eq(u->value.as.i, -3);
    cr_assert_eq(u->at_ms, AT_2015_06_30_18H);
    cr_assert_not(u->has_note);
    cr_assert_str_eq(u->note, "");
    cr_assert_eq(u->fault, CT_REJECT_NONE);
}

Test(wire, welcome_encodes_to_golden_bytes)
{
    const void *bytes;
    size_t len;

    build_golden_welcome(msg);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_welcome, GOLDEN_LEN(golden_welcome));
}

Test(wire, welcome_golden_bytes_decode)
{
    decode_ok(golden_welcome, GOLDEN_LEN(golden_welcome), back);
    cr_assert_eq(back->type, CT_MSG_WELCOME);
    cr_assert_eq(back->welcome.last_seq, 70000);
    cr_assert_eq(back->welcome.n_catalog, 1);
    cr_assert_str_eq(back->welcome.catalog[0].code, "hightech_output");
    cr_assert_str_eq(back->welcome.catalog[0].name_zh, "高新技术产业产值");
    cr_assert_str_eq(back->welcome.catalog[0].reported_by, "district");
}

Test(wire, ack_encodes_to_golden_bytes)
{
    const void *bytes;
    size_t len;

    build_golden_ack(msg);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_ack, GOLDEN_LEN(golden_ack));
}

Test(wire, ack_golden_bytes_decode)
{
    decode_ok(golden_ack, GOLDEN_LEN(golden_ack), back);
    cr_assert_eq(back->type, CT_MSG_ACK);
    cr_assert_eq(back->ack.last_seq, 8);
    cr_assert_eq(back->ack.n_rejected, 1);
    cr_assert_eq(back->ack.rejected[0].seq, 8);
    cr_assert_str_eq(back->ack.rejected[0].code, "bad_period");
    cr_assert_str_eq(back->ack.rejected[0].msg, "period is not a year in 2000..2100");
}

Test(wire, error_encodes_to_golden_bytes)
{
    const void *bytes;
    size_t len;

    build_golden_error(msg);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_error, GOLDEN_LEN(golden_error));
}

Test(wire, error_golden_bytes_decode)
{
    decode_ok(golden_error, GOLDEN_LEN(golden_error), back);
    cr_assert_eq(back->type, CT_MSG_ERROR);
    cr_assert_eq(back->error.error, CT_WERR_SEQ_GAP);
    cr_assert_str_eq(back->error.code, "seq_gap");
    cr_assert_str_eq(back->error.msg, "expected seq 5");
    cr_assert_eq(back->error.last_seq, 4);
}

Test(wire, error_code_comes_from_the_enum_when_text_is_empty)
{
    const void *bytes;
    size_t len;

    build_golden_error(msg);
    msg->error.code[0] = '\0'; /* CT_WERR_SEQ_GAP alone must give the same frame */
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_error, GOLDEN_LEN(golden_error));
}

Test(wire, keys_in_any_order_and_unknown_keys_decode)
{
    /* {"next_seq":1,"x-extra":[1,{"a":nil}],"district":"erqi","t":"hello","agent":"a","v":1} */
    /* clang-format off */
    static const char frame[] =
        "\x86"                                 /* fixmap, 6 pairs */
        "\xa8" "next_seq" "\x01"
        "\xa7" "x-extra" "\x92" "\x01" "\x81" /* unknown key: [1, {"a": nil}] */
            "\xa1" "a" "\xc0"
        "\xa8" "district" "\xa4" "erqi"
        "\xa1" "t" "\xa5" "hello"
        "\xa5" "agent" "\xa1" "a"
        "\xa1" "v" "\x01";
    /* clang-format on */

    decode_ok(frame, GOLDEN_LEN(frame), back);
    cr_assert_eq(back->type, CT_MSG_HELLO);
    cr_assert_str_eq(back->hello.agent, "a");
    cr_assert_str_eq(back->hello.district, "erqi");
    cr_assert_eq(back->hello.next_seq, 1);
}

Test(wire, wider_encodings_of_the_same_numbers_decode)
{
    /* Another encoder may use uint64 for 1 and str8 for short text; both are valid msgpack. */
    /* clang-format off */
    static const char frame[] =
        "\x85"                                        /* fixmap, 5 pairs */
        "\xa1" "v" "\xcf\x00\x00\x00\x00\x00\x00\x00\x01" /* "v": uint64 1 */
        "\xd9\x01" "t" "\xda\x00\x05" "hello"        /* str8 "t": str16 "hello" */
        "\xa5" "agent" "\xdb\x00\x00\x00\x01" "a"   /* "agent": str32 "a" */
        "\xa8" "district" "\xa4" "erqi"
        "\xa8" "next_seq" "\xd3\x00\x00\x00\x00\x00\x00\x00\x05"; /* int64 5 */
    /* clang-format on */
    struct ct_wire_fault fault;
    int rc = ct_wire_decode(frame, GOLDEN_LEN(frame), back, &fault);
    /* msgpack-c reads a non-negative int64 as a positive integer, so it is accepted. */
    cr_assert_eq(rc, 0, "%s", fault.msg);
    cr_assert_eq(back->hello.next_seq, 5);
}

/* ------------------------------------------------------------------ round trips */

Test(wire, hello_round_trips)
{
    msg->type = CT_MSG_HELLO;
    ct_strlcpy(msg->hello.agent, "zhengdong-new-district_agent-0001", sizeof(msg->hello.agent));
    ct_strlcpy(msg->hello.district, "zhengdong", sizeof(msg->hello.district));
    msg->hello.next_seq = UINT64_MAX;
    round_trip(msg, back);
    cr_assert_str_eq(back->hello.agent, msg->hello.agent);
    cr_assert_str_eq(back->hello.district, "zhengdong");
    cr_assert_eq(back->hello.next_seq, UINT64_MAX);
}

Test(wire, hello_with_64_byte_ids_round_trips)
{
    char id[CT_ID_MAX + 1];

    memset(id, 'a', CT_ID_MAX);
    id[CT_ID_MAX] = '\0';
    msg->type = CT_MSG_HELLO;
    ct_strlcpy(msg->hello.agent, id, sizeof(msg->hello.agent));
    ct_strlcpy(msg->hello.district, id, sizeof(msg->hello.district));
    msg->hello.next_seq = 1;
    round_trip(msg, back);
    cr_assert_str_eq(back->hello.agent, id);
    cr_assert_str_eq(back->hello.district, id);
}

Test(wire, batch_with_and_without_notes_round_trips)
{
    start_batch(msg, "jinshui-1", "jinshui");
    add_update(msg, 41, "st_enterprises", CT_OP_SET, int_value(120), AT_2015_06_30_18H,
               "第二季度 figures, revised");
    add_update(msg, 42, "hightech_output", CT_OP_ADD, float_value(-12.5), AT_2015_06_30_18H, NULL);
    add_update(msg, 43, "incubation_area", CT_OP_SET, float_value(0.1), AT_2015_06_30_18H, "");
    round_trip(msg, back);
    cr_assert_str_eq(back->batch.agent, "jinshui-1");
    cr_assert_str_eq(back->batch.district, "jinshui");
    cr_assert_eq(back->batch.n_updates, 3);
    for (size_t i = 0; i < 3; i++)
        assert_update_eq(&back->batch.updates[i], &msg->batch.updates[i]);
}

Test(wire, batch_values_of_every_kind_round_trip)
{
    const struct ct_value values[] = {
        int_value(0),
        int_value(1),
        int_value(127),
        int_value(128),
        int_value(65536),
        int_value(-1),
        int_value(-33),
        int_value(-129),
        int_value(INT64_MIN),
        int_value(INT64_MAX),
        uint_value((uint64_t)INT64_MAX + 1),
        uint_value(UINT64_MAX),
        float_value(0.1),
        float_value(6500.0),
        float_value(-0.0),
        float_value(1e21),
        float_value(-1.5e-7),
        float_value(5e-324),
        float_value(DBL_MAX),
        float_value(-DBL_MAX),
        float_value(3.0), /* an integral double stays a float on the wire */
    };
    size_t n = sizeof(values) / sizeof(values[0]);

    start_batch(msg, "erqi-01", "erqi");
    for (size_t i = 0; i < n; i++)
        add_update(msg, 100 + i, "hightech_output", i % 2 ? CT_OP_ADD : CT_OP_SET, values[i],
                   AT_2015_06_30_18H + (int64_t)i, NULL);
    round_trip(msg, back);
    cr_assert_eq(back->batch.n_updates, n);
    for (size_t i = 0; i < n; i++)
        assert_update_eq(&back->batch.updates[i], &msg->batch.updates[i]);
}

Test(wire, float32_value_decodes_as_its_double)
{
    /* A client may send float32; 0.5f is exact. Update: {"seq":1,"ind":"a","period":2015,
     * "op":"set","value":float32 0.5,"at":2015-06-30T18:00+08} */
    /* clang-format off */
    static const char frame[] =
        "\x85"
        "\xa1" "v" "\x01"
        "\xa1" "t" "\xa5" "batch"
        "\xa5" "agent" "\xa1" "a"
        "\xa8" "district" "\xa1" "d"
        "\xa7" "updates" "\x91"
        "\x86"
        "\xa3" "seq" "\x01"
        "\xa3" "ind" "\xa1" "a"
        "\xa6" "period" "\xcd\x07\xdf"
        "\xa2" "op" "\xa3" "set"
        "\xa5" "value" "\xca\x3f\x00\x00\x00"       /* float32 0x3f000000 = 0.5 */
        "\xa2" "at" "\xcf\x00\x00\x01\x4e\x43\xe8\xb1\x00";
    /* clang-format on */

    decode_ok(frame, GOLDEN_LEN(frame), back);
    cr_assert_eq(back->batch.n_updates, 1);
    cr_assert_eq(back->batch.updates[0].value.kind, CT_VALUE_FLOAT);
    cr_assert_eq(back->batch.updates[0].value.as.f, 0.5);
}

Test(wire, full_batch_of_1000_updates_round_trips)
{
    size_t bound = 64; /* the batch's own header, agent and district */
    const void *bytes;
    size_t len;

    start_batch(msg, "huiji-7", "huiji");
    for (uint64_t i = 0; i < CT_WIRE_MAX_BATCH; i++) {
        struct ct_value v = i % 3 == 0   ? int_value((int64_t)i * 1000003 - 5000000)
                            : i % 3 == 1 ? float_value((double)i / 7.0)
                                         : uint_value(UINT64_MAX - i);
        char note[CT_WIRE_MAX_NOTE + 1];
        snprintf(note, sizeof(note), "note %llu: 郑州", (unsigned long long)i);
        struct ct_update *u =
            add_update(msg, 5000 + i, i % 2 ? "st_enterprises" : "incubation_area",
                       i % 2 ? CT_OP_ADD : CT_OP_SET, v, AT_2015_06_30_18H + (int64_t)i * 1000,
                       i % 4 == 0 ? NULL : note);
        u->period = 2014 + (int64_t)(i % 3);
        bound += ct_wire_update_size_bound(u);
    }
    encode_ok(msg, &bytes, &len);
    cr_assert_leq(len, bound, "ct_wire_update_size_bound undercounts: %zu > %zu", len, bound);
    decode_ok(bytes, len, back);
    cr_assert_eq(back->batch.n_updates, CT_WIRE_MAX_BATCH);
    for (size_t i = 0; i < CT_WIRE_MAX_BATCH; i++)
        assert_update_eq(&back->batch.updates[i], &msg->batch.updates[i]);
}

Test(wire, update_size_bound_covers_the_largest_update)
{
    const void *bytes;
    size_t len_one, len_two;
    struct ct_update *u;

    /* An update with every field at its widest: 64-byte id, 256-byte note, 9-byte numbers. */
    start_batch(msg, "a", "d");
    u = add_update(msg, UINT64_MAX - 1, "x", CT_OP_ADD, int_value(INT64_MIN), INT64_MIN, NULL);
    memset(u->ind, 'i', CT_ID_MAX);
    u->ind[CT_ID_MAX] = '\0';
    memset(u->note, 'n', CT_WIRE_MAX_NOTE);
    u->note[CT_WIRE_MAX_NOTE] = '\0';
    u->has_note = true;
    u->period = INT64_MIN;
    encode_ok(msg, &bytes, &len_one);
    struct ct_update copy = *u;
    copy.seq++;
    cr_assert_eq(ct_msg_reserve(msg, CT_MSG_BATCH, 2), 0);
    msg->batch.updates[1] = copy;
    msg->batch.n_updates = 2;
    encode_ok(msg, &bytes, &len_two);
    cr_assert_leq(len_two - len_one, ct_wire_update_size_bound(&copy));
}

/* Loads the 34 indicators of data/indicators.csv (the catalog the aggregator sends). */
static void load_catalog(struct ct_msg *m)
{
    char path[4096], scratch[4096], err[128];
    const char *slash = strrchr(__FILE__, '/');
    struct ct_csv_field fields[8];
    struct ct_csv_reader r;
    size_t n_fields;
    FILE *f;
    char *data;
    long size;
    int rc;

    cr_assert_not_null(slash);
    snprintf(path, sizeof(path), "%.*s/../../data/indicators.csv", (int)(slash - __FILE__),
             __FILE__);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    cr_assert_gt(size, 0);
    rewind(f);
    data = malloc((size_t)size);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);

    m->type = CT_MSG_WELCOME;
    m->welcome.n_catalog = 0;
    ct_csv_init(&r, data, (size_t)size);
    rc = ct_csv_next(&r, fields, 8, &n_fields, scratch, sizeof(scratch), err, sizeof(err));
    cr_assert_eq(rc, 1);
    cr_assert_str_eq(fields[0].ptr, "code");
    cr_assert_str_eq(fields[1].ptr, "name_zh");
    cr_assert_str_eq(fields[5].ptr, "reported_by");
    while ((rc = ct_csv_next(&r, fields, 8, &n_fields, scratch, sizeof(scratch), err,
                             sizeof(err))) == 1) {
        cr_assert_eq(n_fields, 7, "line %zu", r.record_line);
        add_catalog(m, fields[0].ptr, fields[1].ptr, fields[5].ptr);
    }
    cr_assert_eq(rc, 0, "%s", err);
    free(data);
}

Test(wire, welcome_with_the_34_indicator_catalog_round_trips)
{
    load_catalog(msg);
    cr_assert_eq(msg->welcome.n_catalog, 34);
    msg->welcome.last_seq = 123456789;
    round_trip(msg, back);
    cr_assert_eq(back->welcome.last_seq, 123456789);
    cr_assert_eq(back->welcome.n_catalog, 34);
    for (size_t i = 0; i < 34; i++) {
        cr_assert_str_eq(back->welcome.catalog[i].code, msg->welcome.catalog[i].code);
        cr_assert_str_eq(back->welcome.catalog[i].name_zh, msg->welcome.catalog[i].name_zh);
        cr_assert_str_eq(back->welcome.catalog[i].reported_by, msg->welcome.catalog[i].reported_by);
    }
    cr_assert_str_eq(back->welcome.catalog[0].code, "complex_started");
    cr_assert_str_eq(back->welcome.catalog[0].name_zh, "启动建设的创新创业综合体");
    cr_assert_str_eq(back->welcome.catalog[8].reported_by, "city");
}

Test(wire, welcome_with_empty_catalog_round_trips)
{
    msg->type = CT_MSG_WELCOME;
    msg->welcome.last_seq = 0;
    msg->welcome.n_catalog = 0;
    round_trip(msg, back);
    cr_assert_eq(back->welcome.last_seq, 0);
    cr_assert_eq(back->welcome.n_catalog, 0);
}

Test(wire, ack_with_rejections_round_trips)
{
    msg->type = CT_MSG_ACK;
    msg->ack.last_seq = 1000;
    msg->ack.n_rejected = 0;
    add_rejection(msg, 996, ct_reject_code(CT_REJECT_UNKNOWN_INDICATOR), "no indicator 'gdp'");
    add_rejection(msg, 997, ct_reject_code(CT_REJECT_NOT_REPORTABLE_BY_DISTRICT),
                  "st_contribution_rate (科技进步贡献率) is reported by city only");
    add_rejection(msg, 999, ct_reject_code(CT_REJECT_BAD_NOTE), "note is not valid UTF-8");
    round_trip(msg, back);
    cr_assert_eq(back->ack.last_seq, 1000);
    cr_assert_eq(back->ack.n_rejected, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(back->ack.rejected[i].seq, msg->ack.rejected[i].seq);
        cr_assert_str_eq(back->ack.rejected[i].code, msg->ack.rejected[i].code);
        cr_assert_str_eq(back->ack.rejected[i].msg, msg->ack.rejected[i].msg);
    }
}

Test(wire, ack_without_rejections_round_trips)
{
    msg->type = CT_MSG_ACK;
    msg->ack.last_seq = 42;
    msg->ack.n_rejected = 0;
    round_trip(msg, back);
    cr_assert_eq(back->ack.last_seq, 42);
    cr_assert_eq(back->ack.n_rejected, 0);
}

Test(wire, error_with_each_code_round_trips)
{
    static const struct {
        enum ct_wire_error error;
        const char *code;
    } codes[] = {
        {CT_WERR_MALFORMED, "malformed"},
        {CT_WERR_UNSUPPORTED_VERSION, "unsupported_version"},
        {CT_WERR_UNKNOWN_AGENT, "unknown_agent"},
        {CT_WERR_WRONG_DISTRICT, "wrong_district"},
        {CT_WERR_SEQ_GAP, "seq_gap"},
        {CT_WERR_TOO_LARGE, "too_large"},
        {CT_WERR_UNAVAILABLE, "unavailable"},
        {CT_WERR_AGENT_IN_USE, "agent_in_use"},
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        cr_assert_str_eq(ct_wire_error_code(codes[i].error), codes[i].code);
        cr_assert_eq(ct_wire_error_parse(codes[i].code), codes[i].error);
        memset(&msg->error, 0, sizeof(msg->error));
        msg->type = CT_MSG_ERROR;
        msg->error.error = codes[i].error;
        snprintf(msg->error.msg, sizeof(msg->error.msg), "refused: %s", codes[i].code);
        msg->error.last_seq = 10 + i;
        round_trip(msg, back);
        cr_assert_eq(back->error.error, codes[i].error);
        cr_assert_str_eq(back->error.code, codes[i].code);
        cr_assert_str_eq(back->error.msg, msg->error.msg);
        cr_assert_eq(back->error.last_seq, 10 + i);
    }
}

Test(wire, error_with_a_code_from_a_newer_version_keeps_its_text)
{
    msg->type = CT_MSG_ERROR;
    msg->error.error = CT_WERR_OTHER;
    ct_strlcpy(msg->error.code, "rate_limited", sizeof(msg->error.code));
    ct_strlcpy(msg->error.msg, "slow down", sizeof(msg->error.msg));
    msg->error.last_seq = 0;
    round_trip(msg, back);
    cr_assert_eq(back->error.error, CT_WERR_OTHER);
    cr_assert_str_eq(back->error.code, "rate_limited");
}

Test(wire, long_rejection_text_is_cut_at_a_character_boundary)
{
    /* An ack whose msg is 600 bytes of 3-byte characters: kept to <= 512 bytes, whole
     * characters only, rather than refusing the ack that commits a batch. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char text[601];

    for (size_t i = 0; i < 600; i += 3)
        memcpy(text + i, "郑", 3);
    text[600] = '\0';
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "ack", 3);
    msgpack_pack_str_with_body(&pk, "last_seq", 8);
    msgpack_pack_uint64(&pk, 9);
    msgpack_pack_str_with_body(&pk, "rejected", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint64(&pk, 9);
    msgpack_pack_str_with_body(&pk, "code", 4);
    msgpack_pack_str_with_body(&pk, "bad_note", 8);
    msgpack_pack_str_with_body(&pk, "msg", 3);
    msgpack_pack_str_with_body(&pk, text, 600);

    decode_ok(sb.data, sb.size, back);
    cr_assert_eq(back->ack.n_rejected, 1);
    cr_assert_eq(strlen(back->ack.rejected[0].msg), 510); /* 170 characters */
    cr_assert_eq(memcmp(back->ack.rejected[0].msg, text, 510), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------ the encoder */

Test(wire, encoder_reuses_its_buffer)
{
    const void *first, *second, *third;
    size_t first_len, second_len, third_len;

    build_golden_batch(msg);
    encode_ok(msg, &first, &first_len);
    build_golden_hello(msg);
    encode_ok(msg, &second, &second_len);
    cr_assert_lt(second_len, first_len);
    cr_assert_eq(second, first, "a smaller message must be written into the same buffer");
    assert_bytes(second, second_len, golden_hello, GOLDEN_LEN(golden_hello));

    build_golden_error(msg);
    encode_ok(msg, &third, &third_len);
    cr_assert_eq(third, first);
    assert_bytes(third, third_len, golden_error, GOLDEN_LEN(golden_error));
}

Test(wire, encoder_grows_its_buffer_and_stays_correct)
{
    const void *bytes;
    size_t len;

    build_golden_hello(msg);
    encode_ok(msg, &bytes, &len);
    /* a much bigger message, then the small one again from the grown buffer */
    load_catalog(back);
    encode_ok(back, &bytes, &len);
    cr_assert_gt(len, 1000);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_hello, GOLDEN_LEN(golden_hello));
}

Test(wire, encoder_refuses_non_finite_values)
{
    const double bad[] = {NAN, INFINITY, -INFINITY};
    const void *bytes = NULL;
    size_t len = 0;

    for (size_t i = 0; i < 3; i++) {
        build_golden_batch(msg);
        msg->batch.updates[1].value = float_value(bad[i]);
        cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1, "value %g was encoded", bad[i]);
    }
    /* the encoder is still usable afterwards */
    build_golden_batch(msg);
    encode_ok(msg, &bytes, &len);
    assert_bytes(bytes, len, golden_batch, GOLDEN_LEN(golden_batch));
}

Test(wire, encoder_refuses_an_invalid_op)
{
    const void *bytes;
    size_t len;

    build_golden_batch(msg);
    msg->batch.updates[0].op = CT_OP_INVALID;
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
}

Test(wire, encoder_refuses_more_than_1000_updates)
{
    const void *bytes;
    size_t len;

    start_batch(msg, "a", "d");
    for (uint64_t i = 1; i <= CT_WIRE_MAX_BATCH + 1; i++)
        add_update(msg, i, "x", CT_OP_SET, int_value(1), AT_2015_06_30_18H, NULL);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
    msg->batch.n_updates = CT_WIRE_MAX_BATCH;
    encode_ok(msg, &bytes, &len);
}

Test(wire, encoder_refuses_more_catalog_entries_or_rejections_than_a_peer_accepts)
{
    const void *bytes;
    size_t len;

    msg->type = CT_MSG_WELCOME;
    for (size_t i = 0; i <= CT_WIRE_MAX_CATALOG; i++)
        add_catalog(msg, "x", "名", "district");
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
    msg->welcome.n_catalog = CT_WIRE_MAX_CATALOG;
    encode_ok(msg, &bytes, &len);
    decode_ok(bytes, len, back);

    msg->type = CT_MSG_ACK;
    for (size_t i = 0; i <= CT_WIRE_MAX_BATCH; i++)
        add_rejection(msg, i + 1, "bad_value", "x");
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
    msg->ack.n_rejected = CT_WIRE_MAX_BATCH;
    encode_ok(msg, &bytes, &len);
    decode_ok(bytes, len, back);
}

Test(wire, encoder_refuses_a_message_over_1_MiB)
{
    /* 3000 catalog entries with 256-byte names make ~1.2 MiB. (Within v1's count limits no
     * message reaches 1 MiB; the size check is the backstop.) */
    char name[CT_WIRE_MAX_NAME + 1];
    const void *bytes = NULL;
    size_t len = 0;

    memset(name, 'n', CT_WIRE_MAX_NAME);
    name[CT_WIRE_MAX_NAME] = '\0';
    msg->type = CT_MSG_WELCOME;
    for (size_t i = 0; i < 3000; i++)
        add_catalog(msg, "indicator_code_of_some_length", name, "district");
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
}

Test(wire, largest_valid_messages_stay_under_1_MiB)
{
    /* 1000 rejections with 512-byte messages: the biggest ack an aggregator can send. */
    char text[CT_WIRE_MAX_TEXT + 1];
    const void *bytes;
    size_t len;

    memset(text, 'm', CT_WIRE_MAX_TEXT);
    text[CT_WIRE_MAX_TEXT] = '\0';
    msg->type = CT_MSG_ACK;
    msg->ack.last_seq = UINT64_MAX;
    for (size_t i = 0; i < CT_WIRE_MAX_BATCH; i++)
        add_rejection(msg, UINT64_MAX - i, "not_reportable_by_district", text);
    encode_ok(msg, &bytes, &len);
    cr_assert_lt(len, CT_WIRE_MAX_MESSAGE);
    decode_ok(bytes, len, back);
    cr_assert_eq(back->ack.n_rejected, CT_WIRE_MAX_BATCH);
    cr_assert_str_eq(back->ack.rejected[999].msg, text);
}

Test(wire, decoder_reuses_the_message_across_frames)
{
    const void *bytes;
    size_t len;

    decode_ok(golden_batch, GOLDEN_LEN(golden_batch), back);
    decode_ok(golden_hello, GOLDEN_LEN(golden_hello), back);
    cr_assert_eq(back->type, CT_MSG_HELLO);
    build_golden_batch(msg);
    msg->batch.n_updates = 1;
    encode_ok(msg, &bytes, &len);
    decode_ok(bytes, len, back);
    cr_assert_eq(back->type, CT_MSG_BATCH);
    cr_assert_eq(back->batch.n_updates, 1);
    assert_update_eq(&back->batch.updates[0], &msg->batch.updates[0]);
}

/* ------------------------------------------------------------------ names */

Test(wire, names_match_the_contract)
{
    cr_assert_str_eq(ct_op_name(CT_OP_SET), "set");
    cr_assert_str_eq(ct_op_name(CT_OP_ADD), "add");
    cr_assert_str_eq(ct_op_name(CT_OP_INVALID), "?");
    cr_assert_eq(ct_op_parse("set"), CT_OP_SET);
    cr_assert_eq(ct_op_parse("add"), CT_OP_ADD);
    cr_assert_eq(ct_op_parse("SET"), CT_OP_INVALID);
    cr_assert_eq(ct_op_parse("mul"), CT_OP_INVALID);

    cr_assert_str_eq(ct_reject_code(CT_REJECT_NONE), "");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_UNKNOWN_INDICATOR), "unknown_indicator");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_NOT_REPORTABLE_BY_DISTRICT),
                     "not_reportable_by_district");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_BAD_VALUE), "bad_value");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_BAD_PERIOD), "bad_period");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_BAD_OP), "bad_op");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_BAD_TIME), "bad_time");
    cr_assert_str_eq(ct_reject_code(CT_REJECT_BAD_NOTE), "bad_note");
    cr_assert_str_eq(ct_reject_code((enum ct_reject)99), "");

    cr_assert_eq(ct_wire_error_parse("no_such_code"), CT_WERR_OTHER);
    cr_assert_str_eq(ct_wire_error_code((enum ct_wire_error)99), "other");

    cr_assert_str_eq(ct_msg_type_name(CT_MSG_HELLO), "hello");
    cr_assert_str_eq(ct_msg_type_name(CT_MSG_BATCH), "batch");
    cr_assert_str_eq(ct_msg_type_name(CT_MSG_WELCOME), "welcome");
    cr_assert_str_eq(ct_msg_type_name(CT_MSG_ACK), "ack");
    cr_assert_str_eq(ct_msg_type_name(CT_MSG_ERROR), "error");
    cr_assert_str_eq(ct_msg_type_name((enum ct_msg_type)0), "?");
}

Test(wire, msg_free_of_null_is_a_no_op)
{
    ct_msg_free(NULL);
    ct_wire_encoder_free(NULL);
}

/* ------------------------------------------------------------------ progress feed */

Test(wire, feed_message_round_trips)
{
    struct ct_feed_msg *feed = calloc(1, sizeof(*feed)), *got = calloc(1, sizeof(*got));
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;

    cr_assert(feed != NULL && got != NULL);
    feed->year = 2015;
    feed->as_of_ms = AT_2015_06_30_18H;
    feed->n_targets = 2;
    ct_strlcpy(feed->targets[0].code, "hightech_output_growth", sizeof(feed->targets[0].code));
    feed->targets[0].has_actual = feed->targets[0].has_target = feed->targets[0].has_pct = true;
    feed->targets[0].actual = 1234.5;
    feed->targets[0].target = 2000;
    feed->targets[0].pct = 61.725;
    ct_strlcpy(feed->targets[0].status, "on_track", sizeof(feed->targets[0].status));
    ct_strlcpy(feed->targets[1].code, "st_contribution", sizeof(feed->targets[1].code));
    feed->targets[1].has_target = true;
    feed->targets[1].target = 60;
    ct_strlcpy(feed->targets[1].status, "no_data", sizeof(feed->targets[1].status));

    cr_assert_eq(ct_wire_encode_feed(enc, feed, &bytes, &len), 0);
    cr_assert_eq(ct_wire_decode_feed(bytes, len, got, &fault), 0, "%s", fault.msg);
    cr_assert_eq(got->year, 2015);
    cr_assert_eq(got->as_of_ms, AT_2015_06_30_18H);
    cr_assert_eq(got->n_targets, 2);
    cr_assert_str_eq(got->targets[0].code, "hightech_output_growth");
    cr_assert(got->targets[0].has_actual && got->targets[0].has_pct);
    cr_assert_eq(got->targets[0].actual, 1234.5);
    cr_assert_eq(got->targets[0].pct, 61.725);
    cr_assert_str_eq(got->targets[0].status, "on_track");
    cr_assert_not(got->targets[1].has_actual);
    cr_assert_not(got->targets[1].has_pct);
    cr_assert_eq(got->targets[1].target, 60);
    cr_assert_str_eq(got->targets[1].status, "no_data");

    /* a feed frame is not a protocol message: it has no "t" */
    cr_assert_eq(ct_wire_decode(bytes, len, back, &fault), -1);
    cr_assert_eq(fault.error, CT_WERR_MALFORMED);
    cr_assert(strstr(fault.msg, "'t'") != NULL, "%s", fault.msg);
    free(feed);
    free(got);
}
