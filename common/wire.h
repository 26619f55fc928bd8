/*
 * wire.h - the collector <-> aggregator protocol, version 1 (CONTRACT section 3).
 *
 * Every ZeroMQ frame holds one msgpack map. This module turns frames into `struct ct_msg`
 * and back, and is the only place that knows the byte layout.
 *
 * Decoding treats the frame as hostile. It first walks the raw bytes (wire_scan.c) to check
 * that the frame is exactly one msgpack object, no deeper than CT_WIRE_MAX_DEPTH, and that
 * no container claims more elements than there are bytes left; only then does msgpack-c
 * build its object tree, so nothing is ever allocated for a length the input merely claims.
 *
 * Two kinds of fault are kept apart:
 * - A structural fault (not msgpack, wrong type, missing key, bad id, seq not a positive
 *   integer, too many updates) makes ct_wire_decode() fail with CT_WERR_MALFORMED, or
 *   CT_WERR_UNSUPPORTED_VERSION / CT_WERR_TOO_LARGE, and a message naming the field.
 * - A bad value inside a well-typed update (NaN value, unknown op, bad note, implausible
 *   period or time, indicator that is not an id) only sets that update's `fault`, so the
 *   aggregator can reject it alone and store the rest of the batch.
 * - Optional keys of CONTRACT section 9: an update's `queued` (when the collector queued
 *   it; an implausible time is dropped, as if absent) and the `due` of a welcome or an ack
 *   (advice for the clerk: a malformed one is dropped, never the message carrying it).
 *
 * Ownership: a `struct ct_msg` owns its arrays (updates, catalog, rejected, due.missing) and is
 * reused across decodes; ct_msg_free() releases them. Strings are copied out of the frame into
 * fixed-size fields, so a decoded message never points into the frame. The encoder owns
 * one growing buffer that each ct_wire_encode() call reuses; the bytes it returns are valid
 * until the next call.
 */
#ifndef CT_WIRE_H
#define CT_WIRE_H

#include "text.h"
#include "value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_WIRE_VERSION 1
#define CT_WIRE_MAX_MESSAGE (1024 * 1024) /* bytes in one frame */
#define CT_WIRE_MAX_BATCH 1000            /* updates in one batch */
#define CT_WIRE_MAX_NOTE 256              /* bytes of UTF-8 */
#define CT_WIRE_MAX_CATALOG 1000          /* indicators in a welcome */
#define CT_WIRE_MAX_NAME 256              /* bytes of an indicator's Chinese name */
#define CT_WIRE_MAX_CODE 32               /* bytes of an error or rejection code */
#define CT_WIRE_MAX_TEXT 512              /* bytes of an error or rejection message */
#define CT_WIRE_MAX_DEPTH 8               /* nesting; version 1 needs 4 */
#define CT_WIRE_MAX_DUE 16                /* rounds in a welcome's or ack's `due` */
#define CT_WIRE_DATE_LEN 10               /* "2015-04-10" */

/* Plausible periods and observation times; outside them an update is rejected. */
#define CT_WIRE_PERIOD_MIN 2000
#define CT_WIRE_PERIOD_MAX 2100
#define CT_WIRE_AT_MIN_MS 946656000000LL  /* 2000-01-01T00:00:00+08:00 */
#define CT_WIRE_AT_MAX_MS 4102416000000LL /* 2100-01-01T00:00:00+08:00 */

enum ct_msg_type {
    CT_MSG_HELLO = 1,
    CT_MSG_BATCH,
    CT_MSG_WELCOME,
    CT_MSG_ACK,
    CT_MSG_ERROR,
};

enum ct_op {
    CT_OP_INVALID = 0,
    CT_OP_SET,
    CT_OP_ADD,
};

/* Why one update was refused; the text forms are the contract's rejection codes. */
enum ct_reject {
    CT_REJECT_NONE = 0,
    CT_REJECT_UNKNOWN_INDICATOR,
    CT_REJECT_NOT_REPORTABLE_BY_DISTRICT,
    CT_REJECT_BAD_VALUE,
    CT_REJECT_BAD_PERIOD,
    CT_REJECT_BAD_OP,
    CT_REJECT_BAD_TIME,
    CT_REJECT_BAD_NOTE,
};

