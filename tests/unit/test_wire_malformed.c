/*
 * test_wire_malformed.c - common/wire_decode.c refuses every bad frame with the right named error.
 *
 * Frames are built with msgpack-c's packer from a valid message of each type, with one
 * field replaced by a wrong value or left out (struct override), or written as raw bytes
 * where the fault is below msgpack (truncation, bad type bytes, lying lengths). Each case
 * asserts the exact error code (malformed, unsupported_version, too_large) and that the
 * message names the field or the fault.
 *
 * Per-update faults (bad value, op, note, period, time, indicator) are not frame errors:
 * the batch decodes and only the faulty update carries its reject code.
 */
#include "wire.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan, any allocation over 64 MiB aborts the test instead of returning NULL: proof
 * that no claimed length (2^32-1 items, 4 GiB strings) ever reaches an allocator. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=0:max_allocation_size_mb=64";
}
#endif

static struct ct_msg *msg;

static void setup(void)
{
    msg = ct_msg_new();
    cr_assert_not_null(msg);
}

static void teardown(void)
{
    ct_msg_free(msg);
}

TestSuite(malformed, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ frame builder */

struct override;
typedef void (*value_fn)(msgpack_packer *pk, const struct override *o);

/* Replaces the value at `path` ("agent", "updates.seq", "catalog.name_zh", ...) with
 * `value`, or leaves the key out when `value` is NULL. */
struct override {
    const char *path;
    value_fn value;
};

static const struct override no_override = {NULL, NULL};

/* Collects a map's pairs in a side buffer, so the header can carry the final count. */
struct map_writer {
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint32_t n;
};

static void mw_begin(struct map_writer *m)
{
    msgpack_sbuffer_init(&m->body);
    msgpack_packer_init(&m->pk, &m->body, msgpack_sbuffer_write);
    m->n = 0;
}

static void mw_put(struct map_writer *m, const struct override *o, const char *path, value_fn value)
{
    const char *key = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;

    if (o->path != NULL && strcmp(o->path, path) == 0) {
        if (o->value == NULL)
            return;
        value = o->value;
    }
    msgpack_pack_str_with_body(&m->pk, key, strlen(key));
    value(&m->pk, o);
    m->n++;
}

static void mw_end(struct map_writer *m, msgpack_packer *out)
{
    msgpack_pack_map(out, m->n);
    out->callback(out->data, m->body.data, m->body.size);
    msgpack_sbuffer_destroy(&m->body);
}

static void pack_text(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Valid values. */
static void v_one(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    msgpack_pack_uint64(pk, 1);
}
#define TYPE_FN(name)                                                                              \
    static void t_##name(msgpack_packer *pk, const struct override *o)                             \
    {                                                                                              \
        (void)o;                                                                                   \
        pack_text(pk, #name);                                                                      \
    }
TYPE_FN(hello)
TYPE_FN(batch)
TYPE_FN(welcome)
TYPE_FN(ack)
TYPE_FN(error)
static void ok_agent(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "erqi-01");
}
static void ok_district(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "erqi");
}
static void ok_seq(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    msgpack_pack_uint64(pk, 5);
}
static void ok_ind(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "hightech_output");
}
static void ok_period(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    msgpack_pack_int64(pk, 2015);
}
static void ok_op(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "set");
}
static void ok_value(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    msgpack_pack_double(pk, 6.8);
}
static void ok_at(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    msgpack_pack_int64(pk, 1435658400000LL);
}
static void ok_note(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "半年报");
}
static void ok_code(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "seq_gap");
}
static void ok_reject_code(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "bad_value");
}
static void ok_msg(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "expected 6");
}
static void ok_name(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "高新技术产业产值");
}
static void ok_reported_by(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    pack_text(pk, "district");
}

static void one_update(msgpack_packer *pk, const struct override *o)
{
    struct map_writer m;

    mw_begin(&m);
    mw_put(&m, o, "updates.seq", ok_seq);
    mw_put(&m, o, "updates.ind", ok_ind);
    mw_put(&m, o, "updates.period", ok_period);
    mw_put(&m, o, "updates.op", ok_op);
    mw_put(&m, o, "updates.value", ok_value);
    mw_put(&m, o, "updates.at", ok_at);
    mw_put(&m, o, "updates.note", ok_note);
    mw_end(&m, pk);
}
static void ok_updates(msgpack_packer *pk, const struct override *o)
{
    msgpack_pack_array(pk, 1);
    one_update(pk, o);
}
static void ok_catalog(msgpack_packer *pk, const struct override *o)
{
    struct map_writer m;

    msgpack_pack_array(pk, 1);
    mw_begin(&m);
    mw_put(&m, o, "catalog.code", ok_ind);
    mw_put(&m, o, "catalog.name_zh", ok_name);
    mw_put(&m, o, "catalog.reported_by", ok_reported_by);
    mw_end(&m, pk);
}
static void ok_rejected(msgpack_packer *pk, const struct override *o)
{
    struct map_writer m;

    msgpack_pack_array(pk, 1);
    mw_begin(&m);
    mw_put(&m, o, "rejected.seq", ok_seq);
    mw_put(&m, o, "rejected.code", ok_reject_code);
    mw_put(&m, o, "rejected.msg", ok_msg);
    mw_end(&m, pk);
}

/* Packs a valid message of `type` with `o` applied into `sb` (initialised here). */
static void build(msgpack_sbuffer *sb, enum ct_msg_type type, const struct override *o)
{
    msgpack_packer pk;
    struct map_writer m;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    mw_begin(&m);
    mw_put(&m, o, "v", v_one);
    switch (type) {
    case CT_MSG_HELLO:
        mw_put(&m, o, "t", t_hello);
        mw_put(&m, o, "agent", ok_agent);
        mw_put(&m, o, "district", ok_district);
        mw_put(&m, o, "next_seq", ok_seq);
        break;
    case CT_MSG_BATCH:
        mw_put(&m, o, "t", t_batch);
        mw_put(&m, o, "agent", ok_agent);
        mw_put(&m, o, "district", ok_district);
        mw_put(&m, o, "updates", ok_updates);
        break;
    case CT_MSG_WELCOME:
        mw_put(&m, o, "t", t_welcome);
        mw_put(&m, o, "last_seq", ok_seq);
        mw_put(&m, o, "catalog", ok_catalog);
        break;
    case CT_MSG_ACK:
        mw_put(&m, o, "t", t_ack);
        mw_put(&m, o, "last_seq", ok_seq);
        mw_put(&m, o, "rejected", ok_rejected);
        break;
    case CT_MSG_ERROR:
        mw_put(&m, o, "t", t_error);
        mw_put(&m, o, "code", ok_code);
        mw_put(&m, o, "msg", ok_msg);
        mw_put(&m, o, "last_seq", ok_seq);
        break;
    }
    mw_end(&m, &pk);
}

