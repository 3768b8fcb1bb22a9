/* C tests of libfvae's VQ-VAE packing: indices at ceil(log2 M) bits, least significant bit first, the
 * same bytes as fvae::vqvae::pack_indices (the 16 indices of the first test digit of
 * tests/data/vqvae/g4_m64 and the 12 bytes the Cortex-M firmware sends for them). Same source on the
 * host and on Cortex-M4F under QEMU; main returns 0 when every check passed. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fvae.h"

int main(void) {
    /* examples/firmware's first digit: its indices and the bytes it sends (M = 64, 6 bits each). */
    static const uint32_t digit0[16] = {39, 27, 50, 29, 60, 26, 54, 42, 47, 24, 51, 20, 2, 46, 25, 48};
    static const uint8_t sent0[12] = {231, 38, 119, 188, 102, 171, 47, 54, 83, 130, 155, 193};
    uint8_t bytes[16];
    uint32_t back[16], big[5] = {0, 1, 999, 65535, 70000};
    size_t written = 0, m, n, i;
    int all;

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
