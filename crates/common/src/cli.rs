//! The flags every demo shares, flattened into each demo's own clap parser:
//!
//! ```ignore
//! #[derive(clap::Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: common::cli::CommonArgs,
//!     // the demo's own flags...
//! }
//! ```

use crate::narrate::Narrator;

/// Flags shared by every demo (the CLI contract in DESIGN.md).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Print JSON Lines on stdout instead of text: one event per line, each with
    /// "t_ms" (milliseconds since start) and "event" (a snake_case name)
    #[arg(long)]
    pub json: bool,
}

impl CommonArgs {
    /// The narrator these flags ask for: JSON or text, colour only on a terminal and
    /// never with NO_COLOR set.
    pub fn narrator(&self) -> Narrator {
        Narrator::new(self.json)
    }
}

/// `--listen ADDR` for the chat servers: `IP:PORT` (`127.0.0.1:7000`, `[::1]:7000`,
/// port 0 for any free one), or `localhost:PORT` for 127.0.0.1.
///
/// Other host names are refused with a hint rather than looked up: a server binds to
/// one of this machine's own addresses, and a lookup could wait on a DNS server (or
/// pick an address that is not local) where a student only mistyped.
pub fn parse_listen_addr(text: &str) -> std::result::Result<std::net::SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let hint = "give an IP address and a port, e.g. 127.0.0.1:7000 (this machine only), \
                0.0.0.0:7000 (every interface), or 127.0.0.1:0 (any free port)";
    match text.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 =
                port.parse().map_err(|_| format!("{port:?} is not a port (0 to 65535); {hint}"))?;
            if host.eq_ignore_ascii_case("localhost") {
                Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            } else {
                Err(format!("{host:?} is not an IP address; {hint}"))
            }
        }
        None => Err(format!("no port in {text:?}; {hint}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_are_ip_and_port_or_localhost() {
        assert_eq!(parse_listen_addr("127.0.0.1:7000").unwrap().to_string(), "127.0.0.1:7000");
        assert_eq!(parse_listen_addr("[::1]:0").unwrap().to_string(), "[::1]:0");
        assert_eq!(parse_listen_addr("localhost:7000").unwrap().to_string(), "127.0.0.1:7000");
        assert_eq!(parse_listen_addr("LOCALHOST:0").unwrap().to_string(), "127.0.0.1:0");
        let no_port = parse_listen_addr("127.0.0.1").unwrap_err();
        assert!(no_port.starts_with("no port in \"127.0.0.1\""), "{no_port}");
        let bad_port = parse_listen_addr("127.0.0.1:65536").unwrap_err();
        assert!(bad_port.starts_with("\"65536\" is not a port"), "{bad_port}");
        let name = parse_listen_addr("nosuch.invalid:7000").unwrap_err();
        assert!(name.starts_with("\"nosuch.invalid\" is not an IP address; give an IP address"), "{name}");
    }
}
