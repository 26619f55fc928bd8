#include "status_words.h"

#include <string.h>

const struct agg_status_words agg_statuses[AGG_N_STATUSES] = {
    {"met", "✓", "已完成", "met"},
    {"on_track", "→", "进度正常", "on track"},
    {"behind", "!", "滞后", "behind"},
    {"no_data", "–", "暂无数据", "no data"},
};

size_t agg_status_index(const char *code)
{
    for (size_t i = 0; i < AGG_N_STATUSES; i++) {
        if (code != NULL && strcmp(agg_statuses[i].code, code) == 0)
            return i;
    }
    return AGG_N_STATUSES - 1;
}
