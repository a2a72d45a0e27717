/* A select() that returns 0 still needs a curl_multi_perform: curl's timers (a transfer's
 * timeout, a connect timeout, a retry) run only inside perform. A loop that performs only
 * when select reported a ready fd, "because something happened", lets a transfer with a
 * 300 ms timeout run on until the server finally answers at 1500 ms: only then does curl
 * look at its clock and report the timeout, 1.2 s late (a server that never answers would
 * keep it forever). Performing after every select, ready or not, ends it at 300 ms.
 * Notes: "Asynchronous +curl + select()" -> "6. read info" ("When we wake up, it is because
 * something happened").
 * Run: just evidence curl-timer-perform */
#include "http.h"
#include <curl/curl.h>
#include <sys/select.h>

/* One transfer of /delay/1500 with a 300 ms timeout, waited for with select; `always`:
 * perform after every select, else only after one that reported a ready fd. */
static void run(int port, int always, double *ended_ms, CURLcode *result) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/delay/1500", port);
    FILE *sink = fopen("/dev/null", "w");
    CURLM *multi = curl_multi_init();
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, (curl_write_callback)fwrite);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 300L);
    curl_multi_add_handle(multi, easy);
    double start = now_ms();
    int running = 1;
    curl_multi_perform(multi, &running);
    while (running && now_ms() - start < 4000) {
        fd_set r, w, e;
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_ZERO(&e);
        int maxfd = -1;
        curl_multi_fdset(multi, &r, &w, &e, &maxfd);
        long ms = -1;
        curl_multi_timeout(multi, &ms);
        if (ms < 0 || ms > 100) ms = 100;
        struct timeval tv = {0, ms * 1000};
        int n = select(maxfd + 1, &r, &w, &e, &tv);
        if (n < 0) die("select");
        if (n > 0 || always) curl_multi_perform(multi, &running);
    }
    *ended_ms = now_ms() - start;
    *result = CURLE_OK;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)))
        if (msg->msg == CURLMSG_DONE) *result = msg->data.result;
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    fclose(sink);
}

int main(void) {
    int port = http_start();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    double ended;
    CURLcode result;
    run(port, 0, &ended, &result);
    printf("perform only when select > 0:   the transfer ended after %4.0f ms: %s\n", ended,
           curl_easy_strerror(result));
    check(ended >= 1400, "curl's 300 ms timeout ran only when the server's answer at 1500 ms woke select");
    run(port, 1, &ended, &result);
    printf("perform after every select:     the transfer ended after %4.0f ms: %s\n", ended,
           curl_easy_strerror(result));
    check(result == CURLE_OPERATION_TIMEDOUT && ended < 1000, "perform after a select that returned 0 runs curl's timeout");
    curl_global_cleanup();
    return failures ? 1 : 0;
}
