/* CURLINFO_RESPONSE_CODE writes a long. Given the address of an int, as the notes'
 * example does (`int http_status_code`), it writes 8 bytes on 64-bit Linux: the int and
 * the 4 bytes after it. Notes: "Using cURL Asynchronously" -> "Example".
 * Run: just evidence curl-response-code */
#define CURL_DISABLE_TYPECHECK /* the check would warn at compile time; we want the run */
#include "http.h"
#include <curl/curl.h>

int main(void) {
    int port = http_start();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/delay/0", port);
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, (curl_write_callback)fwrite);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 3000L);
    CURLcode rc = curl_easy_perform(easy);
    if (rc != CURLE_OK) {
        fprintf(stderr, "error: curl_easy_perform: %s\n", curl_easy_strerror(rc));
        return 1;
    }
    /* Two ints side by side, as a compiler may lay out two locals: the status and
     * whatever comes next. */
    struct { int http_status_code; int next_to_it; } locals = {0, 12345};
    printf("sizeof(int) = %zu, sizeof(long) = %zu\n", sizeof(int), sizeof(long));
    printf("before: http_status_code = %d, the int next to it = %d\n", locals.http_status_code,
           locals.next_to_it);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &locals.http_status_code);
    printf("after curl_easy_getinfo(CURLINFO_RESPONSE_CODE, &int): http_status_code = %d, the int next to it = %d\n",
           locals.http_status_code, locals.next_to_it);
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    printf("with a long, as curl_easy_getinfo(3) asks: code = %ld\n", code);
    check(locals.next_to_it != 12345, "passing an int overwrites the 4 bytes after it");
    check(code == 200, "a long receives the status");
    curl_easy_cleanup(easy);
    fclose(sink);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