/* Wrong values. */
#define BAD_FN(name, body)                                                                         \
    static void name(msgpack_packer *pk, const struct override *o)                                 \
    {                                                                                              \
        (void)o;                                                                                   \
        body;                                                                                      \
    }
BAD_FN(as_string_1, pack_text(pk, "1"))
BAD_FN(as_float_1, msgpack_pack_double(pk, 1.0))
BAD_FN(as_float_half, msgpack_pack_double(pk, 1.5))
BAD_FN(as_minus_1, msgpack_pack_int64(pk, -1))
BAD_FN(as_zero, msgpack_pack_uint64(pk, 0))
BAD_FN(as_two, msgpack_pack_uint64(pk, 2))
BAD_FN(as_int_7, msgpack_pack_uint64(pk, 7))
BAD_FN(as_nil, msgpack_pack_nil(pk))
BAD_FN(as_true, msgpack_pack_true(pk))
BAD_FN(as_empty_array, msgpack_pack_array(pk, 0))
BAD_FN(as_empty_map, msgpack_pack_map(pk, 0))
BAD_FN(as_bin, msgpack_pack_bin_with_body(pk, "erqi", 4))
BAD_FN(as_ext, msgpack_pack_ext_with_body(pk, "\x01\x02\x03\x04", 4, 7))
BAD_FN(as_empty_string, pack_text(pk, ""))
BAD_FN(as_upper_id, pack_text(pk, "Erqi"))
BAD_FN(as_space_id, pack_text(pk, "er qi"))
BAD_FN(as_slash_id, pack_text(pk, "erqi/01"))
BAD_FN(as_chinese_id, pack_text(pk, "二七区"))
BAD_FN(as_unknown_type, pack_text(pk, "goodbye"))
BAD_FN(as_invalid_utf8, msgpack_pack_str_with_body(pk, "bad \xff\xfe text", 11))
BAD_FN(as_array_of_int, msgpack_pack_array(pk, 1); msgpack_pack_uint64(pk, 1))

static void as_65_byte_id(msgpack_packer *pk, const struct override *o)
{
    char id[65];
    (void)o;
    memset(id, 'a', sizeof(id));
    msgpack_pack_str_with_body(pk, id, sizeof(id));
}

static void as_64_byte_id(msgpack_packer *pk, const struct override *o)
{
    char id[64];
    (void)o;
    memset(id, 'z', sizeof(id));
    msgpack_pack_str_with_body(pk, id, sizeof(id));
}

static void as_33_byte_code(msgpack_packer *pk, const struct override *o)
{
    char code[33];
    (void)o;
    memset(code, 'c', sizeof(code));
    msgpack_pack_str_with_body(pk, code, sizeof(code));
}

static void as_257_byte_name(msgpack_packer *pk, const struct override *o)
{
    char name[257];
    (void)o;
    memset(name, 'n', sizeof(name));
    msgpack_pack_str_with_body(pk, name, sizeof(name));
}

static void as_array_of_1001_entries(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    msgpack_pack_array(pk, 1001);
    for (int i = 0; i < 1001; i++) {
        msgpack_pack_map(pk, 3);
        pack_text(pk, "code");
        pack_text(pk, "x");
        pack_text(pk, "name_zh");
        pack_text(pk, "x");
        pack_text(pk, "reported_by");
        pack_text(pk, "city");
    }
}

/* ------------------------------------------------------------------ assertions */

static int count_cases; /* distinct malformed frames this process checked (per test) */

static void expect(const void *frame, size_t len, enum ct_wire_error error, const char *needle)
{
    struct ct_wire_fault fault;
    int rc = ct_wire_decode(frame, len, msg, &fault);

    count_cases++;
    cr_assert_eq(rc, -1, "frame was accepted; expected %s naming '%s'", ct_wire_error_code(error),
                 needle);
    cr_assert_eq(fault.error, error, "got %s (%s), expected %s", ct_wire_error_code(fault.error),
                 fault.msg, ct_wire_error_code(error));
    cr_assert(strstr(fault.msg, needle) != NULL, "message '%s' does not name '%s'", fault.msg,
              needle);
}

static void expect_built(enum ct_msg_type type, const char *path, value_fn value,
                         enum ct_wire_error error, const char *needle)
{
    struct override o = {path, value};
    msgpack_sbuffer sb;

    build(&sb, type, &o);
    expect(sb.data, sb.size, error, needle);
    msgpack_sbuffer_destroy(&sb);
}

static void expect_ok(enum ct_msg_type type, const struct override *o)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    build(&sb, type, o);
    cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s", fault.msg);
    cr_assert_eq(msg->type, type);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------ the builder itself */

Test(malformed, builder_makes_valid_frames_of_every_type)
{
    for (int t = CT_MSG_HELLO; t <= CT_MSG_ERROR; t++)
        expect_ok((enum ct_msg_type)t, &no_override);
    cr_assert_eq(msg->error.last_seq, 5);
}

/* ------------------------------------------------------------------ below msgpack */

Test(malformed, empty_frame_is_truncated)
{
    expect("", 0, CT_WERR_MALFORMED, "truncated");
}

Test(malformed, truncation_at_every_byte_is_refused)
{
    msgpack_sbuffer sb;

    build(&sb, CT_MSG_BATCH, &no_override);
    /* Every proper prefix: cut inside a header, a length, a string, a float, a map. */
    for (size_t cut = 0; cut < sb.size; cut++) {
        struct ct_wire_fault fault;
        cr_assert_eq(ct_wire_decode(sb.data, cut, msg, &fault), -1, "prefix of %zu bytes", cut);
        cr_assert_eq(fault.error, CT_WERR_MALFORMED);
        cr_assert(strstr(fault.msg, "truncated") != NULL, "cut at %zu: '%s'", cut, fault.msg);
    }
    count_cases += (int)sb.size;
    /* and a few named points, with the offset in the message */
    expect(sb.data, 1, CT_WERR_MALFORMED, "truncated");
    expect(sb.data, sb.size - 1, CT_WERR_MALFORMED, "truncated");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, truncated_length_fields_are_refused)
{
    expect("\xd9", 1, CT_WERR_MALFORMED, "truncated msgpack length at byte 1"); /* str8 */
    expect("\xda\x00", 2, CT_WERR_MALFORMED, "truncated msgpack length at byte 1");
    expect("\xdd\x00\x00", 3, CT_WERR_MALFORMED, "truncated msgpack length at byte 1");
    expect("\xcb\x40\x1b", 3, CT_WERR_MALFORMED, "truncated"); /* float64 cut */
}

