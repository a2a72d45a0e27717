"""oneshot-rearmed-with-epollout: the Python epoll server with EPOLLONESHOT on every
socket, re-armed with EPOLL_CTL_MOD after each report, as it should be, but with
EPOLLOUT always in the mask "so no echo is ever stuck".
Breaks: MOD re-arms, and a socket that is ready when re-armed is reported at once; a
socket is almost always writable, so every client is reported again at once, forever:
the server spins at full CPU with nobody sending. EPOLLET does not help.
caught-by: no-busy-wait
"""
import select
import socket
import sys

IN, OUT, ET = select.EPOLLIN, select.EPOLLOUT, select.EPOLLET
ONESHOT, RDHUP = select.EPOLLONESHOT, select.EPOLLRDHUP
CLIENT_MASK = IN | OUT | RDHUP | ET | ONESHOT

host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(16)
listener.setblocking(False)
ep = select.epoll()
ep.register(listener.fileno(), IN | ET | ONESHOT)
print("listening on %s:%d" % listener.getsockname(), flush=True)
clients = {}  # fd -> (socket, bytearray to echo)


def pump(fd):
    """Write what is queued and read more, until EAGAIN. False: the client left."""
    sock, queued = clients[fd]
    while True:
        try:
            while queued:
                del queued[: sock.send(queued)]
            data = sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        queued += data


while True:
    for fd, _events in ep.poll():  # Python retries EINTR itself (PEP 475)
        if fd == listener.fileno():
            while True:
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    break
                sock.setblocking(False)
                clients[sock.fileno()] = (sock, bytearray())
                ep.register(sock.fileno(), CLIENT_MASK)
            ep.modify(fd, IN | ET | ONESHOT)
        elif fd in clients:
            if pump(fd):
                ep.modify(fd, CLIENT_MASK)
            else:
                clients.pop(fd)[0].close()
