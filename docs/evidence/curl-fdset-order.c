/* The order of the curl + select loop matters: curl_multi_fdset and curl_multi_timeout
 * describe curl's sockets as they are at that moment, and curl_multi_perform changes
 * them (it connects, and it closes a finished transfer's socket). Taken before the
 * perform, as the notes number the steps, the sets are stale by the time select gets
 * them: here a transfer finishes inside the perform, curl closes its socket, and select
 * fails with EBADF on the fd that is still in the set. Taken after the perform (curl's
 * documented order), the same transfers finish without an error.
 * Notes: "Asynchronous +curl + select()", steps 2 to 5.
 * Run: just evidence curl-fdset-order */
#include "http.h"
#include <curl/curl.h>
#include <sys/select.h>

static void add(CURLM *multi, int port, const char *path, FILE *sink) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, (curl_write_callback)fwrite);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 3000L);
    curl_multi_add_handle(multi, easy);
}

/* fdset + timeout into the arguments of the next select. */
static void describe(CURLM *multi, fd_set *r, fd_set *w, fd_set *e, int *maxfd, struct timeval *tv) {
    FD_ZERO(r);
    FD_ZERO(w);
    FD_ZERO(e);
    *maxfd = -1;
    curl_multi_fdset(multi, r, w, e, maxfd);
    long ms = -1;
    curl_multi_timeout(multi, &ms);
    if (ms < 0 || ms > 100) ms = 100;
    tv->tv_sec = 0;
    tv->tv_usec = ms * 1000;
}

/* Runs two transfers with select; `notes_order`: describe, then perform, then select.
 * Returns the errno of a failed select, or 0 if both finished. */
static int run(int port, int notes_order, int *selects, int *finished) {
    FILE *sink = fopen("/dev/null", "w");
    CURLM *multi = curl_multi_init();
    add(multi, port, "/delay/100", sink);
    add(multi, port, "/delay/500", sink);
    int running = 2, failed = 0;
    *selects = 0;
    double start = now_ms();
    if (!notes_order) curl_multi_perform(multi, &running);
    while (running && now_ms() - start < 3000) {
        fd_set r, w, e;
        int maxfd;
        struct timeval tv;
        if (notes_order) {
            describe(multi, &r, &w, &e, &maxfd, &tv); /* steps 2 and 3 */
            curl_multi_perform(multi, &running);      /* step 4 */
        } else {
            describe(multi, &r, &w, &e, &maxfd, &tv);
        }
        (*selects)++;
        int n = select(maxfd + 1, &r, &w, &e, &tv); /* step 5 */
        if (n < 0) {
            failed = errno;
            printf("  select #%d -> -1 %s, with %d transfer(s) still running (maxfd %d came from before the perform)\n",
                   *selects, strerrorname_np(failed), running, maxfd);
            break;
        }
        if (!notes_order) curl_multi_perform(multi, &running);
    }
    *finished = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)))
        if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK) (*finished)++;
    curl_multi_cleanup(multi); /* the easy handles are left: the process ends soon */
    fclose(sink);
    return failed;
}

int main(void) {
    int port = http_start();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int selects, finished;
    printf("the notes' order (fdset, timeout, perform, select), /delay/100 and /delay/500:\n");
    int notes = run(port, 1, &selects, &finished);
    printf("  %d select call(s), %d transfer(s) finished\n", selects, finished);
    check(notes == EBADF, "fdset before perform: a socket curl closed in the perform is still in the set, EBADF");
    printf("curl's order (perform, fdset, timeout, select), the same transfers:\n");
    int docs = run(port, 0, &selects, &finished);
    printf("  %d select call(s), %d transfer(s) finished, select failed: %s\n", selects, finished,
           docs ? strerrorname_np(docs) : "never");
    check(docs == 0 && finished == 2, "fdset after perform: both transfers finish");
    curl_global_cleanup();
    return failures ? 1 : 0;
}