Test(malformed, trailing_bytes_are_refused)
{
    msgpack_sbuffer sb;

    build(&sb, CT_MSG_HELLO, &no_override);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "trailing bytes");
    /* a second whole message after the first is trailing bytes too */
    msgpack_sbuffer_write(&sb, sb.data, sb.size - 1);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "trailing bytes");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, invalid_type_byte_c1_is_refused)
{
    msgpack_sbuffer sb;

    expect("\xc1", 1, CT_WERR_MALFORMED, "invalid msgpack type byte at byte 0");
    /* inside an otherwise valid map: {"v": 0xc1} */
    expect("\x81\xa1v\xc1", 4, CT_WERR_MALFORMED, "invalid msgpack type byte at byte 3");
    build(&sb, CT_MSG_HELLO, &no_override);
    ((char *)sb.data)[sb.size - 1] = (char)0xc1; /* next_seq's value */
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "invalid msgpack type byte");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, nesting_1000_deep_is_refused)
{
    char frame[1001];

    memset(frame, 0x91, 1000); /* fixarray of one item, 1000 times */
    frame[1000] = (char)0xc0;
    expect(frame, sizeof(frame), CT_WERR_MALFORMED, "nested too deeply");
    memset(frame, 0x81, 1000); /* maps are no different: {nil: {nil: ...}} needs keys */
    expect(frame, sizeof(frame), CT_WERR_MALFORMED, "nested too deeply");
}

static void as_deep_array(msgpack_packer *pk, const struct override *o)
{
    (void)o;
    for (int i = 0; i < 1000; i++)
        msgpack_pack_array(pk, 1);
    msgpack_pack_nil(pk);
}

Test(malformed, nesting_inside_an_unknown_key_is_refused)
{
    /* Unknown keys are ignored, but only after the frame passed the depth check. */
    expect_built(CT_MSG_HELLO, "district", as_deep_array, CT_WERR_MALFORMED, "nested too deeply");
    expect_built(CT_MSG_BATCH, "updates.note", as_deep_array, CT_WERR_MALFORMED,
                 "nested too deeply");
}

Test(malformed, array32_claiming_4294967295_items_fails_fast_without_allocating)
{
    static const char frame[] = "\xdd\xff\xff\xff\xff";
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++)
        expect(frame, 5, CT_WERR_MALFORMED, "claims more items than the frame holds");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The scanner refuses it, not msgpack-c ("could not be decoded" would mean msgpack-c ran
     * and tried to allocate 2^32-1 objects). 1000 refusals in well under a second. */
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(seconds, 1.0, "1000 decodes took %.3f s", seconds);
}

Test(malformed, array32_claim_inside_a_valid_message_is_refused)
{
    /* {"v":1,"t":"batch",...,"updates": array32(2^32-1) followed by one update} */
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_text(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "t");
    pack_text(&pk, "batch");
    pack_text(&pk, "agent");
    pack_text(&pk, "a");
    pack_text(&pk, "district");
    pack_text(&pk, "d");
    pack_text(&pk, "updates");
    msgpack_sbuffer_write(&sb, "\xdd\xff\xff\xff\xff", 5);
    one_update(&pk, &no_override);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "claims more items than the frame holds");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, map32_claiming_4294967295_pairs_is_refused)
{
    expect("\xdf\xff\xff\xff\xff", 5, CT_WERR_MALFORMED, "claims more items than the frame holds");
    /* a map16 claiming 65535 pairs with 3 bytes left */
    expect("\xde\xff\xff\xa1v\x01", 6, CT_WERR_MALFORMED, "claims more items than the frame holds");
}

Test(malformed, str32_claiming_4_GiB_is_refused)
{
    expect("\xdb\xff\xff\xff\xff"
           "abc",
           8, CT_WERR_MALFORMED, "runs past the end of the frame");
    expect("\xc6\xff\xff\xff\xff"
           "abc",
           8, CT_WERR_MALFORMED, "runs past the end of the frame"); /* bin32 */
    expect("\xc9\xff\xff\xff\xff\x01"
           "abc",
           9, CT_WERR_MALFORMED, "runs past the end of the frame"); /* ext32 */
    /* as a key inside the top-level map */
    expect("\x81\xdb\x7f\xff\xff\xff"
           "v",
           7, CT_WERR_MALFORMED, "runs past the end of the frame");
}

Test(malformed, too_many_objects_are_refused)
{
    /* 70,000 nils in an unknown key: small in bytes, but more objects than any v1 message
     * needs, so msgpack-c is never asked to build them. */
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_text(&pk, "pad");
    msgpack_pack_array(&pk, 70000);
    for (int i = 0; i < 70000; i++)
        msgpack_pack_nil(&pk);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "too many msgpack objects");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, random_garbage_is_refused_and_named)
{
    /* A fixed xorshift stream, so a failure is reproducible. */
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    unsigned char frame[256];
    int accepted = 0;

    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        struct ct_wire_fault fault;

        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        len = (size_t)(state % sizeof(frame));
        for (size_t i = 0; i < len; i++) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            frame[i] = (unsigned char)state;
        }
        if (ct_wire_decode(frame, len, msg, &fault) == 0) {
            accepted++;
            continue;
        }
        cr_assert(fault.error == CT_WERR_MALFORMED || fault.error == CT_WERR_UNSUPPORTED_VERSION ||
                      fault.error == CT_WERR_TOO_LARGE,
                  "round %d: error %d", round, fault.error);
        cr_assert_neq(fault.msg[0], '\0', "round %d: unnamed error", round);
    }
    cr_assert_eq(accepted, 0);
    /* and one fixed sample, asserted exactly: 0xa7 is a fixstr, not a map */
    expect("\xa7\x13\x88\xfe\x00\x42\x77", 7, CT_WERR_MALFORMED, "truncated");
    expect("\x07", 1, CT_WERR_MALFORMED, "message: not a map");
}

/* ------------------------------------------------------------------ the envelope */

