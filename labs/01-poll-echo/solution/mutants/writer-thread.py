"""writer-thread: a poll() echo server in Python that echoes each chunk at once.
Breaks: one process, one thread. When a client's socket is too full to take the whole
echo, a short-lived writer thread finishes the write with a blocking sendall() and
hands the client back through a pipe: a second thread exists only while a client
does not read. Every echo is right.
caught-by: non-reader
"""
import os
import select
import socket
import sys
import threading


def main():
    host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(128)
    listener.setblocking(False)
    print("listening on %s:%d" % listener.getsockname(), flush=True)
    done_r, done_w = os.pipe()
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    poller.register(done_r, select.POLLIN)
    clients = {}

    def finish(conn, rest):
        ok = b"1"
        try:
            conn.setblocking(True)
            conn.sendall(rest)
        except OSError:
            ok = b"0"
        os.write(done_w, conn.fileno().to_bytes(4, "little") + ok)

    def drop(fd):
        conn = clients.pop(fd)
        try:
            poller.unregister(conn)
        except KeyError:
            pass
        conn.close()

    while True:
        for fd, ev in poller.poll():
            if fd == listener.fileno():
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    clients[conn.fileno()] = conn
                    poller.register(conn, select.POLLIN)
                continue
            if fd == done_r:
                msg = os.read(done_r, 5)
                cfd, ok = int.from_bytes(msg[:4], "little"), msg[4:5]
                conn = clients[cfd]
                if ok == b"1":
                    conn.setblocking(False)
                    poller.register(conn, select.POLLIN)
                else:
                    drop(cfd)
                continue
            conn = clients[fd]
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                drop(fd)
                continue
            if not data:
                drop(fd)
                continue
            try:
                n = conn.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                drop(fd)
                continue
            if n < len(data):
                poller.unregister(conn)
                threading.Thread(target=finish, args=(conn, data[n:]), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
