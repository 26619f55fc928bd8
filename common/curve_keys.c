#include "curve_keys.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define CERT_MAX_BYTES 8192 /* a certificate is a few hundred bytes */

static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool ct_curve_key_valid(const char *text)
{
    size_t len = strlen(text);
    return len == CT_CURVE_KEY_LEN && strspn(text, z85_alphabet) == len;
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* Writes `text` to a new file `path` with `mode`; never replaces an existing file. */
static int write_new_file(const char *path, int mode, const char *text, char *err, size_t err_size)
{
    size_t len = strlen(text), done = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    if (fd < 0) {
        snprintf(err, err_size, "%s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (keygen never replaces a key; remove it first)" : "");
        return -1;
    }
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int ct_curve_keygen(const char *path, char *public_key_out, size_t public_key_size, char *err,
                    size_t err_size)
{
    char public_key[CT_CURVE_KEY_LEN + 1], secret_key[CT_CURVE_KEY_LEN + 1];
    char stamp[CT_TIME_TEXT_MAX], pub_path[4096], text[1024];
    int rc = -1;

    if (snprintf(pub_path, sizeof(pub_path), "%s.pub", path) >= (int)sizeof(pub_path)) {
        snprintf(err, err_size, "%s: path too long", path);
        return -1;
    }
    if (zmq_curve_keypair(public_key, secret_key) != 0) {
        snprintf(err, err_size, "generating a key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    ct_time_format(ct_time_now_ms(), stamp, sizeof(stamp));
    snprintf(text, sizeof(text),
             "#   ****  Generated on %s by citytally  ****\n"
             "#   ZeroMQ CURVE Public Certificate\n"
             "#   Give this file to the party that must recognise this key.\n\n"
             "metadata\ncurve\n    public-key = \"%s\"\n",
             stamp, public_key);
    if (write_new_file(pub_path, 0644, text, err, err_size) != 0)
        goto out;
    snprintf(text, sizeof(text),
             "#   ****  Generated on %s by citytally  ****\n"
             "#   ZeroMQ CURVE **Secret** Certificate\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
             "metadata\ncurve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             stamp, public_key, secret_key);
    if (write_new_file(path, 0600, text, err, err_size) != 0) {
        unlink(pub_path);
        goto out;
    }
    snprintf(public_key_out, public_key_size, "%s", public_key);
    rc = 0;
out:
    wipe(secret_key, sizeof(secret_key));
    wipe(text, sizeof(text));
    return rc;
}

/* Reads a whole certificate file into `buf` (NUL-terminated). */
static int read_cert(int fd, const char *path, char *buf, size_t size, char *err, size_t err_size)
{
    size_t used = 0;

    for (;;) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used == size - 1) {
            snprintf(err, err_size, "%s: too large for a certificate", path);
            return -1;
        }
    }
    buf[used] = '\0';
    return 0;
}

/* Finds `name = "VALUE"` inside the top-level `curve` section of a ZPL certificate and
 * copies VALUE (a key) into out[CT_CURVE_KEY_LEN + 1]. */
static int find_key(const char *cert, const char *name, char *out)
{
    const char *line = cert;
    int in_curve = 0;

    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '#') {
            in_curve = len >= 5 && strncmp(line, "curve", 5) == 0 &&
                       (len == 5 || line[5] == ' ' || line[5] == '\r');
        } else if (in_curve && len > 0 && line[0] != '#') {
            const char *p = line, *stop = line + len;
            size_t name_len = strlen(name);
            while (p < stop && (*p == ' ' || *p == '\t'))
                p++;
            if ((size_t)(stop - p) > name_len && strncmp(p, name, name_len) == 0) {
                p += name_len;
                while (p < stop && (*p == ' ' || *p == '\t' || *p == '='))
                    p++;
                if (p < stop && *p == '"' && stop - p >= CT_CURVE_KEY_LEN + 2 &&
                    p[CT_CURVE_KEY_LEN + 1] == '"') {
                    memcpy(out, p + 1, CT_CURVE_KEY_LEN);
                    out[CT_CURVE_KEY_LEN] = '\0';
                    return ct_curve_key_valid(out) ? 0 : -1;
                }
            }
        }
        if (end == NULL)
            break;
        line = end + 1;
    }
    return -1;
}

int ct_curve_load_secret(const char *path, struct ct_curve_keypair *out, char *err, size_t err_size)
{
    char cert[CERT_MAX_BYTES];
    struct stat st;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(err, err_size,
                 "%s: secret key file is accessible by group or others (mode %04o); run "
                 "chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (read_cert(fd, path, cert, sizeof(cert), err, err_size) != 0)
        goto out;
    if (find_key(cert, "public-key", out->public_key) != 0 ||
        find_key(cert, "secret-key", out->secret_key) != 0) {
        snprintf(err, err_size,
                 "%s: not a secret certificate (expected public-key and secret-key in a "
                 "curve section)",
                 path);
        goto out;
    }
    rc = 0;
out:
    wipe(cert, sizeof(cert));
    close(fd);
    return rc;
}

int ct_curve_load_public(const char *z85_or_path, char *out, char *err, size_t err_size)
{
    char cert[CERT_MAX_BYTES];
    int fd, rc = -1;

    if (ct_curve_key_valid(z85_or_path)) {
        memcpy(out, z85_or_path, CT_CURVE_KEY_LEN + 1);
        return 0;
    }
    fd = open(z85_or_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: neither a 40-character Z85 key nor a readable file (%s)",
                 z85_or_path, strerror(errno));
        return -1;
    }
    if (read_cert(fd, z85_or_path, cert, sizeof(cert), err, err_size) == 0) {
        if (find_key(cert, "public-key", out) == 0)
            rc = 0;
        else
            snprintf(err, err_size, "%s: no public-key in a curve section", z85_or_path);
    }
    wipe(cert, sizeof(cert));
    close(fd);
    return rc;
}