Test(malformed, frame_that_is_not_a_map_is_refused)
{
    expect("\x91\x01", 2, CT_WERR_MALFORMED, "message: not a map");
    expect("\xa5hello", 6, CT_WERR_MALFORMED, "message: not a map");
    expect("\xc0", 1, CT_WERR_MALFORMED, "message: not a map");
}

Test(malformed, non_string_key_is_refused)
{
    /* {1: 1} and {"v":1, nil: "x"} */
    expect("\x81\x01\x01", 3, CT_WERR_MALFORMED, "map key is not a string");
    expect("\x82\xa1v\x01\xc0\xa1x", 7, CT_WERR_MALFORMED, "map key is not a string");
    /* a binary key that spells "v" is not a string key either */
    expect("\x81\xc4\x01v\x01", 5, CT_WERR_MALFORMED, "map key is not a string");
}

Test(malformed, duplicate_key_is_refused)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    /* {"v":1,"v":1,...hello}: two readers could take different values */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pack_text(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "t");
    pack_text(&pk, "hello");
    pack_text(&pk, "agent");
    pack_text(&pk, "erqi-01");
    pack_text(&pk, "agent");
    pack_text(&pk, "jinshui-01");
    pack_text(&pk, "district");
    pack_text(&pk, "erqi");
    pack_text(&pk, "next_seq");
    msgpack_pack_uint64(&pk, 1);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "duplicate key 'agent'");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, missing_v_is_refused)
{
    expect_built(CT_MSG_HELLO, "v", NULL, CT_WERR_MALFORMED, "missing key 'v'");
}

Test(malformed, v_that_is_not_an_integer_is_refused)
{
    expect_built(CT_MSG_HELLO, "v", as_string_1, CT_WERR_MALFORMED, "message.v");
    expect_built(CT_MSG_HELLO, "v", as_float_1, CT_WERR_MALFORMED, "message.v");
    expect_built(CT_MSG_HELLO, "v", as_minus_1, CT_WERR_MALFORMED, "message.v");
    expect_built(CT_MSG_HELLO, "v", as_nil, CT_WERR_MALFORMED, "message.v");
}

Test(malformed, version_2_is_unsupported)
{
    expect_built(CT_MSG_HELLO, "v", as_two, CT_WERR_UNSUPPORTED_VERSION, "version 2");
    expect_built(CT_MSG_BATCH, "v", as_zero, CT_WERR_UNSUPPORTED_VERSION, "version 0");
}

Test(malformed, missing_t_is_refused)
{
    expect_built(CT_MSG_HELLO, "t", NULL, CT_WERR_MALFORMED, "missing key 't'");
}

Test(malformed, unknown_or_mistyped_t_is_refused)
{
    expect_built(CT_MSG_HELLO, "t", as_unknown_type, CT_WERR_MALFORMED,
                 "message.t: unknown message type 'goodbye'");
    expect_built(CT_MSG_HELLO, "t", as_int_7, CT_WERR_MALFORMED, "message.t: not a string");
    expect_built(CT_MSG_HELLO, "t", as_empty_string, CT_WERR_MALFORMED, "message.t");
    /* an unknown type with bytes that must not reach the message raw */
    expect_built(CT_MSG_HELLO, "t", as_invalid_utf8, CT_WERR_MALFORMED, "\\xff");
}

Test(malformed, frame_over_1_MiB_is_too_large)
{
    /* A hello padded by an unknown bin32 key to exactly 1 MiB decodes; one byte more does
     * not, whatever it holds. */
    size_t pad = CT_WIRE_MAX_MESSAGE - 100;
    char *padding = calloc(1, CT_WIRE_MAX_MESSAGE);
    struct ct_wire_fault fault;

    cr_assert_not_null(padding);
    for (int attempt = 0; attempt < 2; attempt++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;

        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 6);
        pack_text(&pk, "pad");
        msgpack_pack_bin_with_body(&pk, padding, pad);
        pack_text(&pk, "v");
        msgpack_pack_uint64(&pk, 1);
        pack_text(&pk, "t");
        pack_text(&pk, "hello");
        pack_text(&pk, "agent");
        pack_text(&pk, "a");
        pack_text(&pk, "district");
        pack_text(&pk, "d");
        pack_text(&pk, "next_seq");
        msgpack_pack_uint64(&pk, 1);
        if (sb.size != CT_WIRE_MAX_MESSAGE) {
            pad += CT_WIRE_MAX_MESSAGE - sb.size;
            msgpack_sbuffer_destroy(&sb);
            continue;
        }
        cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s", fault.msg);
        cr_assert_eq(msg->type, CT_MSG_HELLO);
        msgpack_sbuffer_write(&sb, "\xc0", 1);
        expect(sb.data, sb.size, CT_WERR_TOO_LARGE, "exceeds 1 MiB");
        msgpack_sbuffer_destroy(&sb);
        break;
    }
    cr_assert_eq(count_cases, 1, "the exact-size frame was never built");
    free(padding);
}

/* ------------------------------------------------------------------ hello and ids */

Test(malformed, hello_fields_of_the_wrong_type_are_refused)
{
    expect_built(CT_MSG_HELLO, "agent", as_int_7, CT_WERR_MALFORMED, "hello.agent: not a string");
    expect_built(CT_MSG_HELLO, "agent", as_bin, CT_WERR_MALFORMED, "hello.agent: not a string");
    expect_built(CT_MSG_HELLO, "district", as_nil, CT_WERR_MALFORMED,
                 "hello.district: not a string");
    expect_built(CT_MSG_HELLO, "next_seq", as_string_1, CT_WERR_MALFORMED, "hello.next_seq");
    expect_built(CT_MSG_HELLO, "next_seq", as_minus_1, CT_WERR_MALFORMED, "hello.next_seq");
    expect_built(CT_MSG_HELLO, "next_seq", as_float_1, CT_WERR_MALFORMED, "hello.next_seq");
}

Test(malformed, hello_missing_fields_are_refused)
{
    expect_built(CT_MSG_HELLO, "agent", NULL, CT_WERR_MALFORMED, "missing key 'agent'");
    expect_built(CT_MSG_HELLO, "district", NULL, CT_WERR_MALFORMED, "missing key 'district'");
    expect_built(CT_MSG_HELLO, "next_seq", NULL, CT_WERR_MALFORMED, "missing key 'next_seq'");
}

