/* aio_reqprio is not a hint that can hold anything: glibc checks it when the request is
 * queued, and a value outside 0..AIO_PRIO_DELTA_MAX makes aio_read fail with EINVAL, the
 * request never queued. (Within that range it lowers the request's priority below the
 * caller's; glibc orders the requests waiting on one fd by it.) An aiocb that is not
 * zeroed first carries whatever was in that memory here. Notes: "struct aiocb" ("aio_reqprio ...
 * the operating system is free to ignore this").
 * Run: just evidence aio-reqprio */
#include "evidence.h"
#include <aio.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

/* Queue a read with this priority; report what aio_read said and how the request ended. */
static int try_prio(int fd, int prio, int *request_error) {
    char buf[16];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    cb.aio_reqprio = prio;
    errno = 0;
    int r = aio_read(&cb);
    int queued_errno = errno;
    *request_error = -1;
    if (r == 0) {
        const struct aiocb *list[1] = {&cb};
        struct timespec second = {1, 0};
        double t0 = now_ms();
        int e;
        while ((e = aio_error(&cb)) == EINPROGRESS && now_ms() - t0 < 2000) aio_suspend(list, 1, &second);
        aio_return(&cb);
        *request_error = e;
        printf("aio_reqprio = %-3d -> aio_read 0, the read completed (aio_error %d)\n", prio, e);
        return 0;
    }
    printf("aio_reqprio = %-3d -> aio_read -1 %s\n", prio, strerrorname_np(queued_errno));
    return queued_errno;
}

int main(void) {
    int fd = open("/proc/self/stat", O_RDONLY);
    if (fd < 0) die("open /proc/self/stat");
#ifdef AIO_PRIO_DELTA_MAX
    int max = AIO_PRIO_DELTA_MAX;
#else
    int max = (int)sysconf(_SC_AIO_PRIO_DELTA_MAX);
#endif
    printf("AIO_PRIO_DELTA_MAX = %d\n", max);
    int done;
    int zero = try_prio(fd, 0, &done);
    check(zero == 0 && done == 0, "0 (a zeroed aiocb) is accepted");
    int top = try_prio(fd, max, &done);
    check(top == 0 && done == 0, "AIO_PRIO_DELTA_MAX is accepted");
    int above = try_prio(fd, max + 1, &done);
    int negative = try_prio(fd, -1, &done);
    int garbage = try_prio(fd, 0x5a5a5a5a, &done);
    check(above == EINVAL && negative == EINVAL && garbage == EINVAL,
          "any other value: aio_read fails with EINVAL and nothing is read");
    close(fd);
    return failures ? 1 : 0;
}
