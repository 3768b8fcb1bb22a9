/* C tests of libfvae's VQ-VAE codec. The encoder (f32 and int8 codebooks, f32 and int8 input) and the
 * decoder of tests/data/vqvae/g4_m16 against TFLite Micro's indices and int8 reconstructions of the
 * first 4 test digits (vqvae_fixture.h); then the packing: indices at ceil(log2 M) bits, least
 * significant bit first, the same bytes as fvae::vqvae::pack_indices (the 16 indices of the first
 * test digit of tests/data/vqvae/g4_m64 and the 12 bytes the Cortex-M firmware sends for them). Same
 * source on the host and on Cortex-M4F under QEMU; main returns 0 when every check passed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fvae.h"
#include "vqvae_fixture.h"

static uint64_t enc_net_store[160], dec_net_store[160], cb_store[128], cb_i8_store[64];
static uint64_t enc_store[64], enc_i8_store[64], dec_store[64];
/* Arenas of the encoder (twice: one per codebook) and decoder, carved from one pool. */
#if defined(__arm__)
static unsigned char pool[32 * 1024];
#else
static unsigned char pool[160 * 1024];
#endif
static float latent[VQVAE_LATENT], latent_i8[VQVAE_LATENT];
static struct FvaeCodebook *cb;
static struct FvaeVqVaeEncoder *enc;
static struct FvaeVqVaeDecoder *dec;
static unsigned char *a_enc, *a_dec;

/* The f32-codebook encoder and the decoder into their storage, with the sizes and network under
 * test (short, so that the messages of the checks fit the M4F flash). */
static int32_t enc_init(size_t store_len, const struct FvaeNet *net, size_t arena_len, size_t latent_len) {
    return fvae_vqvae_encoder_init(enc_store, store_len, net, cb, a_enc, arena_len, latent, latent_len, &enc);
}
static int32_t dec_init(size_t store_len, const struct FvaeNet *net, void *arena, size_t arena_len) {
    return fvae_vqvae_decoder_init(dec_store, store_len, net, cb, arena, arena_len, &dec);
}