Test(malformed, over_long_ids_are_refused)
{
    struct override ok = {"agent", as_64_byte_id};

    expect_built(CT_MSG_HELLO, "agent", as_65_byte_id, CT_WERR_MALFORMED, "hello.agent: not an id");
    expect_built(CT_MSG_BATCH, "district", as_65_byte_id, CT_WERR_MALFORMED,
                 "batch.district: not an id");
    expect_ok(CT_MSG_HELLO, &ok); /* 64 bytes is the limit, and fine */
    cr_assert_eq(strlen(msg->hello.agent), 64);
}

Test(malformed, ids_outside_a_z_0_9_dash_underscore_are_refused)
{
    expect_built(CT_MSG_HELLO, "agent", as_upper_id, CT_WERR_MALFORMED, "hello.agent: not an id");
    expect_built(CT_MSG_HELLO, "agent", as_space_id, CT_WERR_MALFORMED, "hello.agent: not an id");
    expect_built(CT_MSG_HELLO, "district", as_slash_id, CT_WERR_MALFORMED,
                 "hello.district: not an id");
    expect_built(CT_MSG_HELLO, "district", as_chinese_id, CT_WERR_MALFORMED,
                 "hello.district: not an id");
    expect_built(CT_MSG_BATCH, "agent", as_empty_string, CT_WERR_MALFORMED,
                 "batch.agent: not an id");
}

/* ------------------------------------------------------------------ batch structure */

Test(malformed, batch_fields_of_the_wrong_type_are_refused)
{
    expect_built(CT_MSG_BATCH, "updates", as_empty_map, CT_WERR_MALFORMED,
                 "batch.updates: not an array");
    expect_built(CT_MSG_BATCH, "updates", NULL, CT_WERR_MALFORMED, "missing key 'updates'");
    expect_built(CT_MSG_BATCH, "updates", as_array_of_int, CT_WERR_MALFORMED,
                 "updates[0]: not a map");
    expect_built(CT_MSG_BATCH, "agent", as_true, CT_WERR_MALFORMED, "batch.agent: not a string");
}

Test(malformed, update_fields_of_the_wrong_type_are_refused)
{
    static const struct {
        const char *path;
        value_fn value;
        const char *needle;
    } cases[] = {
        {"updates.seq", as_string_1, "updates[0].seq: not a non-negative integer"},
        {"updates.seq", as_nil, "updates[0].seq: not a non-negative integer"},
        {"updates.ind", as_int_7, "updates[0].ind: not a string"},
        {"updates.ind", as_bin, "updates[0].ind: not a string"},
        {"updates.period", as_float_1, "updates[0].period: not an integer"},
        {"updates.period", as_string_1, "updates[0].period: not an integer"},
        {"updates.op", as_int_7, "updates[0].op: not a string"},
        {"updates.value", as_string_1, "updates[0].value: not a number"},
        {"updates.value", as_true, "updates[0].value: not a number"},
        {"updates.value", as_nil, "updates[0].value: not a number"},
        {"updates.value", as_ext, "updates[0].value: not a number"},
        {"updates.at", as_float_half, "updates[0].at: not an integer"},
        {"updates.at", as_string_1, "updates[0].at: not an integer"},
        {"updates.note", as_int_7, "updates[0].note: not a string"},
        {"updates.note", as_empty_array, "updates[0].note: not a string"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_built(CT_MSG_BATCH, cases[i].path, cases[i].value, CT_WERR_MALFORMED,
                     cases[i].needle);
}

Test(malformed, update_missing_required_fields_are_refused)
{
    static const char *const required[] = {"seq", "ind", "period", "op", "value", "at"};

    for (size_t i = 0; i < 6; i++) {
        char path[32], needle[64];
        snprintf(path, sizeof(path), "updates.%s", required[i]);
        snprintf(needle, sizeof(needle), "updates[0]: missing key '%s'", required[i]);
        expect_built(CT_MSG_BATCH, path, NULL, CT_WERR_MALFORMED, needle);
    }
}

Test(malformed, note_is_optional_and_nil_means_none)
{
    struct override omit = {"updates.note", NULL}, nil = {"updates.note", as_nil};

    expect_ok(CT_MSG_BATCH, &omit);
    cr_assert_not(msg->batch.updates[0].has_note);
    expect_ok(CT_MSG_BATCH, &nil);
    cr_assert_not(msg->batch.updates[0].has_note);
    cr_assert_eq(msg->batch.updates[0].fault, CT_REJECT_NONE);
}

Test(malformed, seq_zero_is_refused)
{
    expect_built(CT_MSG_BATCH, "updates.seq", as_zero, CT_WERR_MALFORMED,
                 "updates[0].seq: must be at least 1");
}

Test(malformed, negative_seq_is_refused)
{
    expect_built(CT_MSG_BATCH, "updates.seq", as_minus_1, CT_WERR_MALFORMED,
                 "updates[0].seq: not a non-negative integer");
}

Test(malformed, float_seq_is_refused)
{
    /* even 1.0, which a lax reader might take as 1 */
    expect_built(CT_MSG_BATCH, "updates.seq", as_float_1, CT_WERR_MALFORMED,
                 "updates[0].seq: not a non-negative integer");
}

/* Packs a batch whose updates carry `seqs`, otherwise valid. */
static void build_seq_batch(msgpack_sbuffer *sb, const uint64_t *seqs, size_t n)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_text(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "t");
    pack_text(&pk, "batch");
    pack_text(&pk, "agent");
    pack_text(&pk, "a");
    pack_text(&pk, "district");
    pack_text(&pk, "d");
    pack_text(&pk, "updates");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&pk, 6);
        pack_text(&pk, "seq");
        msgpack_pack_uint64(&pk, seqs[i]);
        pack_text(&pk, "ind");
        pack_text(&pk, "st_enterprises");
        pack_text(&pk, "period");
        msgpack_pack_int64(&pk, 2015);
        pack_text(&pk, "op");
        pack_text(&pk, "add");
        pack_text(&pk, "value");
        msgpack_pack_int64(&pk, (int64_t)i);
        pack_text(&pk, "at");
        msgpack_pack_int64(&pk, 1435658400000LL);
    }
}

