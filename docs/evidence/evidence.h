/* Shared by the evidence programs: a clock, the error line, and a tiny local HTTP
 * server for the curl programs. Each program is one claim; see README.md. */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Milliseconds on the monotonic clock since the first call. */
__attribute__((unused)) static double now_ms(void) {
    static struct timespec start;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (start.tv_sec == 0 && start.tv_nsec == 0) start = t;
    return (double)(t.tv_sec - start.tv_sec) * 1e3 + (double)(t.tv_nsec - start.tv_nsec) / 1e6;
}

/* The project's error line, `error: <what failed>: <ERRNO_NAME> (<message>)`, exit 1. */
__attribute__((unused)) static void die(const char *what) {
    int e = errno;
    const char *name = strerrorname_np(e);
    fprintf(stderr, "error: %s: %s (%s)\n", what, name ? name : "?", strerror(e));
    exit(1);
}

/* A claim that did not hold: said on stdout, where the test reads it, and exit 1. */
static int failures;
__attribute__((unused)) static void check(int ok, const char *claim) {
    printf("%s: %s\n", ok ? "holds" : "FAILS", claim);
    if (!ok) failures++;
}

#endif
