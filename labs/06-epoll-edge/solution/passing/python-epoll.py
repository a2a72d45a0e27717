"""python-epoll: a correct server in Python, with choices the C reference did not make.
select.epoll with EPOLLET on every socket; listen(5); recv(1024), a small read, so a
drain takes many; EPOLLOUT asked for (EPOLL_CTL_MOD) only while an echo waits; an
unbounded queue per client (it never stops reading); no EPOLLRDHUP; the epoll
instance created after the `listening on` line. `just labs-verify` marks it in full,
then runs the edge-triggered checks 10 more times.
runs: 10
checks: edge-triggered,drains-reads,drains-accept,drains-writes,no-fd-leak
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
        ep.modify(fd, IN | ET | (OUT if want_out else 0))
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
                ep.register(sock.fileno(), IN | ET)
        elif fd in clients and not pump(fd):
            drop(fd)
