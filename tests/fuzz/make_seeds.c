/*
 * make_seeds.c - writes the seed corpora of the fuzz targets.
 *
 * Not part of the build: the seeds are committed, and this program is how they were made.
 * To regenerate them (after a protocol change), from the repository root:
 *
 *   cc -std=c11 -Icommon -Ibuild/common tests/fuzz/make_seeds.c build/common/libct_common.a \
 *      $(pkg-config --libs msgpack inih) -lm -o /tmp/make_seeds && /tmp/make_seeds
 * tests/fuzz/corpus
 *
 * fuzz_wire gets one valid frame of every message type (built with the encoder, so they
 * are what a peer really sends), a batch whose updates carry every per-update fault, a
 * progress-feed frame and a few hand-made frames in other valid encodings. fuzz_csv_reader
 * gets CSV files shaped like the collector's imports; their first byte is the target's
 * limits byte.
 */
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *root;

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void write_msg(struct ct_wire_encoder *enc, const char *name, const struct ct_msg *m)
{
    const void *bytes;
    size_t len;

    if (ct_wire_encode(enc, m, &bytes, &len) != 0) {
        fprintf(stderr, "%s: cannot encode\n", name);
        exit(1);
    }
    write_seed("fuzz_wire", name, bytes, len);
}

static struct ct_update *add(struct ct_msg *m, uint64_t seq, const char *ind, enum ct_op op,
                             struct ct_value v, const char *note)
{
    struct ct_update *u;

    if (ct_msg_reserve(m, CT_MSG_BATCH, m->batch.n_updates + 1) != 0)
        exit(1);
    u = &m->batch.updates[m->batch.n_updates++];
    memset(u, 0, sizeof(*u));
    u->seq = seq;
    ct_strlcpy(u->ind, ind, sizeof(u->ind));
    u->period = 2015;
    u->op = op;
    u->value = v;
    u->at_ms = 1435658400000LL + (int64_t)seq;
    if (note != NULL) {
        u->has_note = true;
        ct_strlcpy(u->note, note, sizeof(u->note));
    }
    return u;
}

