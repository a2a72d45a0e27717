"""poll-instead: lab 1's answer handed in again, in Python.
Breaks: epoll. The server waits in poll() over a level-triggered array it rebuilds
every turn. It serves every client right, one read per report, so only the checks
that look at how it waits can tell: the call it sleeps in, and no epoll instance.
caught-by: one-thread,edge-triggered
"""
import select
import socket
import sys

host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(128)
listener.setblocking(False)
print("listening on %s:%d" % listener.getsockname(), flush=True)

clients = {}  # fd -> [socket, bytes to echo]
while True:
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    for fd, (sock, queued) in clients.items():
        poller.register(fd, select.POLLIN | (select.POLLOUT if queued else 0))
    for fd, events in poller.poll():
        if fd == listener.fileno():
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                continue
            sock.setblocking(False)
            clients[sock.fileno()] = [sock, b""]
            continue
        sock, queued = clients[fd]
        try:
            if queued and events & select.POLLOUT:
                clients[fd][1] = queued = queued[sock.send(queued):]
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                data = sock.recv(4096)
                if not data:
                    raise ConnectionResetError
                clients[fd][1] = queued + data
        except BlockingIOError:
            pass
        except OSError:
            del clients[fd]
            sock.close()
