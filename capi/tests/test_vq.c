/* C tests of libfvae's VQ API against tests/data/vq (digits_m64: M=64, D=64, f32 and int8 codebooks;
 * residual_digits_4x16: 4 stages of 16). Same source on the host and on Cortex-M4F under QEMU; main
 * returns 0 when every check passed. Indices and int8 distances must match exactly; f32 distances
 * (f64 sums rounded to f32) within 1e-6 relative of the float64 fixture. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fvae.h"
#include "vq_fixture.h"

/* Storage: uint64_t arrays are 8-aligned (FVAE_ALIGN) in C99 without _Alignas. */
/* 64 KiB of RAM on the M4F test machine: the raw-array codebook lives in the residual VQ's storage
 * until the residual VQ, tested last, replaces it. */
static uint64_t cb_store[(VQ_M * VQ_D * 4 + 256) / 8], i8_store[(VQ_M * VQ_D + 256) / 8];
static uint64_t rvq_store[(RVQ_S * RVQ_M * VQ_D * 4 + 256) / 8];
#define cb_raw_store rvq_store
static uint64_t junk_store[64], view_store[3][32];
static uint32_t idx[VQ_N * 4], idx2[VQ_N * 4], udist[VQ_N * 4];
static float dist[VQ_N * 4], dist2[VQ_N * 4], recon[VQ_N * VQ_D];
static int8_t q8[VQ_N * VQ_D];

static int close_rel(double got, double want, double tol) { return fabs(got - want) <= tol * fabs(want) + 1e-12; }

