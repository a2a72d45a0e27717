/* What aio_return does in glibc: it reads the result the worker thread stored in the
 * aiocb, and nothing more. glibc releases its own record of a request when the request
 * finishes, whether or not aio_return is ever called; a second aio_return gives the same
 * value again. POSIX still says to call it exactly once (another system may release
 * resources there), so portable code does, but it is not what frees anything here.
 * Notes: "aio_return()" and the "example: normal" comment on it.
 * Run: just evidence aio-return-frees */
#include "evidence.h"
#include <aio.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

static long max_rss_kib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) die("getrusage");
    return ru.ru_maxrss;
}

/* Queue one read of the file's first bytes and wait for it (at most 2 s). */
static int read_and_wait(struct aiocb *cb) {
    if (aio_read(cb) < 0) die("aio_read");
    const struct aiocb *list[1] = {cb};
    struct timespec second = {1, 0};
    double t0 = now_ms();
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS && now_ms() - t0 < 2000) aio_suspend(list, 1, &second);
    return e;
}

int main(void) {
    char path[] = "/tmp/evidence-aio-return-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    unlink(path);
    if (write(fd, "0123456789", 10) != 10) die("write");

    char buf[64];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;

    int e = read_and_wait(&cb);
    ssize_t first = aio_return(&cb);
    ssize_t second = aio_return(&cb);
    printf("one read: aio_error -> %d, aio_return -> %zd, aio_return again -> %zd\n", e, first, second);
    check(e == 0 && first == 10 && second == 10, "aio_return only reads the result: asked twice, it says 10 twice");

    /* Many requests, none of them collected with aio_return. */
    const int warm = 1000, total = 20000;
    int failed = 0;
    for (int i = 0; i < warm; i++) failed += read_and_wait(&cb) != 0;
    long rss_warm = max_rss_kib();
    for (int i = warm; i < total; i++) failed += read_and_wait(&cb) != 0;
    long rss_all = max_rss_kib();
    printf("%d reads never collected with aio_return: peak RSS %ld KiB after %d, %ld KiB after %d\n", total,
           rss_warm, warm, rss_all, total);
    check(failed == 0, "every one of the reads completed");
    check(rss_all - rss_warm < 512, "memory does not grow: nothing is held until aio_return");
    close(fd);
    return failures ? 1 : 0;
}
