//! What the kernel says about the server's sockets, read from outside: each epoll
//! instance's interest list (/proc/PID/fdinfo/N of an `anon_inode:[eventpoll]` fd), and
//! each TCP socket's queues (/proc/net/tcp: the bytes a socket holds unread, the
//! connections a listener holds unaccepted).

use std::collections::HashMap;

/// EPOLLET in an interest list entry's event mask (bit 31).
pub const EPOLLET: u32 = 0x8000_0000;

/// EPOLLOUT in an event mask.
pub const EPOLLOUT: u32 = 0x004;

/// One server fd: its number and the socket inode it points at, if a socket.
#[derive(Debug, Clone)]
pub struct Fd {
    pub fd: u32,
    pub socket_inode: Option<u64>,
}

/// The server's fds (/proc/PID/fd), and which of them are epoll instances.
pub fn fds(pid: u32) -> Result<(Vec<Fd>, Vec<u32>), String> {
    let dir = format!("/proc/{pid}/fd");
    let mut fds = Vec::new();
    let mut epolls = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("read {dir}: {e}"))?.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let target = std::fs::read_link(entry.path()).map(|p| p.display().to_string()).unwrap_or_default();
        if target == "anon_inode:[eventpoll]" {
            epolls.push(fd);
        }
        let socket_inode =
            target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')).and_then(|n| n.parse().ok());
        fds.push(Fd { fd, socket_inode });
    }
    fds.sort_by_key(|f| f.fd);
    epolls.sort();
    Ok((fds, epolls))
}

/// The interest list of epoll fd `epfd`: inode of each registered file -> its event
/// mask. A line of fdinfo reads `tfd: 5 events: 8000201d data: 5 pos:0 ino:2406f sdev:9`.
pub fn interest_list(pid: u32, epfd: u32) -> Result<HashMap<u64, u32>, String> {
    let path = format!("/proc/{pid}/fdinfo/{epfd}");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    let mut list = HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("tfd:")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let events = words
            .iter()
            .position(|w| *w == "events:")
            .and_then(|i| words.get(i + 1))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok());
        let ino = words
            .iter()
            .find_map(|w| w.strip_prefix("ino:"))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok());
        if let (Some(events), Some(ino)) = (events, ino) {
            list.insert(ino, events);
        }
    }
    Ok(list)
}

/// The names of the flags in an event mask, e.g. `EPOLLIN|EPOLLOUT|EPOLLET`.
pub fn flag_names(events: u32) -> String {
    const NAMES: [(u32, &str); 10] = [
        (0x001, "EPOLLIN"),
        (0x002, "EPOLLPRI"),
        (EPOLLOUT, "EPOLLOUT"),
        (0x008, "EPOLLERR"),
        (0x010, "EPOLLHUP"),
        (0x2000, "EPOLLRDHUP"),
        (1 << 28, "EPOLLEXCLUSIVE"),
        (1 << 29, "EPOLLWAKEUP"),
        (1 << 30, "EPOLLONESHOT"),
        (EPOLLET, "EPOLLET"),
    ];
    let names: Vec<&str> = NAMES.iter().filter(|(bit, _)| events & bit != 0).map(|(_, n)| *n).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

/// One row of /proc/net/tcp (IPv4; the checker's clients use 127.0.0.1).
#[derive(Debug, Clone)]
pub struct TcpRow {
    pub local_port: u16,
    pub remote_port: u16,
    /// 0x0A: listening; 0x01: established.
    pub state: u8,
    /// Established: bytes received and not yet read by the program. Listening: the
    /// connections waiting in the accept queue.
    pub rx_queue: u64,
    pub inode: u64,
}

/// Listening, in [`TcpRow::state`].
pub const LISTEN: u8 = 0x0A;

/// Every IPv4 TCP socket of this network namespace.
pub fn tcp_table() -> Result<Vec<TcpRow>, String> {
    let text = std::fs::read_to_string("/proc/net/tcp").map_err(|e| format!("read /proc/net/tcp: {e}"))?;
    let port = |addr: &str| addr.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let Some((_, rx)) = f[4].split_once(':') else { continue };
        let (Some(local_port), Some(remote_port)) = (port(f[1]), port(f[2])) else { continue };
        let (Ok(state), Ok(rx_queue), Ok(inode)) =
            (u8::from_str_radix(f[3], 16), u64::from_str_radix(rx, 16), f[9].parse::<u64>())
        else {
            continue;
        };
        rows.push(TcpRow { local_port, remote_port, state, rx_queue, inode });
    }
    Ok(rows)
}

/// The server's listening socket on `port`.
pub fn listener(port: u16) -> Result<TcpRow, String> {
    tcp_table()?
        .into_iter()
        .find(|r| r.state == LISTEN && r.local_port == port)
        .ok_or_else(|| format!("no listening socket on port {port} in /proc/net/tcp"))
}

/// The server's end of the connection from the client at `client_port`.
pub fn server_end(port: u16, client_port: u16) -> Option<TcpRow> {
    tcp_table()
        .ok()?
        .into_iter()
        .find(|r| r.state != LISTEN && r.local_port == port && r.remote_port == client_port)
}
