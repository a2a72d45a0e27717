/* fcntl(F_SETFL) replaces the file status flags it can change (O_APPEND, O_NONBLOCK,
 * O_ASYNC, O_DIRECT, O_NOATIME): setting O_NONBLOCK alone turns O_APPEND off, and the
 * writes that followed would land at the file offset instead of the end. Read the flags
 * with F_GETFL and add the bit. Notes: "fcntl() + O_NONBLOCK".
 * Run: just evidence setfl-clears */
#include "evidence.h"
#include <fcntl.h>
#include <unistd.h>

static void show(const char *when, int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) die("fcntl F_GETFL");
    printf("%-44s O_APPEND %s, O_NONBLOCK %s\n", when, flags & O_APPEND ? "on " : "off",
           flags & O_NONBLOCK ? "on" : "off");
}

int main(void) {
    char path[] = "/tmp/evidence-setfl-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    unlink(path);
    if (fcntl(fd, F_SETFL, O_APPEND) < 0) die("fcntl F_SETFL O_APPEND");
    show("opened, then O_APPEND set:", fd);

    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl F_SETFL O_NONBLOCK");
    show("fcntl(fd, F_SETFL, O_NONBLOCK):", fd);
    int appends_lost = !(fcntl(fd, F_GETFL) & O_APPEND);

    if (fcntl(fd, F_SETFL, O_APPEND) < 0) die("fcntl F_SETFL O_APPEND");
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl F_GETFL | O_NONBLOCK");
    show("O_APPEND again, then F_GETFL | O_NONBLOCK:", fd);
    int both = (fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK)) == (O_APPEND | O_NONBLOCK);

    check(appends_lost, "F_SETFL with O_NONBLOCK alone clears O_APPEND");
    check(both, "F_GETFL, add O_NONBLOCK, F_SETFL keeps it");
    close(fd);
    return failures ? 1 : 0;
}
