/* C tests of libfvae's GMM and Fisher-vector API against the edge_k4 fixture (K=4, D=8, N=60: a
 * component of weight 1e-7, variances of 1e-5, far descriptors). Same source on the host and on
 * Cortex-M4F under QEMU; main returns the number of failed checks (0 = pass). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "edge_k4.h"
#include "fvae.h"

/* Storage: uint64_t arrays are 8-aligned (FVAE_ALIGN) in C99 without _Alignas. */
#define WORDS 256
static uint64_t gmm_store[WORDS], gmm_raw_store[WORDS], fa_store[WORDS], fb_store[WORDS], junk_store[WORDS];

/* Relative L2 error of a float vector against a double reference. */
static double rel_l2(const float *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

int main(void) {
    const size_t K = EDGE_K, D = EDGE_D, N = EDGE_N;
    size_t k = 0, d = 0, i;
    size_t gsize = fvae_gmm_size(K, D), fsize = fvae_fisher_size(K, D);
    FvaeGmm *gmm = NULL, *gmm_raw = NULL;
    FvaeFisher *fa = NULL, *fb = NULL;
    float q[EDGE_K], q_raw[EDGE_K], ld[EDGE_K], ll = 0.0f, fv[2 * EDGE_K * EDGE_D + EDGE_K], fv2[2 * EDGE_K * EDGE_D];
    FvaeFisherOptions opts = fvae_fisher_options_default();
    FvaeNormalization improved = {0.5f, 1}, raw = {0.0f, 0};
    uint64_t count = 0;
    double err;

    /* Sizes and dimensions. */
    CHECK(gsize > 0 && gsize <= sizeof gmm_store, "gmm size %u", (unsigned)gsize);
    CHECK(fsize > 0 && fsize <= sizeof fa_store, "fisher size %u", (unsigned)fsize);
    CHECK(fvae_gmm_size(0, D) == 0 && fvae_fisher_size(K, 0) == 0, "zero sizes must give 0");
    CHECK(fvae_gmm_size((size_t)-1, 2) == 0, "overflowing size must give 0");
    CHECK(fvae_fisher_vector_len(K, D, FVAE_LAYOUT_VLFEAT) == 2 * K * D, "vlfeat length");
    CHECK(fvae_fisher_vector_len(K, D, FVAE_LAYOUT_SKIMAGE) == 2 * K * D + K, "skimage length");
    CHECK(fvae_fisher_vector_len(K, D, 7) == 0, "unknown layout length");
    CHECK_STATUS(fvae_gmm_safetensors_dims(EDGE_SAFETENSORS.bytes, sizeof EDGE_SAFETENSORS.bytes, &k, &d), FVAE_OK);
    CHECK(k == K && d == D, "dims %u x %u", (unsigned)k, (unsigned)d);

    /* GMM from .safetensors and from raw arrays. */
    CHECK_STATUS(fvae_gmm_init_safetensors(gmm_store, sizeof gmm_store, EDGE_SAFETENSORS.bytes,
                                           sizeof EDGE_SAFETENSORS.bytes, &gmm),
                 FVAE_OK);
    CHECK_STATUS(fvae_gmm_init(gmm_raw_store, gsize, K, D, EDGE_WEIGHTS, EDGE_MEANS, EDGE_VARIANCES, &gmm_raw),
                 FVAE_OK);
    CHECK(gmm == (FvaeGmm *)(void *)gmm_store, "the handle points into the storage");
    k = d = 0;
    CHECK_STATUS(fvae_gmm_dims(gmm_raw, &k, &d), FVAE_OK);
    CHECK(k == K && d == D, "raw dims %u x %u", (unsigned)k, (unsigned)d);

    /* Posteriors, log-likelihood and log-densities of the first descriptor (float64 fixture). */
    CHECK_STATUS(fvae_gmm_posteriors(gmm, EDGE_X, D, q, K, &ll), FVAE_OK);
    for (i = 0; i < K; i++)
        CHECK(fabs(q[i] - EDGE_POSTERIORS0[i]) < 1e-5, "posterior %u: %g vs %g", (unsigned)i, q[i],
              EDGE_POSTERIORS0[i]);
    CHECK(fabs(ll - EDGE_LOG_LIKELIHOOD0[0]) <= 1e-4 * fabs(EDGE_LOG_LIKELIHOOD0[0]) + 1e-4,
          "log-likelihood %g vs %g", ll, EDGE_LOG_LIKELIHOOD0[0]);
    CHECK_STATUS(fvae_gmm_posteriors(gmm_raw, EDGE_X, D, q_raw, K, NULL), FVAE_OK);
    CHECK(memcmp(q, q_raw, sizeof q) == 0, "raw-array GMM must equal the .safetensors GMM bit for bit");
    CHECK_STATUS(fvae_gmm_log_densities(gmm, EDGE_X, D, ld, K), FVAE_OK);
    for (i = 0; i < K; i++)
        CHECK(fabs(ld[i] - EDGE_LOG_DENSITY0[i]) <= 1e-4 * fabs(EDGE_LOG_DENSITY0[i]) + 1e-3,
              "log-density %u: %g vs %g", (unsigned)i, ld[i], EDGE_LOG_DENSITY0[i]);

    /* Fisher vector pushed one by one: raw and improved against the float64 fixture (1e-4 rel L2,
     * the Rust suite's tolerance). */
    CHECK_STATUS(fvae_fisher_init(fa_store, fsize, gmm, &opts, &fa), FVAE_OK);
    for (i = 0; i < N; i++)
        CHECK_STATUS(fvae_fisher_push(fa, EDGE_X + i * D, D, NULL), FVAE_OK);
    CHECK_STATUS(fvae_fisher_count(fa, &count), FVAE_OK);
    CHECK(count == N, "count %u", (unsigned)count);
    CHECK_STATUS(fvae_fisher_finish(fa, FVAE_LAYOUT_VLFEAT, &raw, fv, 2 * K * D), FVAE_OK);
    err = rel_l2(fv, EDGE_FV_RAW, 2 * K * D);
    CHECK(err < 1e-4, "raw FV rel L2 error %g", err);
    CHECK_STATUS(fvae_fisher_finish(fa, FVAE_LAYOUT_VLFEAT, &improved, fv, 2 * K * D), FVAE_OK);
    err = rel_l2(fv, EDGE_FV_IMPROVED, 2 * K * D);
    CHECK(err < 1e-4, "improved FV rel L2 error %g", err);
    printf("edge_k4 improved Fisher vector: rel L2 error %.3g vs float64 reference\n", err);

    /* Two batches in two accumulators, merged: the same vector. */
    CHECK_STATUS(fvae_fisher_init(fb_store, fsize, gmm, NULL, &fb), FVAE_OK);
    CHECK_STATUS(fvae_fisher_reset(fa), FVAE_OK);
    CHECK_STATUS(fvae_fisher_count(fa, &count), FVAE_OK);
    CHECK(count == 0, "count after reset %u", (unsigned)count);
    CHECK_STATUS(fvae_fisher_finish(fa, FVAE_LAYOUT_VLFEAT, NULL, fv2, 2 * K * D), FVAE_ERR_EMPTY);
    CHECK_STATUS(fvae_fisher_push_batch(fa, EDGE_X, 25 * D), FVAE_OK);
    CHECK_STATUS(fvae_fisher_push_batch(fb, EDGE_X + 25 * D, (N - 25) * D), FVAE_OK);
    CHECK_STATUS(fvae_fisher_merge(fa, fb), FVAE_OK);
    CHECK_STATUS(fvae_fisher_count(fa, &count), FVAE_OK);
    CHECK(count == N, "merged count %u", (unsigned)count);
    CHECK_STATUS(fvae_fisher_finish(fa, FVAE_LAYOUT_VLFEAT, &improved, fv2, 2 * K * D), FVAE_OK);
    err = rel_l2(fv2, EDGE_FV_IMPROVED, 2 * K * D);
    CHECK(err < 1e-4, "merged improved FV rel L2 error %g", err);

    /* scikit-image layout: weights block first, then G_mu equal to VLFeat's. */
    CHECK_STATUS(fvae_fisher_finish(fa, FVAE_LAYOUT_SKIMAGE, &raw, fv, 2 * K * D + K), FVAE_OK);
    err = rel_l2(fv + K, EDGE_FV_RAW, K * D);
    CHECK(err < 1e-4, "skimage G_mu block rel L2 error %g", err);

    /* Hard assignment with a threshold option set: finite, unit norm when improved. */
    opts.hard = 1;
    opts.compensated = 0;
    CHECK_STATUS(fvae_fisher_init(fb_store, fsize, gmm, &opts, &fb), FVAE_OK);
    CHECK_STATUS(fvae_fisher_push_batch(fb, EDGE_X, N * D), FVAE_OK);
    CHECK_STATUS(fvae_fisher_finish(fb, FVAE_LAYOUT_VLFEAT, &improved, fv, 2 * K * D), FVAE_OK);
    {
        double norm = 0.0;
        for (i = 0; i < 2 * K * D; i++) norm += (double)fv[i] * fv[i];
        CHECK(fabs(norm - 1.0) < 1e-5, "hard improved FV squared norm %g", norm);
    }
    CHECK_STATUS(fvae_fisher_merge(fa, fb), FVAE_OK); /* same GMM shape: allowed */

    /* Bad input is a status, never a crash. */
    CHECK_STATUS(fvae_gmm_init(NULL, gsize, K, D, EDGE_WEIGHTS, EDGE_MEANS, EDGE_VARIANCES, &gmm_raw), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_gmm_init(gmm_raw_store, gsize, K, D, NULL, EDGE_MEANS, EDGE_VARIANCES, &gmm_raw), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_gmm_init((unsigned char *)junk_store + 4, gsize, K, D, EDGE_WEIGHTS, EDGE_MEANS, EDGE_VARIANCES,
                               &gmm_raw),
                 FVAE_ERR_MISALIGNED);
    CHECK_STATUS(fvae_gmm_init(junk_store, gsize - 1, K, D, EDGE_WEIGHTS, EDGE_MEANS, EDGE_VARIANCES, &gmm_raw),
                 FVAE_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(fvae_gmm_init(junk_store, gsize, K, D, EDGE_VARIANCES, EDGE_MEANS, EDGE_VARIANCES, &gmm_raw),
                 FVAE_ERR_VALUE); /* weights that do not sum to 1 */
    CHECK_STATUS(fvae_gmm_init(junk_store, gsize, K, D, (const float *)((const char *)EDGE_WEIGHTS + 1), EDGE_MEANS,
                               EDGE_VARIANCES, &gmm_raw),
                 FVAE_ERR_MISALIGNED);
    CHECK_STATUS(fvae_gmm_init_safetensors(junk_store, sizeof junk_store, EDGE_SAFETENSORS.bytes, 100, &gmm_raw),
                 FVAE_ERR_FORMAT);
    CHECK_STATUS(fvae_gmm_init_safetensors(junk_store, sizeof junk_store, EDGE_SAFETENSORS.bytes + 1,
                                           sizeof EDGE_SAFETENSORS.bytes - 1, &gmm_raw),
                 FVAE_ERR_FORMAT);
    memset(junk_store, 0, sizeof junk_store);
    CHECK_STATUS(fvae_gmm_posteriors((const FvaeGmm *)(void *)junk_store, EDGE_X, D, q, K, NULL),
                 FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_fisher_push((FvaeFisher *)(void *)junk_store, EDGE_X, D, NULL), FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_fisher_push((FvaeFisher *)(void *)gmm_store, EDGE_X, D, NULL), FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_gmm_posteriors(NULL, EDGE_X, D, q, K, NULL), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_gmm_posteriors(gmm, EDGE_X, D - 1, q, K, NULL), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_gmm_posteriors(gmm, EDGE_X, D, q, K - 1, NULL), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_gmm_posteriors(gmm, NULL, D, q, K, NULL), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_fisher_init(fb_store, fsize - 1, gmm, NULL, &fb), FVAE_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(fvae_fisher_push_batch(fa, EDGE_X, D + 1), FVAE_ERR_SHAPE);
    {
        float bad[EDGE_D];
        memcpy(bad, EDGE_X, sizeof bad);
        bad[3] = NAN;
        CHECK_STATUS(fvae_fisher_push(fa, bad, D, NULL), FVAE_ERR_VALUE);
    }
    CHECK_STATUS(fvae_fisher_finish(fa, 9, NULL, fv, 2 * K * D), FVAE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(fvae_fisher_finish(fa, FVAE_LAYOUT_SKIMAGE, NULL, fv, 2 * K * D), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_fisher_merge(fa, fa), FVAE_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(fvae_fisher_count(fa, NULL), FVAE_ERR_NULL);
    {
        int32_t c;
        for (c = 0; c >= -14; c--) {
            const char *m = fvae_status_message(c);
            CHECK(m != NULL && strlen(m) > 0, "message for %d", (int)c);
        }
        CHECK(strcmp(fvae_status_message(1234), "not an fvae status code") == 0, "unknown status message");
    }

    printf("test_fisher: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
