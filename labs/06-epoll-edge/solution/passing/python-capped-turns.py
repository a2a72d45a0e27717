"""python-capped-turns: a correct server that serves each client at most 8 reads of
4 KiB per turn, and keeps at most 32 KiB of echo queued per client, taking the free
choices the other variants do not. A client cut short by the cap is remembered and
served again on the next turn, with epoll_wait's timeout 0 while any such client waits
(it brings no new edge). A client whose queue is full is not read until EPOLLOUT's
edge says its echo can move; then reading resumes. EPOLLOUT registered for good, from
accept on. `just labs-verify` marks it in full, then runs the edge-triggered checks 3
more times.
runs: 3
checks: echo,edge-triggered,drains-reads,drains-accept,drains-writes,slow-client
"""
import select
import socket
import sys

IN, OUT, ET = select.EPOLLIN, select.EPOLLOUT, select.EPOLLET
READS_PER_TURN, READ_SIZE, QUEUE_LIMIT = 8, 4096, 32 * 1024

host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(5)
listener.setblocking(False)
print("listening on %s:%d" % listener.getsockname(), flush=True)

ep = select.epoll()
ep.register(listener.fileno(), IN | ET)
clients = {}  # fd -> (socket, bytearray to echo)
cut_short = set()  # clients with work left over from their last turn


def turn(fd):
    """One client's turn: "more" (cut short), "wait" (for an edge) or "gone"."""
    sock, queued = clients[fd]
    for _ in range(READS_PER_TURN):
        try:
            while queued:
                del queued[: sock.send(queued)]
        except BlockingIOError:
            if len(queued) >= QUEUE_LIMIT:
                return "wait"  # full: EPOLLOUT's edge brings the next turn
        except OSError:
            return "gone"
        try:
            data = sock.recv(READ_SIZE)
        except BlockingIOError:
            return "wait"  # drained: the next bytes bring the next edge
        except OSError:
            return "gone"
        if not data:
            return "gone"
        queued += data
    return "more"


while True:
    reported = [fd for fd, _events in ep.poll(0 if cut_short else -1)]
    if listener.fileno() in reported:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                break
            sock.setblocking(False)
            clients[sock.fileno()] = (sock, bytearray())
            ep.register(sock.fileno(), IN | OUT | ET)
    for fd in set(reported) | cut_short:
        if fd not in clients:
            continue
        outcome = turn(fd)
        cut_short.discard(fd)
        if outcome == "more":
            cut_short.add(fd)
        elif outcome == "gone":
            ep.unregister(fd)
            clients.pop(fd)[0].close()
