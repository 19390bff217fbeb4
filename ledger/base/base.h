/*
 * base.h — (internal) what every module of the library shares below the
 * public API: invariant checks and compiler marks.
 *
 * KETEN_ASSERT(cond) states an invariant: something the code around it
 * guarantees, never something an input decides (bad input gets an error
 * return, not an assertion).  It is on in every build — the normal one,
 * DEV=1 and the sanitizer builds — because a broken invariant in a
 * ledger of money must stop the process before it writes, not after; it
 * prints "keten: assertion failed: COND (FILE:LINE, FUNCTION)" and aborts.
 * Building with -DKETEN_NO_ASSERT turns the checks into no-ops (the
 * condition is not evaluated), for measuring their cost.
 */
#ifndef KETEN_BASE_BASE_H
#define KETEN_BASE_BASE_H

#ifdef KETEN_NO_ASSERT
#define KETEN_ASSERT(cond) ((void)0)
#else
#define KETEN_ASSERT(cond) \
	(__builtin_expect(!!(cond), 1) ? (void)0 : kt_assert_fail(#cond, __FILE__, __LINE__, __func__))
#endif

/* Print the failed assertion on stderr and abort(). */
_Noreturn void kt_assert_fail(const char *cond, const char *file, int line, const char *func);

/* A parameter that a callback's signature forces on a function that does
 * not use it. */
#define KT_UNUSED __attribute__((unused))

/* Number of elements of an array. */
#define KT_COUNT(a) (sizeof(a) / sizeof *(a))

#endif
