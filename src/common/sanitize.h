/*
 * sanitize.h - MC_ASAN: 1 in an AddressSanitizer build (gcc or clang), else 0.
 *
 * Pools and arenas that hand out memory of their own step aside then, so
 * ASan still sees each block's bounds and life, and leaks stay reported.
 */
#ifndef MC_COMMON_SANITIZE_H
#define MC_COMMON_SANITIZE_H

#if defined(__SANITIZE_ADDRESS__)
#define MC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MC_ASAN 1
#endif
#endif
#ifndef MC_ASAN
#define MC_ASAN 0
#endif

#endif