/* The encoder and decoder against TFLite Micro; bad input. Returns 0 when it could run at all. */
static int codec(void) {
    struct FvaeNet *enc_net, *dec_net;
    struct FvaeCodebookI8 *cb_i8;
    struct FvaeVqVaeEncoder *enc_i8;
    size_t enc_arena = 0, dec_arena = 0, in_len = 0, positions = 0, out_len = 0, r, i, n = 0;
    uint32_t idx[VQVAE_L], idx_i8[VQVAE_L], idx_q[VQVAE_L], want[VQVAE_L];
    int8_t xq[VQVAE_IN], y8[VQVAE_IN];
    float x[VQVAE_IN], y[VQVAE_IN];
    int same_idx = 1, same_i8 = 1, same_q = 1, same_dec = 1, same_f32 = 1;
    unsigned char *a_enc_i8;
    static const int32_t expect[] = {
        FVAE_ERR_VALUE, FVAE_ERR_VALUE, FVAE_ERR_SHAPE, FVAE_ERR_SHAPE,
        FVAE_ERR_SHAPE, FVAE_ERR_SHAPE, FVAE_ERR_SHAPE, FVAE_ERR_SHAPE,
        FVAE_ERR_VALUE, FVAE_ERR_NULL, FVAE_ERR_NULL, FVAE_ERR_NULL,
        FVAE_ERR_NULL, FVAE_ERR_NULL, FVAE_ERR_NULL, FVAE_ERR_INVALID_HANDLE,
        FVAE_ERR_INVALID_HANDLE, FVAE_ERR_BUFFER_TOO_SMALL, FVAE_ERR_BUFFER_TOO_SMALL, FVAE_ERR_BUFFER_TOO_SMALL,
        FVAE_ERR_NULL, FVAE_ERR_SHAPE, FVAE_ERR_NULL, FVAE_OK, FVAE_ERR_VALUE, FVAE_ERR_BUFFER_TOO_SMALL,
        FVAE_ERR_BUFFER_TOO_SMALL, FVAE_ERR_NULL, FVAE_ERR_INVALID_HANDLE};
    int32_t got[sizeof expect / sizeof expect[0]];

    CHECK(fvae_vqvae_encoder_size() <= sizeof enc_store && fvae_vqvae_decoder_size() <= sizeof dec_store,
          "handle sizes %u %u", (unsigned)fvae_vqvae_encoder_size(), (unsigned)fvae_vqvae_decoder_size());
    CHECK_STATUS(fvae_net_init(enc_net_store, sizeof enc_net_store, VQVAE_ENCODER.bytes, sizeof VQVAE_ENCODER.bytes,
                               &enc_net), FVAE_OK);
    CHECK_STATUS(fvae_net_init(dec_net_store, sizeof dec_net_store, VQVAE_DECODER.bytes, sizeof VQVAE_DECODER.bytes,
                               &dec_net), FVAE_OK);
    CHECK_STATUS(fvae_codebook_init_safetensors(cb_store, sizeof cb_store, VQVAE_CODEBOOK.bytes,
                                                sizeof VQVAE_CODEBOOK.bytes, &cb), FVAE_OK);
    CHECK_STATUS(fvae_codebook_i8_init_safetensors(cb_i8_store, sizeof cb_i8_store, VQVAE_CODEBOOK_I8.bytes,
                                                   sizeof VQVAE_CODEBOOK_I8.bytes, &cb_i8), FVAE_OK);
    if (failed)
        return 1;
    CHECK_STATUS(fvae_net_arena_size(enc_net, &enc_arena), FVAE_OK);
    CHECK_STATUS(fvae_net_arena_size(dec_net, &dec_arena), FVAE_OK);
    printf("g4_m16: encoder arena %u B, decoder arena %u B, handles %u + %u B\n", (unsigned)enc_arena,
           (unsigned)dec_arena, (unsigned)fvae_vqvae_encoder_size(), (unsigned)fvae_vqvae_decoder_size());
    CHECK(2 * enc_arena + dec_arena <= sizeof pool, "arenas fit the pool");
    if (2 * enc_arena + dec_arena > sizeof pool)
        return 1;
    a_enc = pool, a_enc_i8 = pool + enc_arena, a_dec = pool + 2 * enc_arena;

    CHECK_STATUS(enc_init(sizeof enc_store, enc_net, enc_arena, VQVAE_LATENT), FVAE_OK);
    CHECK_STATUS(fvae_vqvae_encoder_i8_init(enc_i8_store, sizeof enc_i8_store, enc_net, cb_i8, a_enc_i8, enc_arena,
                                            latent_i8, VQVAE_LATENT, &enc_i8), FVAE_OK);
    CHECK_STATUS(dec_init(sizeof dec_store, dec_net, a_dec, dec_arena), FVAE_OK);
    if (failed)
        return 1;
    CHECK_STATUS(fvae_vqvae_encoder_dims(enc, &in_len, &positions), FVAE_OK);
    CHECK(in_len == VQVAE_IN && positions == VQVAE_L, "encoder dims %u %u", (unsigned)in_len, (unsigned)positions);
    CHECK_STATUS(fvae_vqvae_decoder_dims(dec, &positions, &out_len), FVAE_OK);
    CHECK(positions == VQVAE_L && out_len == VQVAE_IN, "decoder dims %u %u", (unsigned)positions, (unsigned)out_len);

    for (r = 0; r < VQVAE_ROWS; r++) {
        const int8_t *want_y = VQVAE_DECODED + r * VQVAE_IN;
        for (i = 0; i < VQVAE_IN; i++) x[i] = VQVAE_X16[r * VQVAE_IN + i] / 16.0f; /* exact */
        for (i = 0; i < VQVAE_L; i++) want[i] = VQVAE_INDICES[r * VQVAE_L + i];
        CHECK_STATUS(fvae_vqvae_encode(enc, x, VQVAE_IN, idx, VQVAE_L), FVAE_OK);
        CHECK_STATUS(fvae_vqvae_encode(enc_i8, x, VQVAE_IN, idx_i8, VQVAE_L), FVAE_OK);
        /* The encoder input's grid: scale 1/255, zero point -128 (the digits are in [0, 1]). */
        for (i = 0; i < VQVAE_IN; i++) xq[i] = (int8_t)((int)(x[i] * 255.0f + 0.5f) - 128);
        CHECK_STATUS(fvae_vqvae_encode_i8(enc, xq, VQVAE_IN, idx_q, VQVAE_L), FVAE_OK);
        same_idx &= memcmp(idx, want, sizeof idx) == 0;
        same_i8 &= memcmp(idx_i8, want, sizeof idx) == 0;
        same_q &= memcmp(idx_q, want, sizeof idx) == 0;
        CHECK_STATUS(fvae_vqvae_decode_i8(dec, want, VQVAE_L, y8, VQVAE_IN), FVAE_OK);
        same_dec &= memcmp(y8, want_y, sizeof y8) == 0;
        CHECK_STATUS(fvae_vqvae_decode(dec, want, VQVAE_L, y, VQVAE_IN), FVAE_OK);
        /* Output grid: scale 1/256, zero point -128 (exact in f32). */
        for (i = 0; i < VQVAE_IN; i++) same_f32 &= y[i] == (float)(want_y[i] + 128) / 256.0f;
    }
    CHECK(same_idx, "f32-codebook indices equal TFLite Micro's");
    CHECK(same_i8, "int8-codebook indices equal TFLite Micro's");
    CHECK(same_q, "indices from int8 input equal TFLite Micro's");
    CHECK(same_dec, "int8 reconstructions equal TFLite Micro's");
    CHECK(same_f32, "f32 reconstructions are TFLite Micro's dequantised");

    /* Bad input: an index past the codebook, wrong lengths, non-finite input, NULL, wrong handles (a
     * table of statuses rather than one check each, to fit the M4F flash). */
    memcpy(idx, want, sizeof idx); /* the last digit's */
    idx[5] = VQVAE_M;
    got[n++] = fvae_vqvae_decode_i8(dec, idx, VQVAE_L, y8, VQVAE_IN);
    got[n++] = fvae_vqvae_decode(dec, idx, VQVAE_L, y, VQVAE_IN);
    got[n++] = fvae_vqvae_decode(dec, want, VQVAE_L - 1, y, VQVAE_IN);
    got[n++] = fvae_vqvae_decode(dec, want, VQVAE_L, y, VQVAE_IN - 1);
    got[n++] = fvae_vqvae_decode_i8(dec, want, VQVAE_L, y8, VQVAE_IN - 1);
    got[n++] = fvae_vqvae_encode(enc, x, VQVAE_IN - 1, idx, VQVAE_L);
    got[n++] = fvae_vqvae_encode(enc, x, VQVAE_IN, idx, VQVAE_L - 1);
    got[n++] = fvae_vqvae_encode_i8(enc, xq, VQVAE_IN + 1, idx, VQVAE_L);
    memcpy(y, x, sizeof y);
    y[7] = NAN;
    got[n++] = fvae_vqvae_encode(enc, y, VQVAE_IN, idx, VQVAE_L);
    got[n++] = fvae_vqvae_encode(enc, NULL, VQVAE_IN, idx, VQVAE_L);
    got[n++] = fvae_vqvae_encode(NULL, x, VQVAE_IN, idx, VQVAE_L);
    got[n++] = fvae_vqvae_decode(dec, want, VQVAE_L, NULL, VQVAE_IN);
    got[n++] = fvae_vqvae_decode(NULL, want, VQVAE_L, y, VQVAE_IN);
    got[n++] = fvae_vqvae_encoder_dims(enc, NULL, &positions);
    got[n++] = fvae_vqvae_decoder_dims(dec, &positions, NULL);
    /* A decoder handle is not an encoder (and storage never initialised is no handle). */
    got[n++] = fvae_vqvae_encode((struct FvaeVqVaeEncoder *)(void *)dec, x, VQVAE_IN, idx, VQVAE_L);
    got[n++] = fvae_vqvae_decode((struct FvaeVqVaeDecoder *)(void *)cb_store, want, VQVAE_L, y, VQVAE_IN);
    /* Init: small storage, arena or latent; NULL; a network whose output is no latent of the codebook's
     * d (the decoder as encoder: its [1, 8, 8, 1] output has 1 channel, not 4; its arena from a_enc
     * stays inside the pool). */
    got[n++] = enc_init(fvae_vqvae_encoder_size() - 1, enc_net, enc_arena, VQVAE_LATENT);
    got[n++] = enc_init(sizeof enc_store, enc_net, enc_arena - 1, VQVAE_LATENT);
    got[n++] = enc_init(sizeof enc_store, enc_net, enc_arena, VQVAE_LATENT - 1);
    got[n++] = enc_init(sizeof enc_store, NULL, enc_arena, VQVAE_LATENT);
    got[n++] = enc_init(sizeof enc_store, dec_net, dec_arena, VQVAE_LATENT);
    got[n++] = fvae_vqvae_encoder_i8_init(enc_store, sizeof enc_store, enc_net, NULL, a_enc, enc_arena, latent,
                                          VQVAE_LATENT, &enc);
    /* An int8 codebook off the encoder output's grid (scale 1/100, not 1/128). */
    got[n++] = fvae_codebook_i8_init(cb_i8_store, sizeof cb_i8_store, 1, 4, xq, 0.01f, &cb_i8);
    got[n++] = fvae_vqvae_encoder_i8_init(enc_store, sizeof enc_store, enc_net, cb_i8, a_enc, enc_arena, latent,
                                          VQVAE_LATENT, &enc);
    got[n++] = dec_init(fvae_vqvae_decoder_size() - 1, dec_net, a_dec, dec_arena);
    got[n++] = dec_init(sizeof dec_store, dec_net, a_dec, dec_arena - 1);
    got[n++] = dec_init(sizeof dec_store, dec_net, NULL, dec_arena);
    got[n++] = dec_init(sizeof dec_store, (const struct FvaeNet *)(void *)cb_store, a_dec, dec_arena);
    CHECK(n == sizeof expect / sizeof expect[0], "%u bad inputs", (unsigned)n);
    for (r = 0; r < n; r++)
        CHECK(got[r] == expect[r], "bad input %u: status %d, expected %d", (unsigned)r, (int)got[r], (int)expect[r]);
    return 0;
}

