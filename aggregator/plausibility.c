#include "plausibility.h"
#include "db.h"
#include "text.h"
#include "value.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of AGG_PLAUS_PREFETCH_SQL. */
enum { PF_DISTRICT, PF_IND, PF_PERIOD, PF_FLOW, PF_CUR, PF_CUR_AT, PF_PY, PF_PY_AT };

/* Parameters of AGG_PLAUS_INSERT_SQL. */
enum { IN_AGENT, IN_SEQ, IN_DISTRICT, IN_IND, IN_PERIOD, IN_CODE, IN_MSG, IN_VALUE, IN_COMPARED };

struct agg_plaus_key {
    const char *district, *ind; /* borrowed from the group */
    int64_t period;
    /* from the prefetch */
    bool flow, has_cur, has_py;
    double cur, py;
    const char *cur_text, *py_text; /* into p->current */
    int64_t cur_last_ms, py_last_ms;
    /* from this commit */
    const struct agg_plaus_set *newest; /* its newest accepted set, or NULL */
};

struct agg_plaus_set {
    struct agg_batch *b;
    const char *agent, *district;
    const struct ct_update *u;
    size_t key;
};

void agg_plaus_init(struct agg_plaus *p)
{
    memset(p, 0, sizeof(*p));
}

void agg_plaus_release(struct agg_plaus *p)
{
    free(p->keys);
    free(p->sets);
    for (size_t i = 0; i < 3; i++)
        ct_buf_free(&p->prefetch[i]);
    for (size_t i = 0; i < AGG_PLAUS_INSERT_PARAMS; i++)
        ct_buf_free(&p->insert[i]);
    PQclear(p->current);
    memset(p, 0, sizeof(*p));
}

void agg_plaus_reset(struct agg_plaus *p, bool enabled)
{
    p->enabled = enabled;
    p->n_keys = 0;
    p->n_sets = 0;
    p->n_warnings = 0;
    PQclear(p->current);
    p->current = NULL;
}

static int compare_key_fields(const char *d1, const char *i1, int64_t p1, const char *d2,
                              const char *i2, int64_t p2)
{
    int c = strcmp(d1, d2);
    if (c == 0)
        c = strcmp(i1, i2);
    if (c == 0 && p1 != p2)
        c = p1 < p2 ? -1 : 1;
    return c;
}

static int compare_keys(const void *x, const void *y)
{
    const struct agg_plaus_key *a = x, *b = y;
    return compare_key_fields(a->district, a->ind, a->period, b->district, b->ind, b->period);
}

static int grow(void **array, size_t *cap, size_t want, size_t size)
{
    size_t cap2;
    void *bigger;

    if (want <= *cap)
        return 0;
    cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < want)
        cap2 *= 2;
    bigger = realloc(*array, cap2 * size);
    if (bigger == NULL)
        return -1;
    *array = bigger;
    *cap = cap2;
    return 0;
}

/* The key's index, or SIZE_MAX. Keys are sorted and unique. */
static size_t find_key(const struct agg_plaus *p, const char *district, const char *ind,
                       int64_t period)
{
    size_t lo = 0, hi = p->n_keys;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct agg_plaus_key *k = &p->keys[mid];
        int c = compare_key_fields(district, ind, period, k->district, k->ind, k->period);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SIZE_MAX;
}

int agg_plaus_prefetch(struct agg_plaus *p, const struct agg_group *g, const char *params[3])
{
    size_t n = 0;

    if (!p->enabled)
        return 0;
    for (size_t i = 0; i < g->n_batches; i++) {
        const struct ct_msg_batch *batch = &g->batches[i].msg->batch;
        for (size_t j = 0; j < batch->n_updates; j++) {
            const struct ct_update *u = &batch->updates[j];
            struct agg_plaus_key *last = n > 0 ? &p->keys[n - 1] : NULL;
            if (u->op != CT_OP_SET || u->fault != CT_REJECT_NONE)
                continue;
            /* A batch is mostly one key after another: skip the repeats before sorting. */
            if (last != NULL && last->period == u->period && strcmp(last->ind, u->ind) == 0 &&
                strcmp(last->district, batch->district) == 0)
                continue;
            if (grow((void **)&p->keys, &p->cap_keys, n + 1, sizeof(*p->keys)) != 0)
                return -1;
            p->keys[n++] = (struct agg_plaus_key){
                .district = batch->district, .ind = u->ind, .period = u->period};
        }
    }
    if (n == 0)
        return 0;
    qsort(p->keys, n, sizeof(*p->keys), compare_keys);
    p->n_keys = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->n_keys == 0 || compare_keys(&p->keys[p->n_keys - 1], &p->keys[i]) != 0)
            p->keys[p->n_keys++] = p->keys[i];
    }
    for (size_t c = 0; c < 3; c++) {
        ct_buf_reset(&p->prefetch[c]);
        ct_buf_puts(&p->prefetch[c], "{");
    }
    /* Ids and numbers: nothing to quote in the array literals. */
    for (size_t i = 0; i < p->n_keys; i++) {
        const char *sep = i ? "," : "";
        ct_buf_printf(&p->prefetch[0], "%s%s", sep, p->keys[i].district);
        ct_buf_printf(&p->prefetch[1], "%s%s", sep, p->keys[i].ind);
        ct_buf_printf(&p->prefetch[2], "%s%" PRId64, sep, p->keys[i].period);
    }
    for (size_t c = 0; c < 3; c++) {
        if (ct_buf_puts(&p->prefetch[c], "}") != 0)
            return -1;
        params[c] = p->prefetch[c].data;
    }
    return 1;
}