int main(void) {
    const size_t M = VQ_M, D = VQ_D, N = VQ_N, S = RVQ_S;
    size_t m = 0, d = 0, s = 0, found = 0, i, j;
    FvaeCodebook *cb = NULL, *cb_raw = NULL;
    FvaeCodebookI8 *cb8 = NULL;
    FvaeRvq *rvq = NULL;
    float scale = 0.0f, residual[VQ_D];
    uint32_t index = 0, codes[VQ_N * RVQ_S], ud = 0;
    float fd = 0.0f;
    double worst;
    const float *raw_codebook;

    /* Sizes and dimensions. */
    CHECK(fvae_codebook_size(M, D) > 0 && fvae_codebook_size(M, D) <= sizeof cb_store, "codebook size %u",
          (unsigned)fvae_codebook_size(M, D));
    CHECK(fvae_codebook_i8_size(M, D) > 0 && fvae_codebook_i8_size(M, D) <= sizeof i8_store, "int8 size");
    CHECK(fvae_rvq_size(S, RVQ_M, D) > 0 && fvae_rvq_size(S, RVQ_M, D) <= sizeof rvq_store, "rvq size");
    CHECK(fvae_codebook_size(0, D) == 0 && fvae_codebook_i8_size(M, 0) == 0 && fvae_rvq_size(0, 1, 1) == 0,
          "zero sizes give 0");
    CHECK(fvae_codebook_size((size_t)-1, 2) == 0 && fvae_rvq_size((size_t)-1, 2, 2) == 0, "overflow gives 0");
    CHECK_STATUS(fvae_codebook_safetensors_dims(VQ_CODEBOOK.bytes, sizeof VQ_CODEBOOK.bytes, &m, &d), FVAE_OK);
    CHECK(m == M && d == D, "dims %u x %u", (unsigned)m, (unsigned)d);
    CHECK_STATUS(fvae_rvq_safetensors_dims(RVQ_CODEBOOKS.bytes, sizeof RVQ_CODEBOOKS.bytes, &s, &m, &d), FVAE_OK);
    CHECK(s == S && m == RVQ_M && d == D, "rvq dims %u %u %u", (unsigned)s, (unsigned)m, (unsigned)d);

    /* f32 codebook from .safetensors and from a raw array (its bytes, read from the file's data). */
    CHECK_STATUS(fvae_codebook_init_safetensors(cb_store, sizeof cb_store, VQ_CODEBOOK.bytes, sizeof VQ_CODEBOOK.bytes,
                                                &cb),
                 FVAE_OK);
    CHECK(cb == (FvaeCodebook *)(void *)cb_store, "the handle points into the storage");
    raw_codebook = (const float *)(const void *)(VQ_CODEBOOK.bytes + VQ_CODEBOOK_OFFSET); /* 4-aligned */
    CHECK_STATUS(fvae_codebook_init(cb_raw_store, fvae_codebook_size(M, D), M, D, raw_codebook, &cb_raw), FVAE_OK);
    m = d = 0;
    CHECK_STATUS(fvae_codebook_dims(cb_raw, &m, &d), FVAE_OK);
    CHECK(m == M && d == D, "raw dims");

    /* Nearest, one query at a time and as a batch, from both codebooks. */
    worst = 0.0;
    for (i = 0; i < N; i++) {
        CHECK_STATUS(fvae_codebook_nearest(cb, VQ_X + i * D, D, &index, &fd), FVAE_OK);
        CHECK(index == VQ_NEAREST[i], "nearest %u: %u vs %u", (unsigned)i, (unsigned)index, (unsigned)VQ_NEAREST[i]);
        CHECK(close_rel(fd, VQ_NEAREST_DIST[i], 1e-6), "distance %u: %.9g vs %.9g", (unsigned)i, fd,
              VQ_NEAREST_DIST[i]);
        if (fabs(fd - VQ_NEAREST_DIST[i]) / VQ_NEAREST_DIST[i] > worst) worst = fabs(fd - VQ_NEAREST_DIST[i]) / VQ_NEAREST_DIST[i];
    }
    CHECK_STATUS(fvae_codebook_nearest_batch(cb_raw, VQ_X, N * D, idx, dist, N), FVAE_OK);
    for (i = 0; i < N; i++)
        CHECK(idx[i] == VQ_NEAREST[i] && close_rel(dist[i], VQ_NEAREST_DIST[i], 1e-6), "batch nearest %u",
              (unsigned)i);

    /* Top-4, one query and batch. */
    for (i = 0; i < N; i++) {
        CHECK_STATUS(fvae_codebook_top_k(cb, VQ_X + i * D, D, 4, idx, dist, &found), FVAE_OK);
        CHECK(found == 4, "found %u", (unsigned)found);
        for (j = 0; j < 4; j++)
            CHECK(idx[j] == VQ_TOP4[i * 4 + j] && close_rel(dist[j], VQ_TOP4_DIST[i * 4 + j], 1e-6),
                  "top4 %u.%u: %u %.9g vs %u %.9g", (unsigned)i, (unsigned)j, (unsigned)idx[j], dist[j],
                  (unsigned)VQ_TOP4[i * 4 + j], VQ_TOP4_DIST[i * 4 + j]);
    }
    found = 0;
    CHECK_STATUS(fvae_codebook_top_k_batch(cb, VQ_X, N * D, 4, idx2, dist2, N * 4, &found), FVAE_OK);
    CHECK(found == 4, "batch found %u", (unsigned)found);
    for (i = 0; i < N * 4; i++)
        CHECK(idx2[i] == VQ_TOP4[i] && close_rel(dist2[i], VQ_TOP4_DIST[i], 1e-6), "batch top4 %u", (unsigned)i);
    /* k > M: M results. */
    {
        static uint32_t big_i[VQ_M + 3];
        static float big_d[VQ_M + 3];
        CHECK_STATUS(fvae_codebook_top_k(cb, VQ_X, D, M + 3, big_i, big_d, &found), FVAE_OK);
        CHECK(found == M && big_i[0] == VQ_NEAREST[0], "k > M gives M (%u)", (unsigned)found);
    }

    /* int8: init from .safetensors, quantise the f32 queries to the codebook's scale (must equal the
     * fixture's x_int8), exact nearest and integer distances. */
    CHECK_STATUS(fvae_codebook_safetensors_dims(VQ_CODEBOOK_I8.bytes, sizeof VQ_CODEBOOK_I8.bytes, &m, &d), FVAE_OK);
    CHECK(m == M && d == D, "int8 dims");
    CHECK_STATUS(fvae_codebook_i8_init_safetensors(i8_store, sizeof i8_store, VQ_CODEBOOK_I8.bytes,
                                                   sizeof VQ_CODEBOOK_I8.bytes, &cb8),
                 FVAE_OK);
    CHECK_STATUS(fvae_codebook_i8_dims(cb8, &m, &d, &scale), FVAE_OK);
    CHECK(m == M && d == D && scale > 0.0f, "int8 dims %u %u scale %g", (unsigned)m, (unsigned)d, scale);
    for (i = 0; i < N; i++) CHECK_STATUS(fvae_codebook_i8_quantize(cb8, VQ_X + i * D, D, q8 + i * D, D), FVAE_OK);
    CHECK(memcmp(q8, VQ_X_I8, sizeof q8) == 0, "quantised queries equal x_int8.npy");
    CHECK_STATUS(fvae_quantize_i8(VQ_X, N * D, scale, q8, N * D), FVAE_OK);
    CHECK(memcmp(q8, VQ_X_I8, sizeof q8) == 0, "fvae_quantize_i8 equals x_int8.npy");
    for (i = 0; i < N; i++) {
        CHECK_STATUS(fvae_codebook_i8_nearest(cb8, VQ_X_I8 + i * D, D, &index, &ud), FVAE_OK);
        CHECK(index == VQ_NEAREST_I8[i] && ud == VQ_NEAREST_I8_DIST[i], "int8 nearest %u: %u %u vs %u %u",
              (unsigned)i, (unsigned)index, (unsigned)ud, (unsigned)VQ_NEAREST_I8[i],
              (unsigned)VQ_NEAREST_I8_DIST[i]);
    }
    CHECK_STATUS(fvae_codebook_i8_nearest_batch(cb8, VQ_X_I8, N * D, idx, udist, N), FVAE_OK);
    for (i = 0; i < N; i++)
        CHECK(idx[i] == VQ_NEAREST_I8[i] && udist[i] == VQ_NEAREST_I8_DIST[i], "int8 batch %u", (unsigned)i);
    CHECK_STATUS(fvae_codebook_i8_top_k(cb8, VQ_X_I8, D, 4, idx, udist, &found), FVAE_OK);
    CHECK(found == 4 && idx[0] == VQ_NEAREST_I8[0] && udist[0] <= udist[1] && udist[1] <= udist[2] &&
              udist[2] <= udist[3],
          "int8 top4 sorted, best first");
    CHECK_STATUS(fvae_codebook_i8_top_k_batch(cb8, VQ_X_I8, N * D, 4, idx2, udist, N * 4, &found), FVAE_OK);
    for (i = 0; i < N; i++) CHECK(idx2[i * 4] == VQ_NEAREST_I8[i], "int8 top4 batch %u", (unsigned)i);
    /* Raw int8 codebook: the same bytes, same results. */
    {
        FvaeCodebookI8 *cb8r = NULL;
        const int8_t *data = (const int8_t *)(const void *)(VQ_CODEBOOK_I8.bytes + VQ_CODEBOOK_I8_OFFSET);
        CHECK_STATUS(fvae_codebook_i8_init(i8_store, sizeof i8_store, M, D, data, scale, &cb8r), FVAE_OK);
        CHECK_STATUS(fvae_codebook_i8_nearest(cb8r, VQ_X_I8, D, &index, &ud), FVAE_OK);
        CHECK(index == VQ_NEAREST_I8[0] && ud == VQ_NEAREST_I8_DIST[0], "raw int8 codebook nearest");
        CHECK_STATUS(fvae_codebook_i8_init(i8_store, sizeof i8_store, M, D, data, 0.0f, &cb8r),
                     FVAE_ERR_VALUE);
        CHECK_STATUS(fvae_codebook_i8_init(i8_store, sizeof i8_store, M, D, data, NAN, &cb8r), FVAE_ERR_VALUE);
        /* A failed init invalidates what the storage held before, then the storage is reused. */
        CHECK_STATUS(fvae_codebook_i8_nearest(cb8, VQ_X_I8, D, &index, &ud), FVAE_ERR_INVALID_HANDLE);
        CHECK_STATUS(fvae_codebook_i8_init_safetensors(i8_store, sizeof i8_store, VQ_CODEBOOK_I8.bytes,
                                                       sizeof VQ_CODEBOOK_I8.bytes, &cb8),
                     FVAE_OK);
    }

    /* Views: the codewords read in place (from flash on the M4F), same results as the copies. */
    {
        FvaeCodebook *v = NULL;
        FvaeCodebookI8 *v8 = NULL;
        FvaeRvq *vr = NULL;
        size_t vs = fvae_vq_view_size();
        CHECK(vs > 0 && vs <= sizeof view_store[0] && vs < fvae_codebook_size(1, 1), "view size %u",
              (unsigned)vs);
        CHECK_STATUS(fvae_codebook_view_safetensors(view_store[0], vs, VQ_CODEBOOK.bytes, sizeof VQ_CODEBOOK.bytes, &v),
                     FVAE_OK);
        CHECK_STATUS(fvae_codebook_i8_view_safetensors(view_store[1], vs, VQ_CODEBOOK_I8.bytes,
                                                       sizeof VQ_CODEBOOK_I8.bytes, &v8),
                     FVAE_OK);
        CHECK_STATUS(fvae_rvq_view_safetensors(view_store[2], vs, RVQ_CODEBOOKS.bytes, sizeof RVQ_CODEBOOKS.bytes, &vr),
                     FVAE_OK);
        CHECK_STATUS(fvae_codebook_nearest_batch(v, VQ_X, N * D, idx, dist, N), FVAE_OK);
        CHECK_STATUS(fvae_codebook_i8_nearest_batch(v8, VQ_X_I8, N * D, idx2, udist, N), FVAE_OK);
        for (i = 0; i < N; i++) {
            CHECK(idx[i] == VQ_NEAREST[i] && close_rel(dist[i], VQ_NEAREST_DIST[i], 1e-6), "view nearest %u",
                  (unsigned)i);
            CHECK(idx2[i] == VQ_NEAREST_I8[i] && udist[i] == VQ_NEAREST_I8_DIST[i], "int8 view nearest %u",
                  (unsigned)i);
        }
        CHECK_STATUS(fvae_rvq_encode(vr, RVQ_X, N * D, codes, N * S, residual, D), FVAE_OK);
        CHECK(memcmp(codes, RVQ_CODES, sizeof codes) == 0, "rvq view codes equal codes.npy");
        CHECK_STATUS(fvae_codebook_view(view_store[0], vs, M, D, raw_codebook, &v), FVAE_OK);
        CHECK_STATUS(fvae_codebook_nearest(v, VQ_X, D, &index, &fd), FVAE_OK);
        CHECK(index == VQ_NEAREST[0], "raw view nearest");
        CHECK_STATUS(fvae_codebook_i8_view(view_store[1], vs, M, D,
                                           (const int8_t *)(const void *)(VQ_CODEBOOK_I8.bytes + VQ_CODEBOOK_I8_OFFSET),
                                           scale, &v8),
                     FVAE_OK);
        CHECK_STATUS(fvae_codebook_i8_nearest(v8, VQ_X_I8, D, &index, &ud), FVAE_OK);
        CHECK(index == VQ_NEAREST_I8[0] && ud == VQ_NEAREST_I8_DIST[0], "raw int8 view nearest");
        CHECK_STATUS(fvae_rvq_view(view_store[2], vs, S, RVQ_M, D,
                                   (const float *)(const void *)(RVQ_CODEBOOKS.bytes + sizeof RVQ_CODEBOOKS.bytes -
                                                                 S * RVQ_M * D * 4),
                                   &vr),
                     FVAE_OK);
        CHECK_STATUS(fvae_codebook_view(view_store[0], vs - 1, M, D, raw_codebook, &v), FVAE_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(fvae_codebook_view(view_store[0], vs, M - 1, D, raw_codebook + 1, &v), FVAE_OK); /* 4-aligned is enough */
        CHECK_STATUS(fvae_codebook_view(view_store[0], vs, M, D, (const float *)(const void *)((const char *)raw_codebook + 2), &v),
                     FVAE_ERR_MISALIGNED);
        CHECK_STATUS(fvae_codebook_view(view_store[0], vs, M, D, NULL, &v), FVAE_ERR_NULL);
        CHECK_STATUS(fvae_codebook_i8_view(view_store[1], vs, M, D, VQ_X_I8, -1.0f, &v8), FVAE_ERR_VALUE);
    }

    /* Bad inputs are statuses. */
    CHECK_STATUS(fvae_codebook_nearest(NULL, VQ_X, D, &index, &fd), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_codebook_nearest(cb, NULL, D, &index, &fd), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_codebook_nearest(cb, VQ_X, D - 1, &index, &fd), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_codebook_nearest(cb, (const float *)((const char *)VQ_X + 1), D, &index, &fd),
                 FVAE_ERR_MISALIGNED);
    {
        float bad[VQ_D];
        memcpy(bad, VQ_X, sizeof bad);
        bad[5] = NAN;
        CHECK_STATUS(fvae_codebook_nearest(cb, bad, D, &index, &fd), FVAE_ERR_VALUE);
        CHECK_STATUS(fvae_codebook_i8_quantize(cb8, bad, D, q8, D), FVAE_ERR_VALUE);
        bad[5] = INFINITY;
        CHECK_STATUS(fvae_codebook_init(junk_store, 16, 1, D, bad, &cb_raw), FVAE_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(fvae_codebook_init(cb_raw_store, sizeof cb_raw_store, 1, D, bad, &cb_raw), FVAE_ERR_VALUE);
    }
    CHECK_STATUS(fvae_codebook_init(cb_raw_store, fvae_codebook_size(M, D) - 1, M, D, raw_codebook, &cb_raw),
                 FVAE_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(fvae_codebook_init((char *)cb_raw_store + 4, sizeof cb_raw_store - 8, M, D, raw_codebook, &cb_raw),
                 FVAE_ERR_MISALIGNED);
    CHECK_STATUS(fvae_codebook_init(cb_raw_store, sizeof cb_raw_store, 0, D, raw_codebook, &cb_raw), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_codebook_init(cb_raw_store, sizeof cb_raw_store, M, D, raw_codebook, NULL), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_codebook_init_safetensors(junk_store, sizeof junk_store, VQ_CODEBOOK.bytes, 100, &cb_raw),
                 FVAE_ERR_FORMAT);
    CHECK_STATUS(fvae_codebook_init_safetensors(cb_raw_store, sizeof cb_raw_store, VQ_CODEBOOK_I8.bytes,
                                                sizeof VQ_CODEBOOK_I8.bytes, &cb_raw),
                 FVAE_ERR_DTYPE); /* an int8 file given to the f32 codebook */
    CHECK_STATUS(fvae_codebook_i8_init_safetensors(i8_store, sizeof i8_store, VQ_CODEBOOK.bytes,
                                                   sizeof VQ_CODEBOOK.bytes, &cb8),
                 FVAE_ERR_MISSING); /* the f32 file has no scale */
    CHECK_STATUS(fvae_codebook_top_k(cb, VQ_X, D, 4, idx, NULL, &found), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_codebook_top_k_batch(cb, VQ_X, N * D - 1, 4, idx2, dist2, N * 4, &found), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_codebook_top_k_batch(cb, VQ_X, N * D, 4, idx2, dist2, N * 4 - 1, &found), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_codebook_i8_nearest(cb8, VQ_X_I8, D + 1, &index, &ud), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_quantize_i8(VQ_X, D, -1.0f, q8, D), FVAE_ERR_VALUE);
    CHECK_STATUS(fvae_quantize_i8(VQ_X, D, 1.0f, q8, D - 1), FVAE_ERR_SHAPE);
    /* Handles of the wrong kind or never initialised. */
    memset(junk_store, 0, sizeof junk_store);
    CHECK_STATUS(fvae_codebook_nearest((const FvaeCodebook *)(void *)junk_store, VQ_X, D, &index, &fd),
                 FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_codebook_nearest((const FvaeCodebook *)(void *)i8_store, VQ_X, D, &index, &fd),
                 FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_codebook_i8_nearest((const FvaeCodebookI8 *)(void *)cb_store, VQ_X_I8, D, &index, &ud),
                 FVAE_ERR_INVALID_HANDLE);
    /* Residual VQ: encode to the fixture's codes, decode to its reconstruction. */
    CHECK_STATUS(fvae_rvq_init_safetensors(rvq_store, sizeof rvq_store, RVQ_CODEBOOKS.bytes,
                                           sizeof RVQ_CODEBOOKS.bytes, &rvq),
                 FVAE_OK);
    CHECK_STATUS(fvae_rvq_dims(rvq, &s, &m, &d), FVAE_OK);
    CHECK(s == S && m == RVQ_M && d == D, "rvq handle dims");
    CHECK_STATUS(fvae_rvq_encode(rvq, RVQ_X, N * D, codes, N * S, residual, D), FVAE_OK);
    CHECK(memcmp(codes, RVQ_CODES, sizeof codes) == 0, "rvq codes equal codes.npy");
    CHECK_STATUS(fvae_rvq_decode(rvq, RVQ_CODES, N * S, recon, N * D), FVAE_OK);
    worst = 0.0;
    for (i = 0; i < N * D; i++)
        if (fabs(recon[i] - RVQ_RECONSTRUCTION[i]) > worst) worst = fabs(recon[i] - RVQ_RECONSTRUCTION[i]);
    CHECK(worst < 1e-5, "rvq reconstruction max abs error %g", worst);
    /* The residual of the last query is x - decode(codes). */
    for (i = 0, worst = 0.0; i < D; i++) {
        double e = fabs((double)RVQ_X[(N - 1) * D + i] - recon[(N - 1) * D + i] - residual[i]);
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-5, "rvq residual max abs error %g", worst);

    CHECK_STATUS(fvae_rvq_init_safetensors(rvq_store, sizeof rvq_store, VQ_CODEBOOK.bytes, sizeof VQ_CODEBOOK.bytes,
                                           &rvq),
                 FVAE_ERR_MISSING); /* no `codebooks` tensor */
    CHECK_STATUS(fvae_rvq_encode(rvq, RVQ_X, D, codes, S, residual, D - 1), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_rvq_encode(rvq, RVQ_X, D, codes, S + 1, residual, D), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_rvq_encode(rvq, RVQ_X, 0, codes, 0, residual, D), FVAE_ERR_SHAPE);
    codes[0] = RVQ_M; /* not below M */
    CHECK_STATUS(fvae_rvq_decode(rvq, codes, S, recon, D), FVAE_ERR_VALUE);
    CHECK_STATUS(fvae_rvq_decode(rvq, codes, S, recon, D + 1), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_rvq_dims((const FvaeRvq *)(void *)cb_store, &s, &m, &d), FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_rvq_dims((const FvaeRvq *)(void *)((char *)rvq_store + 4), &s, &m, &d), FVAE_ERR_MISALIGNED);

    printf("test_vq: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
