"""oneshot-never-rearmed: the Python epoll server with EPOLLONESHOT added "so each
event is handled once", and never re-armed after it.
Breaks: after its first report each client is disarmed (EPOLL_CTL_MOD re-arms only when
the EPOLLOUT wish changes), so whatever a client sends after its first line wakes
nobody and sits unread.
caught-by: echo
"""
import select
import socket
import sys

IN, OUT, ET = select.EPOLLIN, select.EPOLLOUT, select.EPOLLET

host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(5)
listener.setblocking(False)
print("listening on %s:%d" % listener.getsockname(), flush=True)

ep = select.epoll()
ep.register(listener.fileno(), IN | ET)
clients = {}  # fd -> [socket, bytearray to echo, EPOLLOUT registered]


def drop(fd):
    sock = clients.pop(fd)[0]
    ep.unregister(fd)
    sock.close()


def pump(fd):
    """Write what is queued and read more, until EAGAIN. False: the client left."""
    sock, queued, _ = clients[fd]
    while True:
        try:
            while queued:
                del queued[: sock.send(queued)]
            data = sock.recv(1024)
        except BlockingIOError:
            break
        except OSError:
            return False
        if not data:
            return False
        queued += data
    want_out = bool(queued)
    if want_out != clients[fd][2]:
        ep.modify(fd, IN | ET | select.EPOLLONESHOT | (OUT if want_out else 0))
        clients[fd][2] = want_out
    return True


while True:
    for fd, _events in ep.poll():  # Python retries EINTR itself (PEP 475)
        if fd == listener.fileno():
            while True:
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    break
                sock.setblocking(False)
                clients[sock.fileno()] = [sock, bytearray(), False]
                ep.register(sock.fileno(), IN | ET | select.EPOLLONESHOT)
        elif fd in clients and not pump(fd):
            drop(fd)