void agg_plaus_prefetched(struct agg_plaus *p, PGresult *res)
{
    PQclear(p->current);
    p->current = res;
    for (int row = 0; res != NULL && row < PQntuples(res); row++) {
        size_t k = find_key(p, PQgetvalue(res, row, PF_DISTRICT), PQgetvalue(res, row, PF_IND),
                            strtoll(PQgetvalue(res, row, PF_PERIOD), NULL, 10));
        struct agg_plaus_key *key;
        if (k == SIZE_MAX)
            continue;
        key = &p->keys[k];
        key->flow = !PQgetisnull(res, row, PF_FLOW) && PQgetvalue(res, row, PF_FLOW)[0] == 't';
        key->has_cur = !PQgetisnull(res, row, PF_CUR) && !PQgetisnull(res, row, PF_CUR_AT);
        if (key->has_cur) {
            key->cur_text = PQgetvalue(res, row, PF_CUR);
            key->cur = strtod(key->cur_text, NULL);
            key->cur_last_ms = strtoll(PQgetvalue(res, row, PF_CUR_AT), NULL, 10);
        }
        key->has_py = !PQgetisnull(res, row, PF_PY) && !PQgetisnull(res, row, PF_PY_AT);
        if (key->has_py) {
            key->py_text = PQgetvalue(res, row, PF_PY);
            key->py = strtod(key->py_text, NULL);
            key->py_last_ms = strtoll(PQgetvalue(res, row, PF_PY_AT), NULL, 10);
        }
    }
}

int agg_plaus_add(struct agg_plaus *p, struct agg_batch *b, const char *agent, const char *district,
                  const struct ct_update *u)
{
    size_t k;

    if (!p->enabled || u->op != CT_OP_SET || p->current == NULL)
        return 0;
    k = find_key(p, district, u->ind, u->period);
    if (k == SIZE_MAX)
        return 0; /* not prefetched: cannot happen, as every set of the group was */
    if (grow((void **)&p->sets, &p->cap_sets, p->n_sets + 1, sizeof(*p->sets)) != 0)
        return -1;
    p->sets[p->n_sets++] = (struct agg_plaus_set){b, agent, district, u, k};
    return 0;
}

/* By key, then by the update key (observed_at, agent_id, seq), as the fold orders them. */
static int compare_sets(const void *x, const void *y)
{
    const struct agg_plaus_set *a = x, *b = y;
    int c;

    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->u->at_ms != b->u->at_ms)
        return a->u->at_ms < b->u->at_ms ? -1 : 1;
    c = strcmp(a->agent, b->agent);
    if (c != 0)
        return c;
    return a->u->seq < b->u->seq ? -1 : a->u->seq > b->u->seq;
}

static double as_double(const struct ct_value *v)
{
    switch (v->kind) {
    case CT_VALUE_INT:
        return (double)v->as.i;
    case CT_VALUE_UINT:
        return (double)v->as.u;
    case CT_VALUE_FLOAT:
        return v->as.f;
    }
    return NAN;
}

/* `text` (a decimal) without trailing fractional zeros, into `out`. */
static void trim_decimal(const char *text, char *out, size_t size)
{
    size_t len;

    ct_strlcpy(out, text, size);
    if (strchr(out, '.') == NULL || strchr(out, 'e') != NULL || strchr(out, 'E') != NULL)
        return;
    len = strlen(out);
    while (len > 0 && out[len - 1] == '0')
        out[--len] = '\0';
    if (len > 0 && out[len - 1] == '.')
        out[--len] = '\0';
}