/* Why a whole message was refused; the text forms are the contract's error codes. */
enum ct_wire_error {
    CT_WERR_NONE = 0,
    CT_WERR_MALFORMED,
    CT_WERR_UNSUPPORTED_VERSION,
    CT_WERR_UNKNOWN_AGENT,
    CT_WERR_WRONG_DISTRICT,
    CT_WERR_SEQ_GAP,
    CT_WERR_TOO_LARGE,
    CT_WERR_UNAVAILABLE,
    CT_WERR_AGENT_IN_USE, /* another instance of the agent is connected (CONTRACT 7) */
    CT_WERR_OTHER,        /* a code this version does not know; its text is kept */
};

struct ct_update {
    uint64_t seq;
    int64_t at_ms;     /* observation time, Unix ms */
    int64_t period;    /* year */
    int64_t queued_ms; /* when the collector queued it, Unix ms (`queued`, optional: a value
                          outside CT_WIRE_AT_MIN_MS..CT_WIRE_AT_MAX_MS decodes as 0, absent) */
    enum ct_op op;
    struct ct_value value;
    enum ct_reject fault;  /* CT_REJECT_NONE, or the first per-update fault found */
    const char *fault_msg; /* why, for the rejection message (static text); NULL if none */
    bool has_note;
    char ind[CT_ID_MAX + 1];         /* empty when the sender's text was not an id */
    char note[CT_WIRE_MAX_NOTE + 1]; /* valid UTF-8 when fault != CT_REJECT_BAD_NOTE */
};

struct ct_catalog_entry {
    char code[CT_ID_MAX + 1];
    char name_zh[CT_WIRE_MAX_NAME + 1];
    char reported_by[CT_ID_MAX + 1];
};

struct ct_rejection {
    uint64_t seq;
    char code[CT_WIRE_MAX_CODE + 1];
    char msg[CT_WIRE_MAX_TEXT + 1];
};

/* A plausibility warning on a stored update (CONTRACT section 10): the update counts. */
struct ct_warning {
    uint64_t seq;
    char code[CT_WIRE_MAX_CODE + 1]; /* implausible_yoy, unit_slip, flow_decrease, ... */
    char msg[CT_WIRE_MAX_TEXT + 1];
};

/* One round of `due` (CONTRACT section 9): its missing codes are
 * due_missing[first_missing .. first_missing + n_missing) of the ct_msg. */
struct ct_due_round {
    int64_t year; /* also on the wire, as "year" (an extra key peers may ignore) */
    char round[CT_WIRE_MAX_CODE + 1];
    char due[CT_WIRE_DATE_LEN + 1]; /* YYYY-MM-DD, UTC+8 */
    size_t first_missing, n_missing;
};

/* `due` of a welcome or an ack: present only when `has_due`. */
struct ct_due {
    bool has_due;
    size_t n_rounds;
    struct ct_due_round rounds[CT_WIRE_MAX_DUE];
    size_t n_missing;
    char (*missing)[CT_ID_MAX + 1]; /* owned by the ct_msg; capacity in ct_msg.cap_missing */
};

struct ct_msg_hello {
    char agent[CT_ID_MAX + 1];
    char district[CT_ID_MAX + 1];
    uint64_t next_seq;
    char instance[CT_ID_MAX + 1]; /* optional: the collector's outbox id; "" when absent */
};

struct ct_msg_batch {
    char agent[CT_ID_MAX + 1];
    char district[CT_ID_MAX + 1];
    size_t n_updates;
    struct ct_update *updates; /* owned by the ct_msg; capacity in ct_msg.cap_updates */
};

struct ct_msg_welcome {
    uint64_t last_seq;
    size_t n_catalog;
    struct ct_catalog_entry *catalog; /* owned by the ct_msg */
};

struct ct_msg_ack {
    uint64_t last_seq;
    size_t n_rejected;
    struct ct_rejection *rejected; /* owned by the ct_msg */
    size_t n_warnings;             /* optional "warnings" key: absent when 0 */
    struct ct_warning *warnings;   /* owned by the ct_msg; capacity in cap_warnings */
};

struct ct_msg_error {
    enum ct_wire_error error;
    char code[CT_WIRE_MAX_CODE + 1];
    char msg[CT_WIRE_MAX_TEXT + 1];
    uint64_t last_seq;
};

struct ct_msg {
    enum ct_msg_type type;
    struct ct_msg_hello hello;
    struct ct_msg_batch batch;
    struct ct_msg_welcome welcome;
    struct ct_msg_ack ack;
    struct ct_msg_error error;
    struct ct_due due; /* for WELCOME and ACK */
    size_t cap_updates, cap_catalog, cap_rejected, cap_missing;
    size_t cap_warnings;
};

