/* The Fisher-vector job of `fvae fv --threads 1 --improved --timing` through libfvae.a: one GMM
 * (.safetensors), descriptors from a C-order float32 .npy [N, D], pushed in blocks of 256 KiB as
 * the command line streams them (each copied to one buffer, untimed), then finished (VLFeat layout, improved). Prints the encoding
 * time as the command line does ("fv: encoded N rows in S s", reading excluded) and writes the
 * vector's raw float32 bytes to OUT, so a script can compare it with the command line's output.
 *
 *   c_fv GMM.safetensors X.npy OUT.f32
 *
 * Built and run by benches/c_vs_cli.sh. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fvae.h"

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot read\n", path);
        exit(2);
    }
    /* 8-aligned (malloc is), as the safetensors reader needs. */
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The rows, columns and data of a version 1 or 2 float32 C-order .npy. */
static const float *npy_f32(const unsigned char *b, size_t len, size_t *rows, size_t *cols) {
    size_t hlen, start;
    const char *shape;
    char header[512];
    if (len < 12 || memcmp(b, "\x93NUMPY", 6) != 0 || (b[6] != 1 && b[6] != 2))
        return NULL;
    hlen = b[6] == 1 ? (size_t)b[8] | (size_t)b[9] << 8 : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16;
    start = b[6] == 1 ? 10 : 12;
    if (hlen >= sizeof header || start + hlen > len)
        return NULL;
    memcpy(header, b + start, hlen);
    header[hlen] = 0;
    shape = strstr(header, "'shape': (");
    if (!strstr(header, "'<f4'") || !strstr(header, "'fortran_order': False") || !shape ||
        sscanf(shape, "'shape': (%zu, %zu)", rows, cols) != 2 ||
        (len - start - hlen) / sizeof(float) < *rows * *cols || (start + hlen) % 4 != 0)
        return NULL;
    return (const float *)(const void *)(b + start + hlen);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    size_t gmm_len, x_len, rows, cols, k, d, r, block, fv_len;
    unsigned char *gmm_file, *x_file;
    const float *x;
    void *gmm_mem, *fv_mem;
    float *fv, *buf;
    FvaeGmm *gmm;
    FvaeFisher *acc;
    FvaeFisherOptions options = fvae_fisher_options_default();
    FvaeNormalization improved = {0.5f, 1};
    double start, seconds;
    FILE *out;
    int32_t s;

    if (argc != 4) {
        fprintf(stderr, "usage: %s GMM.safetensors X.npy OUT.f32\n", argv[0]);
        return 2;
    }
    gmm_file = read_all(argv[1], &gmm_len);
    x_file = read_all(argv[2], &x_len);
    x = npy_f32(x_file, x_len, &rows, &cols);
    if (!x || fvae_gmm_safetensors_dims(gmm_file, gmm_len, &k, &d) != FVAE_OK || cols != d || rows == 0) {
        fprintf(stderr, "%s, %s: not a GMM and float32 [N, D] descriptors of its D\n", argv[1], argv[2]);
        return 2;
    }
    gmm_mem = malloc(fvae_gmm_size(k, d));
    fv_mem = malloc(fvae_fisher_size(k, d));
    fv_len = fvae_fisher_vector_len(k, d, FVAE_LAYOUT_VLFEAT);
    fv = malloc(fv_len * sizeof *fv);
    if (!gmm_mem || !fv_mem || !fv)
        return 2;
    s = fvae_gmm_init_safetensors(gmm_mem, fvae_gmm_size(k, d), gmm_file, gmm_len, &gmm);
    if (s == FVAE_OK)
        s = fvae_fisher_init(fv_mem, fvae_fisher_size(k, d), gmm, &options, &acc);
    block = ((size_t)256 << 10) / (d * sizeof(float)); /* the command line's 256 KiB blocks */
    if (block == 0)
        block = 1;
    buf = malloc(block * d * sizeof *buf);
    if (!buf)
        return 2;
    /* Each block is copied to one buffer first, as the command line reads each block into one
     * buffer: both then encode from the cache, and only the encoding is timed. */
    seconds = 0.0;
    for (r = 0; s == FVAE_OK && r < rows; r += block) {
        size_t n = rows - r < block ? rows - r : block;
        memcpy(buf, x + r * d, n * d * sizeof *buf);
        start = now();
        s = fvae_fisher_push_batch(acc, buf, n * d);
        seconds += now() - start;
    }
    start = now();
    if (s == FVAE_OK)
        s = fvae_fisher_finish(acc, FVAE_LAYOUT_VLFEAT, &improved, fv, fv_len);
    seconds += now() - start;
    if (s != FVAE_OK) {
        fprintf(stderr, "fvae: %s\n", fvae_status_message(s));
        return 1;
    }
    fprintf(stderr, "fv: encoded %zu rows in %.6f s\n", rows, seconds);
    out = fopen(argv[3], "wb");
    if (!out || fwrite(fv, sizeof *fv, fv_len, out) != fv_len || fclose(out) != 0) {
        fprintf(stderr, "%s: cannot write\n", argv[3]);
        return 2;
    }
    return 0;
}
