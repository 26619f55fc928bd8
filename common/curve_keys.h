/*
 * curve_keys.h - CURVE key pairs in czmq's zcert file format.
 *
 * `keygen FILE` writes two files, as czmq's zcert_save does: FILE, the secret certificate
 * (mode 0600, both keys), and FILE.pub, the public one to hand out. Both are ZPL text:
 *
 *     curve
 *         public-key = "<40 Z85 characters>"
 *         secret-key = "<40 Z85 characters>"      (secret file only)
 *
 * A secret file that group or others may read is refused, as ssh refuses such a key: the
 * key would be known to whoever can read it. Keys are Z85 text throughout; nothing here
 * allocates, and secret bytes are wiped from the stack buffers that held them.
 */
#ifndef CT_CURVE_KEYS_H
#define CT_CURVE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define CT_CURVE_KEY_LEN 40 /* Z85 characters of a 32-byte key */

struct ct_curve_keypair {
    char public_key[CT_CURVE_KEY_LEN + 1];
    char secret_key[CT_CURVE_KEY_LEN + 1];
};

/* True when `text` is exactly 40 characters of the Z85 alphabet. */
bool ct_curve_key_valid(const char *text);

/* Generates a key pair and writes `path` (0600) and `path`.pub (0644). Refuses to
 * overwrite either file. Returns 0 or -1 with a reason in `err`. */
int ct_curve_keygen(const char *path, char *public_key_out, size_t public_key_size, char *err,
                    size_t err_size);

/* Reads a secret certificate, refusing it when group or others can read it. */
int ct_curve_load_secret(const char *path, struct ct_curve_keypair *out, char *err,
                         size_t err_size);

/* `z85_or_path` is either a 40-character Z85 key or the path of a certificate file (public
 * or secret); the public key is written to `out` (CT_CURVE_KEY_LEN + 1 bytes). */
int ct_curve_load_public(const char *z85_or_path, char *out, char *err, size_t err_size);

#endif
