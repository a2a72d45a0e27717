"""python-oneshot-rearmed: a correct server that takes the free choices the other two
do not. EPOLLONESHOT on every socket, listener included, re-armed with EPOLL_CTL_MOD
after each report is worked off (MOD reports at once a socket that is already ready,
so nothing that came meanwhile is lost), and with EPOLLOUT in the mask only while an
echo waits (a writable socket re-armed with EPOLLOUT is reported at once: a spin);
EPOLLRDHUP registered for good; a client that leaves is closed without EPOLL_CTL_DEL
(close() drops it from the interest list); listen(16); a 64 KiB read buffer. `just labs-verify` marks it in full, then runs
the edge-triggered checks 3 more times.
runs: 3
checks: echo,edge-triggered,drains-reads,drains-accept,drains-writes,no-fd-leak
"""
import select
import socket
import sys

IN, OUT, ET = select.EPOLLIN, select.EPOLLOUT, select.EPOLLET
ONESHOT, RDHUP = select.EPOLLONESHOT, select.EPOLLRDHUP
CLIENT_MASK = IN | RDHUP | ET | ONESHOT

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
                ep.modify(fd, CLIENT_MASK | (OUT if clients[fd][1] else 0))
            else:
                clients.pop(fd)[0].close()
