/* curl_multi_wait returns at once when curl has no socket to offer; curl_multi_poll
 * (libcurl 7.66+) waits the timeout, and curl_multi_wakeup ends that wait from another
 * thread. So a loop of curl_multi_wait spins whenever curl has nothing to wait on, where
 * a loop of curl_multi_poll sleeps. numfds counts the fds that had an event.
 * Notes: "Using cURL Asynchronously" -> "4. curl_multi_wait()".
 * Run: just evidence curl-wait-vs-poll */
#include "evidence.h"
#include <pthread.h>
#include <unistd.h>
#include <curl/curl.h>

static CURLM *shared_multi;

static void *wake_after_100ms(void *unused) {
    (void)unused;
    struct timespec d = {0, 100 * 1000000L};
    nanosleep(&d, NULL);
    curl_multi_wakeup(shared_multi);
    return NULL;
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
    CURLM *multi = curl_multi_init();
    int numfds = -1;

    printf("-- a multi handle with no transfers, timeout 500 ms:\n");
    double t0 = now_ms();
    curl_multi_wait(multi, NULL, 0, 500, &numfds);
    double wait_ms = now_ms() - t0;
    printf("curl_multi_wait returned after %.1f ms, numfds=%d\n", wait_ms, numfds);
    t0 = now_ms();
    curl_multi_poll(multi, NULL, 0, 500, &numfds);
    double poll_ms = now_ms() - t0;
    printf("curl_multi_poll returned after %.1f ms, numfds=%d\n", poll_ms, numfds);
    check(wait_ms < 250, "curl_multi_wait does not wait when curl has no socket");
    check(poll_ms >= 450, "curl_multi_poll waits its timeout");

    printf("-- curl_multi_poll(timeout 3000 ms), another thread calls curl_multi_wakeup at 100 ms:\n");
    shared_multi = multi;
    pthread_t waker;
    t0 = now_ms();
    if (pthread_create(&waker, NULL, wake_after_100ms, NULL) != 0) die("pthread_create");
    curl_multi_poll(multi, NULL, 0, 3000, &numfds);
    double woken_ms = now_ms() - t0;
    pthread_join(waker, NULL);
    printf("curl_multi_poll returned after %.1f ms, numfds=%d\n", woken_ms, numfds);
    check(woken_ms >= 90 && woken_ms < 1500, "curl_multi_wakeup ends curl_multi_poll's wait");

    printf("-- numfds counts fds with events: an extra fd (a pipe holding one byte):\n");
    int p[2];
    if (pipe(p) < 0) die("pipe");
    if (write(p[1], "x", 1) != 1) die("write");
    struct curl_waitfd extra = {.fd = p[0], .events = CURL_WAIT_POLLIN};
    curl_multi_wait(multi, &extra, 1, 500, &numfds);
    printf("curl_multi_wait(extra_fds={pipe, CURL_WAIT_POLLIN}) -> numfds=%d, revents=%s\n", numfds,
           extra.revents & CURL_WAIT_POLLIN ? "CURL_WAIT_POLLIN" : "0");
    check(numfds == 1, "numfds is the number of fds that had an event");
    close(p[0]);
    close(p[1]);
    curl_multi_cleanup(multi);

    curl_global_cleanup();
    return failures ? 1 : 0;
}
