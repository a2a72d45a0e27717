/*
 * read_ahead.c - lab 4 reference solution in C: hash files block by block with POSIX
 * AIO double buffering. While block k is processed, the aio_read of block k+1 is in
 * flight on glibc's AIO worker thread; aio_suspend waits for it afterwards.
 *
 * Build: make -C labs/04-read-ahead/solution/c        (gives ./read_ahead there)
 * Mark:  just lab read-ahead -- labs/04-read-ahead/solution/c/read_ahead  (from the top folder)
 *
 * Usage: read_ahead [--json] [--block KIB] [--work-ms N] FILE...
 * Output: one line per file, "HASH  PATH" (FNV-1a 64, 16 lowercase hex digits);
 * with --json, the events of labs/04-read-ahead/README.md instead.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int json;
static struct timespec t0;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6;
}

/* "error: WHAT PATH: ENAME (message)" on stderr, exit 1. */
static void die(const char *what, const char *path, int err)
{
    const char *name = strerrorname_np(err);
    fprintf(stderr, "error: %s %s: %s (%s)\n", what, path, name ? name : "E?", strerror(err));
    exit(1);
}

/* One JSON event: {"t_ms":..,"event":"NAME",FIELDS} (FIELDS already formatted). */
static void event(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(const char *name, const char *fmt, ...)
{
    if (!json)
        return;
    va_list ap;
    printf("{\"t_ms\":%.3f,\"event\":\"%s\",", now_ms(), name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("}\n");
}

/* FNV-1a 64: bytes as unsigned (a signed char would sign-extend bytes >= 0x80). */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* Processing: hash the block, then stay busy until work_ms have passed. */
static uint64_t process(int file, long block, const unsigned char *p, size_t n, uint64_t h, long work_ms)
{
    event("process_start", "\"file\":%d,\"block\":%ld,\"bytes\":%zu", file, block, n);
    double start = now_ms();
    h = fnv1a(h, p, n);
    while (now_ms() - start < (double)work_ms)
        ;
    event("process_end", "\"file\":%d,\"block\":%ld", file, block);
    return h;
}

/* aio_read of block `block` into `buf`: returns at once, the read runs on glibc's thread. */
static void start_read(struct aiocb *cb, int fd, void *buf, size_t size, off_t offset, int file, long block,
                       const char *path)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = size;
    cb->aio_offset = offset; /* ignored on a FIFO: glibc falls back to read() */
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
    event("read_start", "\"file\":%d,\"block\":%ld,\"offset\":%jd,\"bytes\":%zu", file, block, (intmax_t)offset,
          size);
    if (aio_read(cb) == -1)
        die("aio_read", path, errno);
}

/* Sleep in aio_suspend until the read is done (at most 60 s), then aio_return once. */
static size_t wait_for(struct aiocb *cb, const char *path)
{
    const struct aiocb *list[1] = {cb};
    double deadline = now_ms() + 60000.0;
    int err;
    while ((err = aio_error(cb)) == EINPROGRESS) {
        if (now_ms() > deadline) {
            fprintf(stderr, "error: read %s: no data for 60 s: gave up\n", path);
            exit(1);
        }
        struct timespec timeout = {1, 0};
        if (aio_suspend(list, 1, &timeout) == -1 && errno != EAGAIN && errno != EINTR)
            die("aio_suspend on", path, errno);
    }
    ssize_t n = aio_return(cb);
    if (err != 0)
        die("read", path, err);
    return (size_t)n;
}

static void hash_file(int file, const char *path, size_t block_size, long work_ms)
{
    int fd = open(path, O_RDONLY);
    if (fd == -1)
        die("open", path, errno);
    unsigned char *buf[2] = {malloc(block_size), malloc(block_size)};
    if (!buf[0] || !buf[1])
        die("malloc for", path, ENOMEM);
    struct aiocb cb[2];
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    off_t offset = 0;
    int cur = 0;
    start_read(&cb[cur], fd, buf[cur], block_size, 0, file, 0, path);
    for (long block = 0;; block++) {
        size_t n = wait_for(&cb[cur], path);
        event("read_done", "\"file\":%d,\"block\":%ld,\"bytes\":%zu", file, block, n);
        if (n == 0)
            break;
        offset += (off_t)n;
        /* The heart of it: the next read starts before this block is processed. */
        start_read(&cb[1 - cur], fd, buf[1 - cur], block_size, offset, file, block + 1, path);
        h = process(file, block, buf[cur], n, h, work_ms);
        cur = 1 - cur;
    }
    close(fd);
    free(buf[0]);
    free(buf[1]);
    if (json) {
        printf("{\"t_ms\":%.3f,\"event\":\"hash\",\"file\":%d,\"hash\":\"%016" PRIx64 "\",\"path\":\"", now_ms(),
               file, h);
        for (const char *c = path; *c; c++) {
            if (*c == '"' || *c == '\\')
                printf("\\%c", *c);
            else if ((unsigned char)*c < 0x20)
                printf("\\u%04x", *c);
            else
                putchar(*c);
        }
        printf("\"}\n");
    } else {
        printf("%016" PRIx64 "  %s\n", h, path);
    }
    fflush(stdout);
}

static long number(const char *flag, const char *text, long lo, long hi)
{
    char *end;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || *end || v < lo || v > hi) {
        fprintf(stderr, "error: usage: %s takes a number from %ld to %ld\n", flag, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long block_kib = 64, work_ms = 0;
    int nfiles = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char **files = calloc((size_t)argc, sizeof *files);
    if (!files)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--block"))
            block_kib = number("--block", i + 1 < argc ? argv[++i] : NULL, 1, 16384);
        else if (!strcmp(argv[i], "--work-ms"))
            work_ms = number("--work-ms", i + 1 < argc ? argv[++i] : NULL, 0, 10000);
        else
            files[nfiles++] = argv[i];
    }
    if (nfiles == 0) {
        fprintf(stderr, "error: usage: read_ahead [--json] [--block KIB] [--work-ms N] FILE...\n");
        return 2;
    }
    for (int i = 0; i < nfiles; i++)
        hash_file(i, files[i], (size_t)block_kib * 1024, work_ms);
    free(files);
    return 0;
}
