/* Linux's own asynchronous I/O system calls (io_setup, io_submit, io_getevents; what
 * libaio wraps, not what glibc's aio_read uses) are asynchronous only where the file
 * supports it: in practice files opened with O_DIRECT. For anything else io_submit does
 * the whole read itself before it returns: on a pipe it blocks until data comes, and on
 * a cached file the completion is already waiting when io_submit returns.
 * io_uring (Linux 5.1+) has no such restriction.
 * Notes: "Asynchronous I/O with AIO" -> "Using AIO".
 * Run: just evidence kernel-aio */
#include "evidence.h"
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static int pipe_fds[2];

static void *write_after_300ms(void *unused) {
    (void)unused;
    struct timespec d = {0, 300 * 1000000L};
    nanosleep(&d, NULL);
    if (write(pipe_fds[1], "late", 4) != 4) die("write");
    return NULL;
}

/* io_submit of one read; prints how long io_submit took and whether the completion was
 * already there when it returned. Returns io_submit's duration in ms. */
static double submit_read(aio_context_t ctx, int fd, void *buf, size_t len, const char *what, int *done) {
    struct iocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_lio_opcode = IOCB_CMD_PREAD;
    cb.aio_fildes = (uint32_t)fd;
    cb.aio_buf = (uint64_t)(uintptr_t)buf;
    cb.aio_nbytes = len;
    struct iocb *list[1] = {&cb};
    double t0 = now_ms();
    long n = syscall(SYS_io_submit, ctx, 1, list);
    double ms = now_ms() - t0;
    if (n != 1) die("io_submit");
    struct io_event ev;
    struct timespec zero = {0, 0};
    *done = (int)syscall(SYS_io_getevents, ctx, 0, 1, &ev, &zero);
    printf("%-34s io_submit took %6.1f ms; completed when it returned: %s", what, ms, *done ? "yes" : "no");
    if (!*done) {
        struct timespec second = {1, 0};
        if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, &second) != 1) die("io_getevents");
    }
    printf(" (res %lld)\n", (long long)ev.res);
    return ms;
}

int main(void) {
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, 8, &ctx) < 0) {
        if (errno == ENOSYS || errno == EPERM) {
            printf("SKIPPED: io_setup is not allowed here (%s)\n", strerrorname_np(errno));
            return 0;
        }
        die("io_setup");
    }
    int done;
    char buf[8192] __attribute__((aligned(4096)));

    if (pipe(pipe_fds) < 0) die("pipe");
    pthread_t t;
    if (pthread_create(&t, NULL, write_after_300ms, NULL) != 0) die("pthread_create");
    double ms = submit_read(ctx, pipe_fds[0], buf, 4, "a pipe, written to 300 ms later:", &done);
    pthread_join(t, NULL);
    check(ms >= 250 && done, "on a pipe io_submit blocks until the read is done");

    char path[] = "/tmp/evidence-kaio-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    memset(buf, 'k', sizeof buf);
    if (write(fd, buf, sizeof buf) != sizeof buf) die("write");
    ms = submit_read(ctx, fd, buf, 4096, "a cached file, no O_DIRECT:", &done);
    check(done, "on a buffered file the read is finished inside io_submit");
    close(fd);

    /* O_DIRECT needs the file system's support (tmpfs gained it only in Linux 6.6). */
    fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) {
        printf("%-34s %s: this file system does not take O_DIRECT\n", "the same file, O_DIRECT:", strerrorname_np(errno));
    } else {
        submit_read(ctx, fd, buf, 4096, "the same file, O_DIRECT:", &done);
        close(fd);
    }
    unlink(path);
    syscall(SYS_io_destroy, ctx);
    return failures ? 1 : 0;
}
