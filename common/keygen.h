/*
 * keygen.h - the `keygen FILE` subcommand both programs share.
 *
 * Writes a new CURVE key pair as FILE (secret, 0600) and FILE.pub (curve_keys.h) and prints
 * the public key, which the bureau registers with `agent add --key` (for a collector) or
 * hands to the districts (for the aggregator).
 */
#ifndef CT_KEYGEN_H
#define CT_KEYGEN_H

/* argv[0] is "keygen". Returns a CT_EXIT_* status. */
int ct_keygen_main(const char *program, int argc, char **argv);

#endif
