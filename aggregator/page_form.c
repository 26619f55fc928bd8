#include "page_form.h"

#include <stdbool.h>
#include <string.h>

void agg_page_year_options(struct ct_buf *out, const int *years, size_t n_years, int year)
{
    bool listed = false;

    for (size_t i = 0; i < n_years; i++) {
        listed = listed || years[i] == year;
        ct_buf_printf(out, "<option value=\"%d\"%s>%d</option>", years[i],
                      years[i] == year ? " selected" : "", years[i]);
    }
    if (!listed && year != 0)
        ct_buf_printf(out, "<option value=\"%d\" selected>%d</option>", year, year);
}

void agg_page_date_value(struct ct_buf *out, const char *as_of)
{
    char date[11];

    if (as_of == NULL || strlen(as_of) < 10)
        return;
    memcpy(date, as_of, 10);
    date[10] = '\0';
    if (strspn(date, "0123456789-") == 10 && date[4] == '-' && date[7] == '-')
        ct_buf_puts(out, date);
}
