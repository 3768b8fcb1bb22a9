/* C tests of libfvae's int8 network API against tests/data/tflite/mlp_decoder (latent 8 -> 64 -> 128
 * -> 64, FULLY_CONNECTED + LOGISTIC): a few rows of TFLite Micro's own outputs, to the bit. Same source
 * on the host and on Cortex-M4F under QEMU (the model is embedded, nn_fixture.h); main returns 0 when
 * every check passed. */
#include <string.h>

#include "check.h"
#include "fvae.h"
#include "nn_fixture.h"

/* Storage: uint64_t arrays are 8-aligned (FVAE_ALIGN) in C99 without _Alignas. */
static uint64_t net_store[160], net2_store[160], junk_store[160];
/* On x86-64 with AVX2 and on aarch64 the network packs its weights into the arena for the SIMD
 * kernels (22 KiB here); elsewhere they stay in the model (6 KiB). Room for two arenas. */
#if defined(__arm__)
static unsigned char arena[12 * 1024];
#else
static unsigned char arena[48 * 1024];
#endif
static unsigned char bad_model[sizeof NN_MODEL.bytes];

int main(void) {
    size_t arena_size = 0, i;
    FvaeNet *net = NULL, *net2 = NULL;
    FvaeTensorInfo in, out;
    int8_t y[NN_OUT];
    float yf[NN_OUT];

    CHECK(fvae_net_size() > 0 && fvae_net_size() <= sizeof net_store, "net size %u", (unsigned)fvae_net_size());
    CHECK_STATUS(fvae_net_init(net_store, sizeof net_store, NN_MODEL.bytes, sizeof NN_MODEL.bytes, &net), FVAE_OK);
    CHECK(net == (FvaeNet *)(void *)net_store, "the handle points into the storage");
    CHECK_STATUS(fvae_net_arena_size(net, &arena_size), FVAE_OK);
    printf("mlp_decoder: handle %u B, arena %u B\n", (unsigned)fvae_net_size(), (unsigned)arena_size);
    CHECK(arena_size > 0 && arena_size <= sizeof arena, "arena size %u", (unsigned)arena_size);
    if (arena_size == 0 || arena_size > sizeof arena)
        return 1; /* the checks below would write past the arena */

    /* Input and output descriptions (manifest.json: input zero point 8, output scale 1/256, zp -128). */
    CHECK_STATUS(fvae_net_tensor_info(net, 0, 0, &in), FVAE_OK);
    CHECK_STATUS(fvae_net_tensor_info(net, 1, 0, &out), FVAE_OK);
    CHECK(in.dtype == FVAE_TENSOR_INT8 && in.len == NN_IN && in.zero_point == 8, "input info %u %u %d",
          (unsigned)in.dtype, (unsigned)in.len, (int)in.zero_point);
    CHECK(out.dtype == FVAE_TENSOR_INT8 && out.len == NN_OUT && out.zero_point == -128 && out.scale == 0.00390625f,
          "output info %u %u %d %g", (unsigned)out.dtype, (unsigned)out.len, (int)out.zero_point, out.scale);
    CHECK(in.rank >= 1 && in.dims[in.rank - 1] == NN_IN, "input shape");
    CHECK_STATUS(fvae_net_tensor_info(net, 0, 1, &in), FVAE_ERR_MISSING);

    /* Not prepared yet: a state error. */
    CHECK_STATUS(fvae_net_set_input_i8(net, 0, NN_INPUT, NN_IN), FVAE_ERR_STATE);
    CHECK_STATUS(fvae_net_invoke(net), FVAE_ERR_STATE);
    CHECK_STATUS(fvae_net_prepare(net, arena, arena_size - 1), FVAE_ERR_BUFFER_TOO_SMALL);
    /* An arena at an odd address works (the network aligns inside it). */
    CHECK_STATUS(fvae_net_prepare(net, arena + 1, arena_size), FVAE_OK);

    for (i = 0; i < NN_ROWS; i++) {
        CHECK_STATUS(fvae_net_set_input_i8(net, 0, NN_INPUT + i * NN_IN, NN_IN), FVAE_OK);
        CHECK_STATUS(fvae_net_invoke(net), FVAE_OK);
        CHECK_STATUS(fvae_net_get_output_i8(net, 0, y, NN_OUT), FVAE_OK);
        CHECK(memcmp(y, NN_EXPECTED + i * NN_OUT, NN_OUT) == 0, "row %u differs from TFLite Micro", (unsigned)i);
    }

    /* A second handle on the same model with its own arena region gives the same bits. */
    CHECK_STATUS(fvae_net_init(net2_store, sizeof net2_store, NN_MODEL.bytes, sizeof NN_MODEL.bytes, &net2), FVAE_OK);
    if (2 * arena_size + 8 <= sizeof arena) {
        CHECK_STATUS(fvae_net_prepare(net2, arena + arena_size + 8, arena_size), FVAE_OK);
        CHECK_STATUS(fvae_net_set_input_i8(net2, 0, NN_INPUT, NN_IN), FVAE_OK);
        CHECK_STATUS(fvae_net_invoke(net2), FVAE_OK);
        CHECK_STATUS(fvae_net_get_output_i8(net2, 0, y, NN_OUT), FVAE_OK);
        CHECK(memcmp(y, NN_EXPECTED, NN_OUT) == 0, "second network row 0");
    }

    /* Bad inputs are statuses. */
    CHECK_STATUS(fvae_net_set_input_i8(net, 0, NN_INPUT, NN_IN - 1), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_net_set_input_i8(net, 1, NN_INPUT, NN_IN), FVAE_ERR_MISSING);
    CHECK_STATUS(fvae_net_set_input_i8(net, 0, NULL, NN_IN), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_net_get_output_i8(net, 0, y, NN_OUT + 1), FVAE_ERR_SHAPE);
    CHECK_STATUS(fvae_net_set_input_f32(net, 0, yf, NN_IN), FVAE_ERR_DTYPE); /* the input is int8 */
    CHECK_STATUS(fvae_net_get_output_f32(net, 0, yf, NN_OUT), FVAE_ERR_DTYPE);
    CHECK_STATUS(fvae_net_tensor_info(net, 0, 0, NULL), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_net_arena_size(net, NULL), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_net_prepare(net, NULL, arena_size), FVAE_ERR_NULL);
    CHECK_STATUS(fvae_net_init(junk_store, sizeof junk_store, NN_MODEL.bytes, 7, &net2), FVAE_ERR_FORMAT);
    CHECK_STATUS(fvae_net_init(junk_store, sizeof junk_store, NN_MODEL.bytes, sizeof NN_MODEL.bytes / 2, &net2),
                 FVAE_ERR_FORMAT);
    CHECK_STATUS(fvae_net_init(junk_store, 16, NN_MODEL.bytes, sizeof NN_MODEL.bytes, &net2),
                 FVAE_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(fvae_net_init((char *)junk_store + 4, sizeof junk_store - 8, NN_MODEL.bytes,
                               sizeof NN_MODEL.bytes, &net2),
                 FVAE_ERR_MISALIGNED);
    CHECK_STATUS(fvae_net_init(junk_store, sizeof junk_store, NULL, 100, &net2), FVAE_ERR_NULL);
    {
        /* Garbage models: every corrupted byte position must give a status, never a crash. */
        int32_t st;
        size_t pos, ok = 0, errs = 0;
        for (pos = 0; pos < sizeof bad_model; pos += 97) {
            memcpy(bad_model, NN_MODEL.bytes, sizeof bad_model);
            bad_model[pos] ^= 0xA5;
            st = fvae_net_init(junk_store, sizeof junk_store, bad_model, sizeof bad_model, &net2);
            if (st == FVAE_OK) {
                ok++;
                /* A model that still parses must also prepare and run to a status. */
                if (fvae_net_arena_size(net2, &arena_size) == FVAE_OK && arena_size <= sizeof arena &&
                    fvae_net_prepare(net2, arena, arena_size) == FVAE_OK) {
                    fvae_net_set_input_i8(net2, 0, NN_INPUT, NN_IN);
                    st = fvae_net_invoke(net2);
                    (void)st;
                }
            } else {
                errs++;
                CHECK(st < 0 && st >= FVAE_ERR_STATE, "corrupted byte %u: status %d", (unsigned)pos, (int)st);
            }
        }
        printf("corrupted models: %u rejected, %u still valid\n", (unsigned)errs, (unsigned)ok);
    }
    memset(junk_store, 0, sizeof junk_store);
    CHECK_STATUS(fvae_net_invoke((FvaeNet *)(void *)junk_store), FVAE_ERR_INVALID_HANDLE);
    CHECK_STATUS(fvae_net_invoke(NULL), FVAE_ERR_NULL);

    printf("test_nn: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
