/*
 * status_words.h - the four statuses of CONTRACT section 4 as people read them.
 *
 * One table for every page that shows a status (the dashboard and its assessment page, the
 * bulletin): the code, a symbol that survives black-and-white printing, the Chinese and the
 * English words. The order is the order counts are kept and shown in. The table is
 * constant; nothing here allocates.
 */
#ifndef AGG_STATUS_WORDS_H
#define AGG_STATUS_WORDS_H

#include <stddef.h>

struct agg_status_words {
    const char *code, *symbol, *zh, *en;
};

#define AGG_N_STATUSES 4

/* met, on_track, behind, no_data */
extern const struct agg_status_words agg_statuses[AGG_N_STATUSES];

/* The index of `code` in agg_statuses; anything unknown (or NULL) reads as no_data. */
size_t agg_status_index(const char *code);

#endif
