/* Minimal Cortex-M4F start-up for the C tests under QEMU (linked with -nostartfiles and newlib's
 * rdimon semihosting): vector table, .data/.bss set-up, FPU on, then exit(main()). exit() ends
 * QEMU through semihosting with main's return value as its exit status. */
#include <stdint.h>
#include <stdlib.h>

extern int main(void);
extern void initialise_monitor_handles(void);
extern uint32_t __data_start, __data_end, __data_load, __bss_start__, __bss_end__, __stack_top;

void Reset_Handler(void);
void Fault_Handler(void);

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    &__stack_top, (void *)Reset_Handler, (void *)Fault_Handler, (void *)Fault_Handler, (void *)Fault_Handler,
    (void *)Fault_Handler, (void *)Fault_Handler, 0, 0, 0, 0, (void *)Fault_Handler, (void *)Fault_Handler, 0,
    (void *)Fault_Handler, (void *)Fault_Handler,
};

void Reset_Handler(void) {
    uint32_t *src = &__data_load, *dst = &__data_start;
    while (dst < &__data_end) *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
    /* CPACR: full access to CP10/CP11, the FPU, before any float instruction. */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm volatile("dsb\n isb");
    initialise_monitor_handles();
    exit(main());
}

/* A fault (HardFault, bus fault, ...) must fail the run, not hang it. */
void Fault_Handler(void) { exit(99); }

/* -nostartfiles drops crti/crtn; newlib's exit path still references these. */
void _init(void) {}
void _fini(void) {}
