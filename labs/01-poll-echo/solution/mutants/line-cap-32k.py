"""line-cap-32k: a poll() echo server in Python that echoes whole lines.
Breaks: every byte back. It keeps at most 32 KiB of an unfinished line and drops the
rest: right for every line up to 32 KiB, and when a longer one arrives in one read.
caught-by: echo
"""
import select
import socket
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "--listen":
        print("usage: lines.py --listen IP:PORT", file=sys.stderr)
        return 2
    host, port = sys.argv[2].rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, int(port)))
    except OSError as e:
        print(f"error: bind {sys.argv[2]}: {e}", file=sys.stderr)
        return 1
    listener.listen(5)
    listener.setblocking(False)
    print("listening on %s:%d" % listener.getsockname(), flush=True)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    # fd -> {"sock", "line": unfinished line, "out": bytearray to send, "eof"}
    clients = {}
    while True:
        for fd, ev in poller.poll():
            if fd == listener.fileno():
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                clients[conn.fileno()] = {"sock": conn, "line": bytearray(), "out": bytearray(), "eof": False}
                poller.register(conn, select.POLLIN)
                continue
            c = clients[fd]
            conn = c["sock"]
            gone = False
            if ev & (select.POLLIN | select.POLLERR | select.POLLHUP) and not c["eof"]:
                try:
                    data = conn.recv(65536)
                    if data:
                        c["line"] += data
                        if b"\n" not in c["line"]:
                            del c["line"][32768:]
                        cut = c["line"].rfind(b"\n") + 1
                        if cut:
                            c["out"] += c["line"][:cut]
                            del c["line"][:cut]
                    else:
                        c["eof"] = True
                        c["out"] += c["line"]
                        c["line"] = bytearray()
                except BlockingIOError:
                    pass
                except OSError:
                    gone = True
            if not gone and c["out"] and ev & (select.POLLOUT | select.POLLERR | select.POLLHUP):
                try:
                    n = conn.send(c["out"])
                    del c["out"][:n]
                except BlockingIOError:
                    pass
                except OSError:
                    gone = True
            if gone or (c["eof"] and not c["out"]):
                poller.unregister(conn)
                del clients[fd]
                conn.close()
                continue
            events = 0 if c["eof"] else select.POLLIN
            if c["out"]:
                events |= select.POLLOUT
            poller.modify(conn, events)


if __name__ == "__main__":
    sys.exit(main())
