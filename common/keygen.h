/*
 * keygen.h - the `keygen FILE` subcommand both programs share.
 *
 * Writes a new CURVE key pair as FILE (secret, 0600) and FILE.pub (curve_keys.h) and prints
 * the public key, which the bureau registers with `agent add --key` (for a collector) or
 * hands to the districts (for the aggregator).
 */
#ifndef CT_KEYGEN_H
#define CT_KEYGEN_H

#include "config.h"

#include <stddef.h>

/* argv[0] is "keygen". `config`, `n_config` and `settings` are the program's settings
 * table and a struct to parse into (borrowed): keygen takes every flag and -c file that the
 * program's other subcommands take (CONTRACT section 1: each takes --db), and uses none.
 * Returns a CT_EXIT_* status. */
int ct_keygen_main(const char *program, const struct ct_config_option *config, size_t n_config,
                   void *settings, int argc, char **argv);

#endif