int main(void) {
    /* examples/firmware's first digit: its indices and the bytes it sends (M = 64, 6 bits each). */
    static const uint32_t digit0[16] = {39, 27, 50, 29, 60, 26, 54, 42, 47, 24, 51, 20, 2, 46, 25, 48};
    static const uint8_t sent0[12] = {231, 38, 119, 188, 102, 171, 47, 54, 83, 130, 155, 193};
    uint8_t bytes[16];
    uint32_t back[16], big[5] = {0, 1, 999, 65535, 70000};
    size_t written = 0, m, n, i;
    int all;

    codec();

    CHECK(fvae_vqvae_packed_len(16, 64) == 12, "packed_len(16, 64) = %u", (unsigned)fvae_vqvae_packed_len(16, 64));
    CHECK(fvae_vqvae_packed_len(3, 16) == 2, "packed_len(3, 16)");
    CHECK(fvae_vqvae_packed_len(5, 1) == 0, "one codeword needs no bits");
    CHECK_STATUS(fvae_vqvae_pack_indices(digit0, 16, 64, bytes, sizeof bytes, &written), FVAE_OK);
    CHECK(written == 12 && memcmp(bytes, sent0, 12) == 0, "digit 0 packs to the firmware's 12 bytes");
    CHECK_STATUS(fvae_vqvae_unpack_indices(sent0, 12, 64, back, 16), FVAE_OK);
    CHECK(memcmp(back, digit0, sizeof digit0) == 0, "unpack gives digit 0's indices back");

    /* Round trips at sizes that are not powers of two, and the padding bits. */
    for (m = 2; m <= 70001; m = m * 3 + 1) {
        uint32_t idx[5];
        for (n = 0; n <= 5; n++) {
            for (i = 0; i < n; i++) idx[i] = big[i] % (uint32_t)m;
            CHECK_STATUS(fvae_vqvae_pack_indices(idx, n, m, bytes, sizeof bytes, &written), FVAE_OK);
            CHECK(written == fvae_vqvae_packed_len(n, m), "m %u n %u: written", (unsigned)m, (unsigned)n);
            CHECK_STATUS(fvae_vqvae_unpack_indices(bytes, written, m, back, n), FVAE_OK);
            for (all = 1, i = 0; i < n; i++) all &= back[i] == idx[i];
            CHECK(all, "m %u n %u: round trip", (unsigned)m, (unsigned)n);
        }
    }

    /* Bad input: an index past the codebook, a short buffer, a wrong length, no codebook, NULL. */
    back[0] = 64;
    CHECK_STATUS(fvae_vqvae_pack_indices(back, 1, 64, bytes, sizeof bytes, NULL), FVAE_ERR_VALUE);
    CHECK_STATUS(fvae_vqvae_pack_indices(digit0, 16, 64, bytes, 11, NULL), FVAE_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(fvae_vqvae_unpack_indices(sent0, 11, 64, back, 16), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_vqvae_pack_indices(digit0, 1, 0, bytes, sizeof bytes, NULL), FVAE_ERR_VALUE);
    CHECK_STATUS(fvae_vqvae_unpack_indices(NULL, 12, 64, back, 16), FVAE_ERR_NULL);
    bytes[0] = 0xff; /* index 15 >= 10 */
    CHECK_STATUS(fvae_vqvae_unpack_indices(bytes, 1, 10, back, 2), FVAE_ERR_VALUE);

    printf("test_vqvae: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
