/* Tiny check macros shared by the C tests (test_*.c): count passes, print failures. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            passed++;                                                                                                  \
        } else {                                                                                                       \
            failed++;                                                                                                  \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                                \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
        }                                                                                                              \
    } while (0)

#define CHECK_STATUS(expr, want)                                                                                       \
    do {                                                                                                               \
        int32_t got_ = (expr);                                                                                         \
        CHECK(got_ == (want), "%s returned %d (%s), expected %d", #expr, (int)got_, fvae_status_message(got_),        \
              (int)(want));                                                                                            \
    } while (0)

#endif
