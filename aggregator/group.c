#include "group.h"

#include <stdlib.h>
#include <string.h>

struct agg_group *agg_group_new(size_t max_updates)
{
    struct agg_group *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->max_updates = max_updates;
    for (size_t i = 0; i < AGG_GROUP_MAX_BATCHES; i++) {
        g->batches[i].msg = ct_msg_new();
        if (g->batches[i].msg == NULL) {
            agg_group_free(g);
            return NULL;
        }
    }
    return g;
}

void agg_group_free(struct agg_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < AGG_GROUP_MAX_BATCHES; i++) {
        ct_msg_free(g->batches[i].msg);
        free(g->batches[i].warnings);
    }
    free(g);
}

bool agg_group_full(const struct agg_group *g)
{
    return g->n_batches == AGG_GROUP_MAX_BATCHES || g->n_updates >= g->max_updates;
}

void agg_group_add(struct agg_group *g, struct agg_batch *incoming, int64_t now_mono_ms)
{
    struct agg_batch *b = &g->batches[g->n_batches];
    struct ct_msg *emptied = b->msg;

    b->msg = incoming->msg;
    incoming->msg = emptied;
    memcpy(b->route, incoming->route, incoming->route_len);
    b->route_len = incoming->route_len;
    b->outcome = AGG_BATCH_PENDING;
    b->first_new = 0;
    b->ack_seq = 0;
    b->error = CT_WERR_NONE;
    b->error_msg[0] = '\0';
    b->error_seq = 0;
    b->n_warnings = 0;
    if (g->n_batches == 0)
        g->opened_mono_ms = now_mono_ms;
    g->n_updates += b->msg->batch.n_updates;
    g->n_batches++;
}

void agg_group_reset(struct agg_group *g)
{
    g->n_batches = 0;
    g->n_updates = 0;
    g->opened_mono_ms = 0;
}