Test(malformed, non_contiguous_seqs_in_a_batch_are_refused)
{
    static const uint64_t gap[] = {3, 5}, backwards[] = {7, 6}, repeat[] = {4, 4},
                          late_gap[] = {1, 2, 3, 5};
    msgpack_sbuffer sb;

    build_seq_batch(&sb, gap, 2);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "updates[1].seq: 5 does not follow 3");
    msgpack_sbuffer_destroy(&sb);
    build_seq_batch(&sb, backwards, 2);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "updates[1].seq: 6 does not follow 7");
    msgpack_sbuffer_destroy(&sb);
    build_seq_batch(&sb, repeat, 2);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "updates[1].seq: 4 does not follow 4");
    msgpack_sbuffer_destroy(&sb);
    build_seq_batch(&sb, late_gap, 4);
    expect(sb.data, sb.size, CT_WERR_MALFORMED, "updates[3].seq: 5 does not follow 3");
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, batch_of_1001_updates_is_too_large)
{
    uint64_t seqs[CT_WIRE_MAX_BATCH + 1];
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    for (size_t i = 0; i <= CT_WIRE_MAX_BATCH; i++)
        seqs[i] = 1 + i;
    build_seq_batch(&sb, seqs, CT_WIRE_MAX_BATCH + 1);
    expect(sb.data, sb.size, CT_WERR_TOO_LARGE, "batch.updates: 1001 items, at most 1000");
    msgpack_sbuffer_destroy(&sb);
    build_seq_batch(&sb, seqs, CT_WIRE_MAX_BATCH); /* 1000 is fine */
    cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s", fault.msg);
    cr_assert_eq(msg->batch.n_updates, CT_WIRE_MAX_BATCH);
    cr_assert_eq(msg->batch.updates[999].seq, 1000);
    msgpack_sbuffer_destroy(&sb);
}

