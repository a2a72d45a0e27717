/* The names and values the AIO calls really return. aio_cancel answers AIO_CANCELED or
 * AIO_NOTCANCELED, with one L (the notes' AIO_CANCELLED and AIO_NOTCANCELLED do not
 * exist, so code using them does not compile). aio_error returns the failed request's
 * error number itself (EBADF, ...), not -1 with errno set: -1 would mean aio_error
 * itself failed. Notes: "aio_error()", "Cancel()".
 * Run: just evidence aio-error-values */
#include "evidence.h"
#include <aio.h>
#include <fcntl.h>
#include <unistd.h>

int main(void) {
    printf("AIO_CANCELED = %d, AIO_NOTCANCELED = %d, AIO_ALLDONE = %d\n", AIO_CANCELED, AIO_NOTCANCELED,
           AIO_ALLDONE);
#ifdef AIO_CANCELLED
    int double_l = 1;
#else
    int double_l = 0;
#endif
    printf("AIO_CANCELLED (two Ls) is %s\n", double_l ? "defined" : "not defined in <aio.h>");
    check(!double_l, "the constants are spelled AIO_CANCELED / AIO_NOTCANCELED");

    /* A read from an fd opened for writing only: the request fails. */
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) die("open /dev/null");
    char buf[16];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    int queued = aio_read(&cb);
    printf("aio_read on a write-only fd -> %d (queued)\n", queued);
    const struct aiocb *list[1] = {&cb};
    struct timespec second = {1, 0};
    int e;
    double t0 = now_ms();
    while ((e = aio_error(&cb)) == EINPROGRESS && now_ms() - t0 < 2000) aio_suspend(list, 1, &second);
    printf("aio_error -> %d (%s)\n", e, e > 0 ? strerrorname_np(e) : "-");
    ssize_t r = aio_return(&cb);
    printf("aio_return -> %zd\n", r);
    check(e == EBADF, "a failed request: aio_error returns the error number, not -1");
    close(fd);
    return failures ? 1 : 0;
}
