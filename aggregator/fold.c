#include "fold.h"
#include "decsum.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

int agg_fold_day(int64_t at_ms)
{
    int64_t local = at_ms + CT_TZ_OFFSET_MS;
    return (int)(local >= 0 ? local / MS_PER_DAY : -((-local + MS_PER_DAY - 1) / MS_PER_DAY));
}

void agg_fold_init(struct agg_fold *f)
{
    memset(f, 0, sizeof(*f));
}

void agg_fold_release(struct agg_fold *f)
{
    free(f->rows);
    ct_buf_free(&f->groups);
    memset(f, 0, sizeof(*f));
}

void agg_fold_reset(struct agg_fold *f)
{
    f->n_rows = 0;
    f->n_groups = 0;
    ct_buf_reset(&f->groups);
}

int agg_fold_add(struct agg_fold *f, const char *agent, const char *district,
                 const struct ct_update *u)
{
    if (f->n_rows == f->cap_rows) {
        size_t cap = f->cap_rows ? f->cap_rows * 2 : 4096;
        struct agg_fold_row *bigger = realloc(f->rows, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        f->rows = bigger;
        f->cap_rows = cap;
    }
    f->rows[f->n_rows++] = (struct agg_fold_row){agent, district, u, agg_fold_day(u->at_ms)};
    return 0;
}

/* Order of the update keys (observed_at, agent_id, seq); agent ids compare bytewise, as
 * COLLATE "C" does in the database. */
static int compare_keys(const struct agg_fold_row *a, const struct agg_fold_row *b)
{
    int c;

    if (a->u->at_ms != b->u->at_ms)
        return a->u->at_ms < b->u->at_ms ? -1 : 1;
    c = strcmp(a->agent, b->agent);
    if (c != 0)
        return c;
    return a->u->seq < b->u->seq ? -1 : a->u->seq > b->u->seq;
}

static int compare_groups(const void *x, const void *y)
{
    const struct agg_fold_row *a = x, *b = y;
    int c = strcmp(a->district, b->district);

    if (c == 0)
        c = strcmp(a->u->ind, b->u->ind);
    if (c == 0 && a->u->period != b->u->period)
        c = a->u->period < b->u->period ? -1 : 1;
    if (c == 0 && a->day != b->day)
        c = a->day < b->day ? -1 : 1;
    return c;
}

static bool same_group(const struct agg_fold_row *a, const struct agg_fold_row *b)
{
    return compare_groups(a, b) == 0;
}

/* Appends ",<time>,<agent>,<seq>" for a key, or three empty (NULL) fields. */
static void put_key(struct ct_buf *b, const struct agg_fold_row *r)
{
    char at[CT_TIME_TEXT_MAX];

    if (r == NULL) {
        ct_buf_puts(b, ",,,");
        return;
    }
    ct_time_format(r->u->at_ms, at, sizeof(at));
    ct_buf_printf(b, ",%s,%s,%" PRIu64, at, r->agent, r->u->seq);
}

static void put_sum(struct ct_buf *b, const struct ct_decsum *s, bool present)
{
    char text[48];

    ct_buf_puts(b, ",");
    /* An overflowed sum stays NULL: citytally_fold then reads those rows from the log. */
    if (present && ct_decsum_format(s, text, sizeof(text)) == 0)
        ct_buf_puts(b, text);
}

/* Appends one citytally_fold_group composite for rows[first .. end). Every field is an
 * id, a number or an ISO time, so none needs quoting inside the literal. */
static void put_group(struct agg_fold *f, const struct agg_fold_row *first,
                      const struct agg_fold_row *end)
{
    const struct agg_fold_row *ns = NULL, *mina = NULL, *maxa = NULL, *last = first;
    struct ct_decsum adds, after_ns;
    char at[CT_TIME_TEXT_MAX], value[CT_VALUE_TEXT_MAX];
    struct ct_buf *b = &f->groups;

    for (const struct agg_fold_row *r = first; r < end; r++) {
        if (r->u->at_ms > last->u->at_ms)
            last = r;
        if (r->u->op == CT_OP_SET) {
            if (ns == NULL || compare_keys(r, ns) > 0)
                ns = r;
        } else {
            if (mina == NULL || compare_keys(r, mina) < 0)
                mina = r;
            if (maxa == NULL || compare_keys(r, maxa) > 0)
                maxa = r;
        }
    }
    ct_decsum_init(&adds);
    ct_decsum_init(&after_ns);
    for (const struct agg_fold_row *r = first; r < end; r++) {
        if (r->u->op != CT_OP_ADD)
            continue;
        ct_decsum_add(&adds, &r->u->value);
        if (ns != NULL && compare_keys(r, ns) > 0)
            ct_decsum_add(&after_ns, &r->u->value);
    }

    ct_time_format(last->u->at_ms, at, sizeof(at));
    ct_buf_printf(b, "%s\"(%s,%s,%" PRId64 ",%d,%zu,%s", f->n_groups ? "," : "", first->district,
                  first->u->ind, first->u->period, first->day, (size_t)(end - first), at);
    put_key(b, ns);
    if (ns != NULL && ct_value_format(&ns->u->value, value, sizeof(value)) == 0)
        ct_buf_printf(b, ",%s", value);
    else
        ct_buf_puts(b, ",");
    put_key(b, mina);
    put_key(b, maxa);
    put_sum(b, &adds, true);
    put_sum(b, &after_ns, ns != NULL);
    ct_buf_puts(b, ")\"");
    f->n_groups++;
}

const char *agg_fold_groups(struct agg_fold *f, int *nothing_to_do, char *err, size_t err_size)
{
    size_t start = 0;

    *nothing_to_do = f->n_rows == 0;
    if (f->n_rows == 0)
        return NULL;
    qsort(f->rows, f->n_rows, sizeof(*f->rows), compare_groups);
    ct_buf_reset(&f->groups);
    f->n_groups = 0;
    ct_buf_puts(&f->groups, "{");
    for (size_t i = 1; i <= f->n_rows; i++) {
        if (i == f->n_rows || !same_group(&f->rows[start], &f->rows[i])) {
            put_group(f, &f->rows[start], &f->rows[i]);
            start = i;
        }
    }
    ct_buf_puts(&f->groups, "}");
    if (f->groups.failed) {
        snprintf(err, err_size, "out of memory summarising the commit");
        return NULL;
    }
    return f->groups.data;
}
