"""threads: no libcurl at all. N Python threads, each fetching strips with a blocking
urllib request in a loop: the server sees N in flight, each refilled at once.
Breaks: the technique (one thread, libcurl's multi interface doing the overlapping).
caught-by: waits

"""
import sys, threading, time, getopt, urllib.request, urllib.error

def main():
    try:
        opts, args = getopt.getopt(sys.argv[1:], "t:o:")
    except getopt.GetoptError as e:
        print(f"usage: {e}", file=sys.stderr); return 2
    o = dict(opts); n = int(o.get("-t", 4)); out = o.get("-o")
    if len(args) != 1 or not out or not 1 <= n <= 64:
        print("usage: strips -t N -o FILE URL", file=sys.stderr); return 2
    url = args[0]
    t0 = time.monotonic()
    lock = threading.Lock(); strips = {}; info = {}; err = []; done = threading.Event(); reqs = [0]

    def worker():
        while not done.is_set():
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    body = r.read(); h = r.headers
            except urllib.error.HTTPError as e:
                err.append(f"the server answered HTTP {e.code}"); done.set(); return
            except Exception as e:
                err.append(str(getattr(e, "reason", e))); done.set(); return
            with lock:
                reqs[0] += 1
                if not info:
                    info.update(count=int(h["X-Strip-Count"]), w=int(h["X-Image-Width"]), h=int(h["X-Image-Height"]))
                strips.setdefault(int(h["X-Strip-Index"]), body)
                if len(strips) == info["count"]:
                    done.set()

    ths = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
    for t in ths: t.start()
    done.wait()
    if err:
        print(f"error: GET {url}: {err[0]}", file=sys.stderr); return 1
    with open(out, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (info["w"], info["h"]))
        for i in range(info["count"]): f.write(strips[i])
    print(f"fetched {info['count']} strips in {reqs[0]} requests: {time.monotonic() - t0:.3f} s")
    sys.stdout.flush()
    import os; os._exit(0)

if __name__ == "__main__":
    try:
        sys.exit(main())
    except ValueError as e:
        print(f"error: GET {sys.argv[-1]}: {e}", file=sys.stderr); sys.exit(1)
