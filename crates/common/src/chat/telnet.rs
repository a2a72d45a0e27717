//! Telnet's in-band commands, removed from a client's bytes before anything is framed
//! or relayed (beyond the notes: RFC 854, "The Network Virtual Terminal").
//!
//! `telnet HOST PORT` is as good a chat client as `nc`, but it talks a little protocol
//! inside the byte stream: byte 0xFF (IAC, "interpret as command") starts a command.
//! Ctrl-C sends `IAC IP`, then often `IAC DO TIMING-MARK`; resizing the window sends
//! `IAC SB NAWS ... IAC SE`. A server that is not telnet-aware relays those bytes, and
//! other users see them as U+FFFD junk. What is removed:
//!
//! * `IAC WILL|WONT|DO|DONT option` (option negotiation, three bytes);
//! * `IAC SB option ... IAC SE` (subnegotiation: window size, terminal type...);
//! * `IAC x` for every other command x (IP, AYT, NOP, GA, ...: two bytes);
//! * `IAC IAC` is telnet's way to send a literal 0xFF: one 0xFF is kept (as text that is
//!   not UTF-8, it becomes U+FFFD later, like any other such byte).
//!
//! A client that is not telnet may send 0xFF too (garbage, Latin-1 `ÿ`). So that its
//! next bytes of text are not swallowed, only sequences a telnet client really sends
//! count: a command byte from 240 up, and for negotiation an option telnet has actually
//! defined ([`known_option`]). Anything else after an IAC is left as it came.
//!
//! The filter keeps its state between reads: a sequence may be split across two
//! `read()`s like anything else in a TCP stream.

/// IAC: the next byte is a command.
const IAC: u8 = 255;
/// Subnegotiation end.
const SE: u8 = 240;
/// Subnegotiation begin.
const SB: u8 = 250;
/// WILL, WONT, DO, DONT: 251..=254, each followed by an option byte.
const WILL: u8 = 251;
const DONT: u8 = 254;

/// Longest subnegotiation skipped before giving up on it (real ones are a few bytes to
/// a few dozen): a client that sent `IAC SB` and then plain text must not lose its
/// text forever.
const MAX_SUBNEGOTIATION: usize = 512;

/// Where the filter is in the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Plain data.
    #[default]
    Data,
    /// Just saw IAC.
    Iac,
    /// Saw IAC and WILL/WONT/DO/DONT (or SB): the option byte comes next.
    Option(u8),
    /// Inside `IAC SB option ...`, this many bytes so far.
    Sub(usize),
    /// Inside a subnegotiation, just saw IAC.
    SubIac(usize),
}

/// A per-client telnet filter (see the module header).
#[derive(Debug, Default)]
pub struct Telnet {
    state: State,
}

impl Telnet {
    /// Removes telnet commands from `input`; returns the data left and how many bytes
    /// were removed.
    pub fn filter(&mut self, input: &[u8]) -> (Vec<u8>, usize) {
        let mut data = Vec::with_capacity(input.len());
        let mut removed = 0;
        for &b in input {
            // Bytes held in the Iac and Option states are counted (or given back as
            // data) only once it is clear whether they were a command.
            self.state = match self.state {
                State::Data if b == IAC => State::Iac,
                State::Data => {
                    data.push(b);
                    State::Data
                }
                State::Iac => match b {
                    IAC => {
                        removed += 1; // the pair stands for one literal 0xFF
                        data.push(IAC);
                        State::Data
                    }
                    WILL..=DONT | SB => State::Option(b),
                    SE.. => {
                        removed += 2; // IP, AYT, NOP, GA, a stray SE...
                        State::Data
                    }
                    _ => {
                        // Not a telnet command: the 0xFF was just a byte.
                        data.extend_from_slice(&[IAC, b]);
                        State::Data
                    }
                },
                State::Option(command) if known_option(b) => {
                    removed += 3;
                    if command == SB {
                        State::Sub(0)
                    } else {
                        State::Data
                    }
                }
                State::Option(command) => {
                    data.extend_from_slice(&[IAC, command, b]);
                    State::Data
                }
                State::Sub(n) | State::SubIac(n) if n >= MAX_SUBNEGOTIATION => {
                    data.push(b);
                    State::Data
                }
                State::Sub(n) => {
                    removed += 1;
                    if b == IAC {
                        State::SubIac(n + 1)
                    } else {
                        State::Sub(n + 1)
                    }
                }
                State::SubIac(n) => {
                    removed += 1;
                    if b == SE {
                        State::Data
                    } else {
                        State::Sub(n + 1) // IAC IAC inside: an escaped 0xFF parameter
                    }
                }
            };
        }
        (data, removed)
    }
}

/// Options telnet has defined (IANA's "Telnet Options" registry: 0-49, 138-140, and
/// 255, EXOPL). Real clients negotiate only those; `IAC DONT 'b'` is not a telnet
/// client talking but two bytes of garbage before a `b`.
fn known_option(option: u8) -> bool {
    matches!(option, 0..=49 | 138..=140 | 255)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(chunks: &[&[u8]]) -> (Vec<u8>, usize) {
        let mut telnet = Telnet::default();
        let mut out = Vec::new();
        let mut removed = 0;
        for chunk in chunks {
            let (data, n) = telnet.filter(chunk);
            out.extend(data);
            removed += n;
        }
        (out, removed)
    }

    #[test]
    fn negotiation_and_commands_are_removed() {
        // What netkit telnet sends on Ctrl-C: IAC IP, IAC DO TIMING-MARK.
        assert_eq!(filtered(&[b"\xff\xf4\xff\xfd\x06after ctrl-c\r\n"]), (b"after ctrl-c\r\n".to_vec(), 5));
        // Option negotiation on connect, and a window size (NAWS 80x24).
        let input = b"\xff\xfb\x1f\xff\xfb\x18\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0hi\n";
        assert_eq!(filtered(&[input]), (b"hi\n".to_vec(), input.len() - 3));
        // IAC IAC is one literal 0xFF; IAC inside a subnegotiation is escaped the same way.
        assert_eq!(filtered(&[b"a\xff\xffb"]), (b"a\xffb".to_vec(), 1));
        assert_eq!(filtered(&[b"\xff\xfa\x18\x00x\xff\xffy\xff\xf0z"]), (b"z".to_vec(), 10));
    }

    #[test]
    fn a_sequence_split_across_reads_is_still_removed() {
        let input = b"\xff\xfd\x01\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0ok";
        for cut in 0..input.len() {
            let (head, tail) = input.split_at(cut);
            assert_eq!(filtered(&[head, tail]).0, b"ok", "split at {cut}");
        }
    }

    #[test]
    fn a_0xff_that_is_not_telnet_is_left_alone() {
        // Not a command byte after IAC, and an option no telnet client negotiates.
        assert_eq!(filtered(&[b"\xff\xfebad"]), (b"\xff\xfebad".to_vec(), 0));
        assert_eq!(filtered(&[b"caf\xffe"]), (b"caf\xffe".to_vec(), 0));
        assert_eq!(filtered(&[b"\xff", b"\xfd", b"z!"]), (b"\xff\xfdz!".to_vec(), 0));
        // An endless subnegotiation gives up after MAX_SUBNEGOTIATION bytes.
        let mut input = b"\xff\xfa\x18".to_vec();
        input.extend(vec![b'q'; MAX_SUBNEGOTIATION]);
        input.extend(b"text");
        assert_eq!(filtered(&[&input]).0, b"text");
    }
}