static void ratio_text(double r, char *out, size_t size)
{
    char raw[64];
    snprintf(raw, sizeof(raw), fabs(r) >= 1 ? "%.1f" : "%.4f", r);
    trim_decimal(raw, out, size);
}

/* Appends `s` as one element of an array literal: quoted, \ and " escaped. */
static void put_quoted(struct ct_buf *b, const char *s)
{
    ct_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            ct_buf_puts(b, "\\");
        ct_buf_append(b, s, 1);
    }
    ct_buf_puts(b, "\"");
}

static int batch_warn(struct agg_batch *b, uint64_t seq, const char *code, const char *msg)
{
    struct ct_warning *w;

    if (b->n_warnings == b->cap_warnings) {
        size_t cap = b->cap_warnings ? b->cap_warnings * 2 : 8;
        struct ct_warning *bigger = realloc(b->warnings, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        b->warnings = bigger;
        b->cap_warnings = cap;
    }
    w = &b->warnings[b->n_warnings++];
    w->seq = seq;
    ct_strlcpy(w->code, code, sizeof(w->code));
    ct_strlcpy(w->msg, msg, sizeof(w->msg));
    return 0;
}

/* Records one warning: in its batch's slot and in the INSERT's parameters. */
static int warn(struct agg_plaus *p, const struct agg_plaus_set *s, const char *code,
                const char *msg, const char *value, const char *compared)
{
    struct ct_buf *in = p->insert;
    const char *sep = p->n_warnings ? "," : "";

    if (p->n_warnings == 0) {
        for (size_t c = 0; c < AGG_PLAUS_INSERT_PARAMS; c++) {
            ct_buf_reset(&in[c]);
            ct_buf_puts(&in[c], "{");
        }
    }
    ct_buf_printf(&in[IN_AGENT], "%s%s", sep, s->agent);
    ct_buf_printf(&in[IN_SEQ], "%s%" PRIu64, sep, s->u->seq);
    ct_buf_printf(&in[IN_DISTRICT], "%s%s", sep, s->district);
    ct_buf_printf(&in[IN_IND], "%s%s", sep, s->u->ind);
    ct_buf_printf(&in[IN_PERIOD], "%s%" PRId64, sep, s->u->period);
    ct_buf_printf(&in[IN_CODE], "%s%s", sep, code);
    ct_buf_puts(&in[IN_MSG], sep);
    put_quoted(&in[IN_MSG], msg);
    ct_buf_printf(&in[IN_VALUE], "%s%s", sep, value);
    ct_buf_printf(&in[IN_COMPARED], "%s%s", sep, compared);
    p->n_warnings++;
    return batch_warn(s->b, s->u->seq, code, msg);
}

/* The checks of one set; `prev` is the key's set before it in this commit, or NULL. */
static int check_one(struct agg_plaus *p, const struct agg_plaus_set *s,
                     const struct agg_plaus_set *prev)
{
    const struct agg_plaus_key *key = &p->keys[s->key];
    const struct agg_plaus_key *pk = NULL;
    size_t py_key = find_key(p, key->district, key->ind, key->period - 1);
    char value[CT_VALUE_TEXT_MAX], before_text[CT_VALUE_TEXT_MAX] = "",
                                   last_text[CT_VALUE_TEXT_MAX] = "";
    char msg[CT_WIRE_MAX_TEXT + 1], ratio[64];
    double v = as_double(&s->u->value), before = 0, last = 0;
    bool has_before = false, has_last = false;

    if (ct_value_format(&s->u->value, value, sizeof(value)) != 0 || !isfinite(v))
        return 0;
    if (prev != NULL) {
        before = as_double(&prev->u->value);
        has_before = ct_value_format(&prev->u->value, before_text, sizeof(before_text)) == 0;
    } else if (key->has_cur && s->u->at_ms >= key->cur_last_ms) {
        before = key->cur;
        trim_decimal(key->cur_text, before_text, sizeof(before_text));
        has_before = true;
    }
    /* the same figure again, with a note: a confirmation */
    if (s->u->has_note && has_before && before == v)
        return 0;
    if (py_key != SIZE_MAX)
        pk = &p->keys[py_key];
    if (pk != NULL && pk->newest != NULL &&
        (!key->has_py || pk->newest->u->at_ms >= key->py_last_ms)) {
        last = as_double(&pk->newest->u->value);
        has_last = ct_value_format(&pk->newest->u->value, last_text, sizeof(last_text)) == 0;
    } else if (key->has_py) {
        last = key->py;
        trim_decimal(key->py_text, last_text, sizeof(last_text));
        has_last = true;
    }
    if (has_last && last != 0 && v != 0) {
        double r = v / last;
        bool slip = (r >= 9500 && r <= 10500) || (r >= 0.000095 && r <= 0.000105);
        if (slip) {
            snprintf(msg, sizeof(msg),
                     "%s is about %s the final value for %" PRId64 " (%s): 万元 entered as 亿元, "
                     "or the other way round? Send it again with a note to confirm it",
                     value, r > 1 ? "10,000 times" : "1/10,000 of", key->period - 1, last_text);
            if (warn(p, s, "unit_slip", msg, value, last_text) != 0)
                return -1;
        } else if (r > 10 || r < 0.1) {
            ratio_text(r, ratio, sizeof(ratio));
            snprintf(msg, sizeof(msg),
                     "%s is %s times the final value for %" PRId64 " (%s); send it again with a "
                     "note to confirm it",
                     value, ratio, key->period - 1, last_text);
            if (warn(p, s, "implausible_yoy", msg, value, last_text) != 0)
                return -1;
        }
    }
    if (key->flow && has_before && v < before) {
        snprintf(msg, sizeof(msg),
                 "%s lowers the year-to-date value of a flow from %s; send it again with a note "
                 "to confirm it",
                 value, before_text);
        if (warn(p, s, "flow_decrease", msg, value, before_text) != 0)
            return -1;
    }
    return 0;
}

static int compare_warnings(const void *x, const void *y)
{
    const struct ct_warning *a = x, *b = y;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return strcmp(a->code, b->code);
}

int agg_plaus_check(struct agg_plaus *p)
{
    if (p->n_sets == 0)
        return 0;
    qsort(p->sets, p->n_sets, sizeof(*p->sets), compare_sets);
    for (size_t i = 0; i < p->n_keys; i++)
        p->keys[i].newest = NULL;
    for (size_t i = 0; i < p->n_sets; i++)
        p->keys[p->sets[i].key].newest = &p->sets[i]; /* sorted: the last one wins */
    for (size_t i = 0; i < p->n_sets; i++) {
        const struct agg_plaus_set *prev =
            i > 0 && p->sets[i - 1].key == p->sets[i].key ? &p->sets[i - 1] : NULL;
        if (check_one(p, &p->sets[i], prev) != 0)
            return -1;
    }
    /* each batch's warnings in seq order, as its ack lists them */
    for (size_t i = 0; i < p->n_sets; i++) {
        struct agg_batch *b = p->sets[i].b;
        if (b->n_warnings > 1 && (i == 0 || p->sets[i - 1].b != b))
            qsort(b->warnings, b->n_warnings, sizeof(*b->warnings), compare_warnings);
    }
    return (int)p->n_warnings;
}

int agg_plaus_insert_params(struct agg_plaus *p, const char *params[AGG_PLAUS_INSERT_PARAMS])
{
    if (p->n_warnings == 0)
        return 0;
    for (size_t c = 0; c < AGG_PLAUS_INSERT_PARAMS; c++) {
        if (ct_buf_puts(&p->insert[c], "}") != 0)
            return -1;
        params[c] = p->insert[c].data;
    }
    return 1;
}

int agg_plaus_recall(PGconn *conn, struct agg_batch *b, char *err, size_t err_size)
{
    const struct ct_msg_batch *batch = &b->msg->batch;
    char first[24], last[24];
    const char *params[3] = {batch->agent, first, last};
    PGresult *res;
    int rc = 0;

    snprintf(first, sizeof(first), "%" PRIu64, batch->updates[0].seq);
    snprintf(last, sizeof(last), "%" PRIu64, batch->updates[b->first_new - 1].seq);
    res = PQexecParams(conn,
                       "SELECT seq, code, message FROM update_warnings"
                       " WHERE agent_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq, code",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        agg_db_error(conn, res, "reading earlier warnings", err, err_size);
        rc = -1;
        goto out;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        if (batch_warn(b, strtoull(PQgetvalue(res, row, 0), NULL, 10), PQgetvalue(res, row, 1),
                       PQgetvalue(res, row, 2)) != 0) {
            snprintf(err, err_size, "out of memory recalling warnings");
            rc = -1;
            goto out;
        }
    }
out:
    PQclear(res);
    return rc;
}