static void wire_seeds(void)
{
    struct ct_wire_encoder *enc = ct_wire_encoder_new();
    struct ct_msg *m = ct_msg_new();
    struct ct_feed_msg *feed = calloc(1, sizeof(*feed));
    struct ct_value i = {.kind = CT_VALUE_INT, .as.i = -3};
    struct ct_value u = {.kind = CT_VALUE_UINT, .as.u = UINT64_MAX};
    struct ct_value f = {.kind = CT_VALUE_FLOAT, .as.f = 6.8};
    const void *bytes;
    size_t len;

    if (enc == NULL || m == NULL || feed == NULL)
        exit(1);

    m->type = CT_MSG_HELLO;
    ct_strlcpy(m->hello.agent, "erqi-01", sizeof(m->hello.agent));
    ct_strlcpy(m->hello.district, "erqi", sizeof(m->hello.district));
    m->hello.next_seq = 300;
    write_msg(enc, "hello", m);

    m->type = CT_MSG_BATCH;
    ct_strlcpy(m->batch.agent, "erqi-01", sizeof(m->batch.agent));
    ct_strlcpy(m->batch.district, "erqi", sizeof(m->batch.district));
    add(m, 7, "hightech_output", CT_OP_ADD, f, "Q2");
    add(m, 8, "st_enterprises", CT_OP_SET, i, NULL);
    add(m, 9, "incubation_area", CT_OP_SET, u, "第二季度");
    write_msg(enc, "batch", m);

    /* every per-update fault, in values the encoder can still write */
    m->batch.n_updates = 0;
    add(m, 1, "hightech_output", CT_OP_SET, f, NULL)->period = 1999;
    add(m, 2, "hightech_output", CT_OP_SET, f, NULL)->at_ms = 946655999999LL;
    add(m, 3, "no_such_indicator", CT_OP_ADD, i, NULL);
    add(m, 4, "hightech_output", CT_OP_ADD, f, "ok");
    write_msg(enc, "batch_bad_period_time", m);

    /* `queued` (CONTRACT section 9): one plausible, one before 2000 (dropped on decode) */
    m->batch.n_updates = 0;
    add(m, 10, "hightech_output", CT_OP_SET, f, NULL)->queued_ms = 1436428800123LL;
    add(m, 11, "st_enterprises", CT_OP_ADD, i, NULL)->queued_ms = 1;
    write_msg(enc, "batch_queued", m);

    m->type = CT_MSG_WELCOME;
    m->welcome.last_seq = 70000;
    m->welcome.n_catalog = 0;
    if (ct_msg_reserve(m, CT_MSG_WELCOME, 3) != 0)
        exit(1);
    static const char *const catalog[3][3] = {
        {"hightech_output", "高新技术产业产值", "district"},
        {"st_contribution_rate", "科技进步对经济增长的贡献率", "city"},
        {"incubation_area", "新增孵化面积", "district"},
    };
    for (size_t k = 0; k < 3; k++) {
        struct ct_catalog_entry *e = &m->welcome.catalog[m->welcome.n_catalog++];
        ct_strlcpy(e->code, catalog[k][0], sizeof(e->code));
        ct_strlcpy(e->name_zh, catalog[k][1], sizeof(e->name_zh));
        ct_strlcpy(e->reported_by, catalog[k][2], sizeof(e->reported_by));
    }
    write_msg(enc, "welcome", m);

    m->type = CT_MSG_ACK;
    m->ack.last_seq = 9;
    m->ack.n_rejected = 0;
    if (ct_msg_reserve(m, CT_MSG_ACK, 2) != 0)
        exit(1);
    m->ack.rejected[0] = (struct ct_rejection){8, "bad_period", "period is not a year"};
    m->ack.rejected[1] = (struct ct_rejection){9, "unknown_indicator", "no indicator 'gdp'"};
    m->ack.n_rejected = 2;
    write_msg(enc, "ack", m);

    /* `due` (CONTRACT section 9) on a welcome and an ack */
    if (ct_msg_reserve_missing(m, 2) != 0)
        exit(1);
    m->due =
        (struct ct_due){.has_due = true, .n_rounds = 2, .n_missing = 2, .missing = m->due.missing};
    m->due.rounds[0] = (struct ct_due_round){2015, "Q1", "2015-04-10", 0, 2};
    m->due.rounds[1] = (struct ct_due_round){2015, "H1", "2015-07-10", 2, 0};
    ct_strlcpy(m->due.missing[0], "hightech_output", sizeof(m->due.missing[0]));
    ct_strlcpy(m->due.missing[1], "incubation_area", sizeof(m->due.missing[1]));
    write_msg(enc, "ack_due", m);
    m->type = CT_MSG_WELCOME;
    write_msg(enc, "welcome_due", m);
    m->due.has_due = false;

    m->type = CT_MSG_ERROR;
    memset(&m->error, 0, sizeof(m->error));
    m->error.error = CT_WERR_SEQ_GAP;
    ct_strlcpy(m->error.msg, "expected seq 5", sizeof(m->error.msg));
    m->error.last_seq = 4;
    write_msg(enc, "error", m);

    feed->year = 2015;
    feed->as_of_ms = 1435658400000LL;
    feed->n_targets = 2;
    feed->targets[0] = (struct ct_feed_target){
        "hightech_output", true, true, true, 1234.5, 2000, 61.725, "on_track"};
    feed->targets[1] =
        (struct ct_feed_target){"st_contribution", false, true, false, 0, 60, 0, "no_data"};
    if (ct_wire_encode_feed(enc, feed, &bytes, &len) != 0)
        exit(1);
    write_seed("fuzz_wire", "feed", bytes, len);

    /* NaN and float32 values, which the encoder will not write */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "batch", 5);
    msgpack_pack_str_with_body(&pk, "agent", 5);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_str_with_body(&pk, "district", 8);
    msgpack_pack_str_with_body(&pk, "d", 1);
    msgpack_pack_str_with_body(&pk, "x-unknown", 9);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_bin_with_body(&pk, "\x00\x01", 2);
    msgpack_pack_str_with_body(&pk, "updates", 7);
    msgpack_pack_array(&pk, 2);
    for (int k = 0; k < 2; k++) {
        msgpack_pack_map(&pk, 7);
        msgpack_pack_str_with_body(&pk, "seq", 3);
        msgpack_pack_uint64(&pk, 1 + (uint64_t)k);
        msgpack_pack_str_with_body(&pk, "ind", 3);
        msgpack_pack_str_with_body(&pk, "hightech_output", 15);
        msgpack_pack_str_with_body(&pk, "period", 6);
        msgpack_pack_int64(&pk, 2015);
        msgpack_pack_str_with_body(&pk, "op", 2);
        msgpack_pack_str_with_body(&pk, k ? "mul" : "set", 3);
        msgpack_pack_str_with_body(&pk, "value", 5);
        if (k)
            msgpack_pack_double(&pk, NAN);
        else
            msgpack_pack_float(&pk, 0.5f);
        msgpack_pack_str_with_body(&pk, "at", 2);
        msgpack_pack_int64(&pk, 1435658400000LL);
        msgpack_pack_str_with_body(&pk, "note", 4);
        if (k)
            msgpack_pack_str_with_body(&pk, "caf\xc3", 4);
        else
            msgpack_pack_nil(&pk);
    }
    write_seed("fuzz_wire", "batch_raw_faults", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    ct_msg_free(m);
    free(feed);
    ct_wire_encoder_free(enc);
}

static void csv_seed(const char *name, unsigned char limits, const char *text)
{
    char buf[4096];
    size_t len = strlen(text);

    buf[0] = (char)limits;
    memcpy(buf + 1, text, len);
    write_seed("fuzz_csv_reader", name, buf, len + 1);
}

static void csv_seeds(void)
{
    /* limits byte: low nibble + 1 = max fields, high nibble * 37 + 1 = scratch bytes */
    csv_seed("import", 0xf7,
             "indicator,value,period,op,observed_at,note\n"
             "hightech_output,\"1,234.5\",2015,set,2015-06-30,\"Q2, revised\"\n"
             "st_enterprises,3,,add,2015-06-30T17:00:00+08:00,\n");
    csv_seed("import_crlf_bom", 0xf7,
             "\xef\xbb\xbf"
             "indicator,value\r\n高新技术产业产值,6.8\r\n\r\nincubation_area,6500\r\n");
    csv_seed("quotes_and_breaks", 0xf7,
             "a,\"say \"\"hi\"\"\",\"two\nlines\"\rb,\"crlf\r\ninside\",c\n");
    csv_seed("errors", 0x22,
             "1,2,3,4\n\"text\"after,x\n0123456789012345678901234567890123456789012345678901234567"
             "890123456789012345678901234567890123456789,x\n\"never closed\n");
    csv_seed("targets", 0xff,
             "code,indicator,kind,comparator,target,year\n"
             "hightech_output_growth,hightech_output,growth,>=,15,2015\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (with fuzz_wire/ and fuzz_csv_reader/)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    wire_seeds();
    csv_seeds();
    return 0;
}
