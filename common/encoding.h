/*
 * encoding.h - the text encodings that spreadsheets save CSV files in, made UTF-8.
 *
 * Excel on Chinese Windows saves "CSV" as GBK (code page 936); "CSV UTF-8" adds a BOM; other
 * tools write plain UTF-8. A file carries no label, so the bytes decide: a UTF-8 BOM, or
 * bytes that are wholly valid UTF-8, mean UTF-8; anything else is read as GB18030, the
 * superset of GBK and GB2312, through glibc's iconv. Real GBK text is almost never valid
 * UTF-8 (its lead bytes 0x81-0xFE are followed by bytes UTF-8 forbids there), so the guess
 * is safe for the files people actually make.
 *
 * Pure and in memory: no file I/O. The converted text is a new heap buffer the caller owns;
 * it never starts with a BOM and never contains a NUL byte.
 *
 * A `struct ct_text_converter` keeps one iconv descriptor open across calls (opened on the
 * first GB18030 file): glibc loads its gconv module at every iconv_open(), which is slow
 * and, under AddressSanitizer, leaks. Whoever converts many files owns one; a one-off call
 * passes NULL.
 */
#ifndef CT_ENCODING_H
#define CT_ENCODING_H

#include <stddef.h>

enum ct_encoding {
    CT_ENCODING_UTF8 = 0,
    CT_ENCODING_UTF8_BOM,
    CT_ENCODING_GB18030,
};

/* "UTF-8", "UTF-8 with BOM" or "GB18030/GBK". */
const char *ct_encoding_name(enum ct_encoding e);

struct ct_text_converter;

/* NULL when out of memory. */
struct ct_text_converter *ct_text_converter_new(void);
void ct_text_converter_free(struct ct_text_converter *c);

/* Converts `len` bytes at `in` to UTF-8, with `conv` (may be NULL). On success returns 0 and sets
 * `*out` (malloc'd, NUL-terminated, freed by the caller with free()), `*out_len` and `*detected`.
 * Returns -1 with one line in `err` when the bytes are neither (naming the line of the first bad
 * byte), when they hold a NUL or a UTF-16 BOM, or when memory runs out. An empty input
 * gives an empty string. */
int ct_text_to_utf8(struct ct_text_converter *conv, const char *in, size_t len, char **out,
                    size_t *out_len, enum ct_encoding *detected, char *err, size_t err_size);

#endif