Test(malformed, empty_batch_decodes)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    build_seq_batch(&sb, NULL, 0);
    cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s", fault.msg);
    cr_assert_eq(msg->batch.n_updates, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------ welcome, ack, error */

Test(malformed, welcome_fields_of_the_wrong_type_are_refused)
{
    expect_built(CT_MSG_WELCOME, "last_seq", as_string_1, CT_WERR_MALFORMED,
                 "welcome.last_seq: not a non-negative integer");
    expect_built(CT_MSG_WELCOME, "last_seq", NULL, CT_WERR_MALFORMED, "missing key 'last_seq'");
    expect_built(CT_MSG_WELCOME, "catalog", as_int_7, CT_WERR_MALFORMED,
                 "welcome.catalog: not an array");
    expect_built(CT_MSG_WELCOME, "catalog", as_array_of_int, CT_WERR_MALFORMED,
                 "catalog[0]: not a map");
    expect_built(CT_MSG_WELCOME, "catalog.code", as_upper_id, CT_WERR_MALFORMED,
                 "catalog[0].code: not an id");
    expect_built(CT_MSG_WELCOME, "catalog.name_zh", as_int_7, CT_WERR_MALFORMED,
                 "catalog[0].name_zh: not a string");
    expect_built(CT_MSG_WELCOME, "catalog.name_zh", as_invalid_utf8, CT_WERR_MALFORMED,
                 "catalog[0].name_zh: not valid UTF-8");
    expect_built(CT_MSG_WELCOME, "catalog.name_zh", as_257_byte_name, CT_WERR_MALFORMED,
                 "catalog[0].name_zh: longer than 256 bytes");
    expect_built(CT_MSG_WELCOME, "catalog.reported_by", NULL, CT_WERR_MALFORMED,
                 "catalog[0]: missing key 'reported_by'");
    expect_built(CT_MSG_WELCOME, "catalog", as_array_of_1001_entries, CT_WERR_MALFORMED,
                 "welcome.catalog: 1001 items, at most 1000");
}

Test(malformed, ack_fields_of_the_wrong_type_are_refused)
{
    expect_built(CT_MSG_ACK, "last_seq", as_minus_1, CT_WERR_MALFORMED,
                 "ack.last_seq: not a non-negative integer");
    expect_built(CT_MSG_ACK, "rejected", NULL, CT_WERR_MALFORMED, "missing key 'rejected'");
    expect_built(CT_MSG_ACK, "rejected", as_empty_map, CT_WERR_MALFORMED,
                 "ack.rejected: not an array");
    expect_built(CT_MSG_ACK, "rejected.seq", as_string_1, CT_WERR_MALFORMED,
                 "rejected[0].seq: not a non-negative integer");
    expect_built(CT_MSG_ACK, "rejected.code", as_int_7, CT_WERR_MALFORMED,
                 "rejected[0].code: not a string");
    expect_built(CT_MSG_ACK, "rejected.code", as_33_byte_code, CT_WERR_MALFORMED,
                 "rejected[0].code: longer than 32 bytes");
    expect_built(CT_MSG_ACK, "rejected.msg", as_invalid_utf8, CT_WERR_MALFORMED,
                 "rejected[0].msg: not valid UTF-8");
}

Test(malformed, error_fields_of_the_wrong_type_are_refused)
{
    expect_built(CT_MSG_ERROR, "code", NULL, CT_WERR_MALFORMED, "missing key 'code'");
    expect_built(CT_MSG_ERROR, "code", as_int_7, CT_WERR_MALFORMED, "error.code: not a string");
    expect_built(CT_MSG_ERROR, "code", as_33_byte_code, CT_WERR_MALFORMED,
                 "error.code: longer than 32 bytes");
    expect_built(CT_MSG_ERROR, "msg", as_nil, CT_WERR_MALFORMED, "error.msg: not a string");
    expect_built(CT_MSG_ERROR, "last_seq", as_float_1, CT_WERR_MALFORMED,
                 "error.last_seq: not a non-negative integer");
    expect_built(CT_MSG_ERROR, "last_seq", NULL, CT_WERR_MALFORMED, "missing key 'last_seq'");
}

/* ------------------------------------------------------------------ per-update faults */

/* The update of the batch below: seq i, and the fault the test gives it (or none). */
static void pack_fault_update(msgpack_packer *pk, int i)
{
    char note[300];
    int n_keys = 7;

    msgpack_pack_map(pk, n_keys);
    pack_text(pk, "seq");
    msgpack_pack_uint64(pk, (uint64_t)i);
    pack_text(pk, "ind");
    pack_text(pk, i == 9 ? "Not An Id" : "hightech_output");
    pack_text(pk, "period");
    msgpack_pack_int64(pk, i == 7 ? 1999 : 2015);
    pack_text(pk, "op");
    pack_text(pk, i == 4 ? "mul" : i % 2 ? "add" : "set");
    pack_text(pk, "value");
    if (i == 2)
        msgpack_pack_double(pk, NAN);
    else if (i == 3)
        msgpack_pack_double(pk, INFINITY);
    else
        msgpack_pack_double(pk, 1.25 * i);
    pack_text(pk, "at");
    /* update 8: one millisecond before 2000-01-01T00:00:00+08:00 */
    msgpack_pack_int64(pk, i == 8 ? CT_WIRE_AT_MIN_MS - 1 : 1435658400000LL + i);
    pack_text(pk, "note");
    if (i == 5) {
        memset(note, 'x', 257);
        msgpack_pack_str_with_body(pk, note, 257);
    } else if (i == 6) {
        msgpack_pack_str_with_body(pk, "caf\xc3", 4); /* cut inside a 2-byte sequence */
    } else {
        snprintf(note, sizeof(note), "第%d条", i);
        pack_text(pk, note);
    }
}

Test(malformed, per_update_faults_reject_only_their_update)
{
    static const enum ct_reject expected[11] = {
        [1] = CT_REJECT_NONE,       [2] = CT_REJECT_BAD_VALUE, [3] = CT_REJECT_BAD_VALUE,
        [4] = CT_REJECT_BAD_OP,     [5] = CT_REJECT_BAD_NOTE,  [6] = CT_REJECT_BAD_NOTE,
        [7] = CT_REJECT_BAD_PERIOD, [8] = CT_REJECT_BAD_TIME,  [9] = CT_REJECT_UNKNOWN_INDICATOR,
        [10] = CT_REJECT_NONE,
    };
    static const char *const codes[11] = {
        [1] = "",           [2] = "bad_value", [3] = "bad_value",
        [4] = "bad_op",     [5] = "bad_note",  [6] = "bad_note",
        [7] = "bad_period", [8] = "bad_time",  [9] = "unknown_indicator",
        [10] = "",
    };
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_text(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "t");
    pack_text(&pk, "batch");
    pack_text(&pk, "agent");
    pack_text(&pk, "erqi-01");
    pack_text(&pk, "district");
    pack_text(&pk, "erqi");
    pack_text(&pk, "updates");
    msgpack_pack_array(&pk, 10);
    for (int i = 1; i <= 10; i++)
        pack_fault_update(&pk, i);

    cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s", fault.msg);
    cr_assert_eq(msg->batch.n_updates, 10);
    for (int i = 1; i <= 10; i++) {
        const struct ct_update *u = &msg->batch.updates[i - 1];
        cr_assert_eq(u->seq, (uint64_t)i);
        cr_assert_eq(u->fault, expected[i], "update %d: %s, expected %s", i,
                     ct_reject_code(u->fault), codes[i]);
        cr_assert_str_eq(ct_reject_code(u->fault), codes[i]);
        if (expected[i] == CT_REJECT_NONE)
            cr_assert_null(u->fault_msg);
        else
            cr_assert(u->fault_msg != NULL && u->fault_msg[0] != '\0', "update %d unexplained", i);
    }
    /* the clean ones decode with their values */
    const struct ct_update *first = &msg->batch.updates[0], *last = &msg->batch.updates[9];
    cr_assert_str_eq(first->ind, "hightech_output");
    cr_assert_eq(first->op, CT_OP_ADD);
    cr_assert_eq(first->value.kind, CT_VALUE_FLOAT);
    cr_assert_eq(first->value.as.f, 1.25);
    cr_assert_eq(first->period, 2015);
    cr_assert_eq(first->at_ms, 1435658400001LL);
    cr_assert(first->has_note);
    cr_assert_str_eq(first->note, "第1条");
    cr_assert_eq(last->op, CT_OP_SET);
    cr_assert_eq(last->value.as.f, 12.5);
    cr_assert_str_eq(last->note, "第10条");
    /* faulty fields are not passed on as if valid */
    cr_assert_not(msg->batch.updates[4].has_note);
    cr_assert_not(msg->batch.updates[5].has_note);
    cr_assert_str_eq(msg->batch.updates[8].ind, "");
    cr_assert_eq(msg->batch.updates[3].op, CT_OP_INVALID);
    msgpack_sbuffer_destroy(&sb);
}

/* One batch with a single update where `path` holds `value`; returns that update's fault. */
static enum ct_reject fault_of(const char *path, value_fn value)
{
    struct override o = {path, value};
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    build(&sb, CT_MSG_BATCH, &o);
    cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s: %s", path, fault.msg);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_eq(msg->batch.n_updates, 1);
    return msg->batch.updates[0].fault;
}

BAD_FN(as_minus_inf, msgpack_pack_double(pk, -INFINITY))
BAD_FN(as_float32_nan, msgpack_pack_float(pk, NAN))
BAD_FN(as_year_2100, msgpack_pack_int64(pk, 2100))
BAD_FN(as_year_2101, msgpack_pack_int64(pk, 2101))
BAD_FN(as_year_2000, msgpack_pack_int64(pk, 2000))
BAD_FN(as_negative_year, msgpack_pack_int64(pk, -2015))
BAD_FN(as_huge_uint, msgpack_pack_uint64(pk, UINT64_MAX))
BAD_FN(as_at_min, msgpack_pack_int64(pk, CT_WIRE_AT_MIN_MS))
BAD_FN(as_at_max, msgpack_pack_int64(pk, CT_WIRE_AT_MAX_MS))
BAD_FN(as_at_seconds, msgpack_pack_int64(pk, 1435658400)) /* seconds, not ms: 1970 */
BAD_FN(as_op_upper, pack_text(pk, "SET"))
BAD_FN(as_note_with_nul, msgpack_pack_str_with_body(pk, "a\0b", 3))
BAD_FN(as_note_surrogate, msgpack_pack_str_with_body(pk, "\xed\xa0\x80", 3))
BAD_FN(as_note_overlong, msgpack_pack_str_with_body(pk, "\xc0\xaf", 2))

static void as_256_byte_note(msgpack_packer *pk, const struct override *o)
{
    char note[256];
    (void)o;
    for (size_t i = 0; i < sizeof(note); i += 4)
        memcpy(note + i, "\xf0\x9f\x93\x88", 4); /* U+1F4C8, 4 bytes */
    msgpack_pack_str_with_body(pk, note, sizeof(note));
}

Test(malformed, per_update_fault_boundaries)
{
    cr_assert_eq(fault_of("updates.value", as_minus_inf), CT_REJECT_BAD_VALUE);
    cr_assert_eq(fault_of("updates.value", as_float32_nan), CT_REJECT_BAD_VALUE);
    cr_assert_eq(fault_of("updates.value", as_huge_uint), CT_REJECT_NONE);
    cr_assert_eq(msg->batch.updates[0].value.kind, CT_VALUE_UINT);
    cr_assert_eq(fault_of("updates.period", as_year_2000), CT_REJECT_NONE);
    cr_assert_eq(fault_of("updates.period", as_year_2100), CT_REJECT_NONE);
    cr_assert_eq(fault_of("updates.period", as_year_2101), CT_REJECT_BAD_PERIOD);
    cr_assert_eq(fault_of("updates.period", as_negative_year), CT_REJECT_BAD_PERIOD);
    cr_assert_eq(fault_of("updates.period", as_huge_uint), CT_REJECT_BAD_PERIOD);
    cr_assert_eq(fault_of("updates.at", as_at_min), CT_REJECT_NONE);
    cr_assert_eq(fault_of("updates.at", as_at_max), CT_REJECT_BAD_TIME);
    cr_assert_eq(fault_of("updates.at", as_at_seconds), CT_REJECT_BAD_TIME);
    cr_assert_eq(fault_of("updates.at", as_huge_uint), CT_REJECT_BAD_TIME);
    cr_assert_eq(fault_of("updates.op", as_op_upper), CT_REJECT_BAD_OP);
    cr_assert_eq(fault_of("updates.op", as_empty_string), CT_REJECT_BAD_OP);
    cr_assert_eq(fault_of("updates.note", as_256_byte_note), CT_REJECT_NONE);
    cr_assert_eq(strlen(msg->batch.updates[0].note), 256);
    cr_assert_eq(fault_of("updates.note", as_note_with_nul), CT_REJECT_BAD_NOTE);
    cr_assert_eq(fault_of("updates.note", as_note_surrogate), CT_REJECT_BAD_NOTE);
    cr_assert_eq(fault_of("updates.note", as_note_overlong), CT_REJECT_BAD_NOTE);
    cr_assert_eq(fault_of("updates.ind", as_65_byte_id), CT_REJECT_UNKNOWN_INDICATOR);
    cr_assert_eq(fault_of("updates.ind", as_upper_id), CT_REJECT_UNKNOWN_INDICATOR);
    cr_assert_eq(fault_of("updates.ind", as_empty_string), CT_REJECT_UNKNOWN_INDICATOR);
    cr_assert_eq(fault_of("updates.ind", as_64_byte_id), CT_REJECT_NONE);
}

Test(malformed, first_fault_of_an_update_wins)
{
    /* NaN value and unknown op: the op is checked first; only one code is reported. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct ct_wire_fault fault;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_text(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "t");
    pack_text(&pk, "batch");
    pack_text(&pk, "agent");
    pack_text(&pk, "a");
    pack_text(&pk, "district");
    pack_text(&pk, "d");
    pack_text(&pk, "updates");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 6);
    pack_text(&pk, "seq");
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "ind");
    pack_text(&pk, "x");
    pack_text(&pk, "period");
    msgpack_pack_int64(&pk, 2015);
    pack_text(&pk, "op");
    pack_text(&pk, "div");
    pack_text(&pk, "value");
    msgpack_pack_double(&pk, NAN);
    pack_text(&pk, "at");
    msgpack_pack_int64(&pk, 1435658400000LL);
    cr_assert_eq(ct_wire_decode(sb.data, sb.size, msg, &fault), 0, "%s", fault.msg);
    cr_assert_eq(msg->batch.updates[0].fault, CT_REJECT_BAD_OP);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------ the scanner alone */

Test(malformed, scanner_accepts_every_msgpack_format)
{
    /* One object of each format inside an array: the scanner must know all their sizes. */
    static const char frame[] = "\xdc\x00\x24"     /* array16, 36 items */
                                "\x00\x7f\xe0\xff" /* fixints */
                                "\xc0\xc2\xc3"     /* nil, false, true */
                                "\xa1x"            /* fixstr */
                                "\xd9\x01x\xda\x00\x01x\xdb\x00\x00\x00\x01x" /* str8/16/32 */
                                "\xc4\x01x\xc5\x00\x01x\xc6\x00\x00\x00\x01x" /* bin8/16/32 */
                                "\xc7\x01\x05x\xc8\x00\x01\x05x"              /* ext8/16 */
                                "\xc9\x00\x00\x00\x01\x05x"                   /* ext32 */
                                "\xca\x00\x00\x00\x00"                        /* float32 */
                                "\xcb\x00\x00\x00\x00\x00\x00\x00\x00"        /* float64 */
                                "\xcc\x01\xcd\x00\x01\xce\x00\x00\x00\x01"    /* uint8/16/32 */
                                "\xcf\x00\x00\x00\x00\x00\x00\x00\x01"        /* uint64 */
                                "\xd0\xff\xd1\xff\xff"                        /* int8/16 */
                                "\xd2\xff\xff\xff\xff"                        /* int32 */
                                "\xd3\xff\xff\xff\xff\xff\xff\xff\xff"        /* int64 */
                                "\xd4\x05x\xd5\x05xx\xd6\x05xxxx"             /* fixext1/2/4 */
                                "\xd7\x05xxxxxxxx"                            /* fixext8 */
                                "\xd8\x05xxxxxxxxxxxxxxxx"                    /* fixext16 */
                                "\x90\x80\xdd\x00\x00\x00\x00\xdf\x00\x00\x00\x00"; /* empties */
    char why[128];

    cr_assert_eq(ct_wire_scan((const unsigned char *)frame, sizeof(frame) - 1, why, sizeof(why)), 0,
                 "%s", why);
    /* the same frame one byte short anywhere at the end is refused */
    cr_assert_eq(ct_wire_scan((const unsigned char *)frame, sizeof(frame) - 2, why, sizeof(why)),
                 -1);
    cr_assert(strstr(why, "truncated") != NULL, "%s", why);
}

Test(malformed, scanner_allows_exactly_the_maximum_depth)
{
    char frame[CT_WIRE_MAX_DEPTH + 1], why[128];

    memset(frame, 0x91, CT_WIRE_MAX_DEPTH);
    frame[CT_WIRE_MAX_DEPTH] = 0x01;
    cr_assert_eq(ct_wire_scan((unsigned char *)frame, sizeof(frame), why, sizeof(why)), 0, "%s",
                 why);
    char deeper[CT_WIRE_MAX_DEPTH + 2];
    memset(deeper, 0x91, CT_WIRE_MAX_DEPTH + 1);
    deeper[CT_WIRE_MAX_DEPTH + 1] = 0x01;
    cr_assert_eq(ct_wire_scan((unsigned char *)deeper, sizeof(deeper), why, sizeof(why)), -1);
    cr_assert(strstr(why, "nested too deeply") != NULL, "%s", why);
}
