"""thread-per-client: the classic way to serve many clients, in Python.
Breaks: one thread, and epoll. Each client gets a thread doing blocking recv() and
sendall(). Every byte is echoed right, so only /proc can tell: the threads in
/proc/PID/task, and no epoll instance among its fds.
caught-by: one-thread,edge-triggered
"""
import socket
import sys
import threading

host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(128)
print("listening on %s:%d" % listener.getsockname(), flush=True)


def serve(sock):
    with sock:
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            pass


while True:
    sock, _ = listener.accept()
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
