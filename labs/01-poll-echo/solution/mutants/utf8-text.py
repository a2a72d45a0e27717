"""utf8-text: a poll() echo server in Python that echoes each chunk as text.
Breaks: every byte back. Each chunk read is decoded as UTF-8 and encoded again: bytes
that are not UTF-8 (0x80 to 0xFF alone), and a character split across two reads,
come back as U+FFFD. Plain ASCII text still comes back right.
caught-by: echo
"""
import errno
import select
import socket
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "--listen":
        print("usage: echo.py --listen IP:PORT", file=sys.stderr)
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
    clients = {}  # fd -> [socket, pending bytes]
    while True:
        for fd, ev in poller.poll():
            if fd == listener.fileno():
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                clients[conn.fileno()] = [conn, b""]
                poller.register(conn, select.POLLIN)
                continue
            conn, pending = clients[fd]
            gone = False
            if pending and ev & (select.POLLOUT | select.POLLERR | select.POLLHUP):
                try:
                    n = conn.send(pending)
                    pending = pending[n:]
                except BlockingIOError:
                    pass
                except OSError:
                    gone = True
            elif not pending and ev & (select.POLLIN | select.POLLERR | select.POLLHUP):
                try:
                    data = conn.recv(65536)
                    if data:
                        pending = data.decode(errors="replace").encode()  # text in, text out
                    else:
                        gone = True
                except BlockingIOError:
                    pass
                except OSError:
                    gone = True
            if gone:
                poller.unregister(conn)
                del clients[fd]
                conn.close()
                continue
            clients[fd][1] = pending
            poller.modify(conn, select.POLLOUT if pending else select.POLLIN)


if __name__ == "__main__":
    sys.exit(main())