/* Why a frame could not be decoded. */
struct ct_wire_fault {
    enum ct_wire_error error; /* MALFORMED, UNSUPPORTED_VERSION or TOO_LARGE */
    char msg[CT_WIRE_MAX_TEXT + 1];
};

/* A zeroed message with no arrays; free with ct_msg_free(). NULL when out of memory. */
struct ct_msg *ct_msg_new(void);
void ct_msg_free(struct ct_msg *msg);

/* Makes room for `n` entries in the message's array for `type` (BATCH: updates, WELCOME:
 * catalog, ACK: rejected), keeping existing entries. Returns 0 or -1 (out of memory). */
int ct_msg_reserve(struct ct_msg *msg, enum ct_msg_type type, size_t n);

/* Makes room for `n` warnings in an ack, keeping existing ones. Returns 0 or -1. */
int ct_msg_reserve_warnings(struct ct_msg *msg, size_t n);

/* Makes room for `n` codes in msg->due.missing, keeping existing ones. Returns 0 or -1. */
int ct_msg_reserve_missing(struct ct_msg *msg, size_t n);

/* Decodes one frame into `out`, reusing its arrays. Returns 0, or -1 with `fault` set. */
int ct_wire_decode(const void *frame, size_t len, struct ct_msg *out, struct ct_wire_fault *fault);

struct ct_wire_encoder;

struct ct_wire_encoder *ct_wire_encoder_new(void);
void ct_wire_encoder_free(struct ct_wire_encoder *enc);

/* Encodes `msg`. On success returns 0 and points `*bytes` at the encoder's buffer (valid
 * until the next call). Returns -1 when the message would exceed CT_WIRE_MAX_MESSAGE or
 * holds something the protocol cannot carry (a non-finite value, an invalid op, more
 * updates or rejections than CT_WIRE_MAX_BATCH, more entries than CT_WIRE_MAX_CATALOG):
 * what the encoder writes, the decoder accepts. */
int ct_wire_encode(struct ct_wire_encoder *enc, const struct ct_msg *msg, const void **bytes,
                   size_t *len);

/* The progress feed (PUB): frame 1 is the topic "progress.YEAR", frame 2 this map. Figures
 * travel as float64 (they are for display; the store keeps the exact numerics). */
#define CT_FEED_MAX_TARGETS 256
#define CT_FEED_TOPIC_PREFIX "progress."

struct ct_feed_target {
    char code[CT_ID_MAX + 1];
    bool has_actual, has_target, has_pct; /* false encodes nil */
    double actual, target, pct;
    char status[CT_WIRE_MAX_CODE + 1]; /* met, on_track, behind, no_data */
};

struct ct_feed_msg {
    int64_t year;
    int64_t as_of_ms;
    size_t n_targets;
    struct ct_feed_target targets[CT_FEED_MAX_TARGETS];
};

/* Encodes the feed map (frame 2) like ct_wire_encode(). */
int ct_wire_encode_feed(struct ct_wire_encoder *enc, const struct ct_feed_msg *msg,
                        const void **bytes, size_t *len);

/* Decodes frame 2 of a feed message into `out` (large: allocate it). */
int ct_wire_decode_feed(const void *frame, size_t len, struct ct_feed_msg *out,
                        struct ct_wire_fault *fault);

/* Bytes one update adds to a batch at most, so senders can split batches under 1 MiB
 * before encoding. */
size_t ct_wire_update_size_bound(const struct ct_update *u);

const char *ct_op_name(enum ct_op op);                /* "set", "add", or "?" */
enum ct_op ct_op_parse(const char *text);             /* CT_OP_INVALID when unknown */
const char *ct_reject_code(enum ct_reject r);         /* "bad_value", ... ("" for NONE) */
const char *ct_wire_error_code(enum ct_wire_error e); /* "malformed", ... */
enum ct_wire_error ct_wire_error_parse(const char *code);
const char *ct_msg_type_name(enum ct_msg_type type); /* "hello", ... */

/* Checks a frame's raw msgpack structure (wire_scan.c). Returns 0, or -1 with a reason in
 * `msg`. Exposed for the fuzz target and tests. */
int ct_wire_scan(const unsigned char *data, size_t len, char *msg, size_t msg_size);

#endif
