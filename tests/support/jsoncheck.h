/*
 * jsoncheck.h - is a text one valid JSON document (RFC 8259)?
 *
 * For tests that must prove a renderer's output parses, without a JSON library in C: a
 * strict recursive-descent check of the grammar (no NaN, no trailing commas, no control
 * characters in strings, valid escapes, UTF-8 left to the caller). It builds nothing and
 * allocates nothing; nesting is bounded.
 */
#ifndef CT_JSONCHECK_H
#define CT_JSONCHECK_H

#include <stddef.h>

/* 0 when text[0..len) is exactly one JSON value with optional surrounding whitespace; -1
 * otherwise, with the byte offset of the first error in *error_at. */
int jsoncheck(const char *text, size_t len, size_t *error_at);

#endif
