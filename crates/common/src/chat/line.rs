//! Line framing: turning a byte stream into chat lines a terminal can safely show
//! (notes: "3. using select()": "read from the socket that is ready to read and pass
//! on the message"; a message is a line, and a read is not).
//!
//! TCP delivers bytes, not lines: one `read()` may hold half a line, or three lines and
//! the start of a fourth. [`LineBuffer`] keeps the unfinished tail between reads. It
//! also bounds what a peer can make us store: a line longer than [`MAX_LINE`] bytes is
//! cut there and the rest, up to the next newline, is thrown away.
//!
//! [`clean_line`] then makes a line safe to relay. Anything a peer sends ends up on
//! other people's terminals, and a terminal obeys escape sequences: `ESC [2J` clears
//! the screen, `ESC ]0;...BEL` retitles the window. So escape sequences and every other
//! control character are removed, and bytes that are not UTF-8 become U+FFFD instead of
//! an error (a chat server must never fall over on a peer's garbage).

/// Longest line we relay, in bytes (without the newline). Longer lines are cut.
pub const MAX_LINE: usize = 512;

/// What [`LineBuffer::push`] found in one chunk of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// The line's bytes, without `\n` (or `\r\n`), at most [`MAX_LINE`] of them.
    pub bytes: Vec<u8>,
    /// How many bytes beyond [`MAX_LINE`] were thrown away (0 for a normal line).
    pub cut: usize,
}

/// The unfinished tail of a peer's input between reads.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
    /// True after a cut, until the newline that ends the overlong line.
    discarding: bool,
    /// Bytes dropped after the cut was reported (kept for the curious; not relayed).
    dropped: usize,
}

impl LineBuffer {
    /// Adds what `read()` returned; returns every line it completed.
    ///
    /// An overlong line is returned as soon as it passes [`MAX_LINE`] (so nothing
    /// waits on a peer that never sends `\n`); its `cut` count is known only at the
    /// newline, so the cut line is reported with the bytes dropped *so far*, and any
    /// later excess is dropped silently.
    pub fn push(&mut self, mut input: &[u8]) -> Vec<RawLine> {
        let mut lines = Vec::new();
        while !input.is_empty() {
            let newline = input.iter().position(|&b| b == b'\n');
            let (chunk, rest, ends_line) = match newline {
                Some(i) => (&input[..i], &input[i + 1..], true),
                None => (input, &input[input.len()..], false),
            };
            input = rest;
            if self.discarding {
                self.dropped += chunk.len();
                if ends_line {
                    self.discarding = false;
                    self.dropped = 0;
                }
                continue;
            }
            self.pending.extend_from_slice(chunk);
            if self.pending.len() > MAX_LINE {
                let cut = self.pending.len() - MAX_LINE;
                let mut bytes = std::mem::take(&mut self.pending);
                bytes.truncate(MAX_LINE);
                trim_partial_utf8(&mut bytes);
                lines.push(RawLine { bytes, cut });
                // Keep throwing bytes away until the newline that ends this line.
                self.discarding = !ends_line;
                continue;
            }
            if ends_line {
                let mut bytes = std::mem::take(&mut self.pending);
                if bytes.last() == Some(&b'\r') {
                    bytes.pop(); // telnet and some nc builds send \r\n
                }
                lines.push(RawLine { bytes, cut: 0 });
            }
        }
        lines
    }

    /// Bytes of an unfinished line still held (dropped if the peer goes away now).
    pub fn unfinished(&self) -> usize {
        self.pending.len()
    }
}

/// Drops a UTF-8 sequence left incomplete by cutting at a byte count, so a cut line
/// ends cleanly instead of with a U+FFFD.
fn trim_partial_utf8(bytes: &mut Vec<u8>) {
    if let Err(e) = std::str::from_utf8(bytes) {
        // error_len() None means "valid, but the input ended mid-character".
        if e.error_len().is_none() {
            bytes.truncate(e.valid_up_to());
        }
    }
}

/// A line made safe to relay, and what had to be removed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanLine {
    /// The text as others will see it.
    pub text: String,
    /// Control characters and escape-sequence characters removed.
    pub stripped: usize,
    /// True if some bytes were not UTF-8 (each bad sequence became U+FFFD).
    pub lossy: bool,
}

/// Decodes a line lossily and strips terminal escapes and control characters.
///
/// Handled: CSI (`ESC [` ... final byte `@`..`~`, colours and cursor moves), OSC
/// (`ESC ]` ... BEL or `ESC \`, window titles), other two-character `ESC x`
/// sequences, and every C0/C1 control character and DEL. A tab becomes a space.
pub fn clean_line(bytes: &[u8]) -> CleanLine {
    let decoded = String::from_utf8_lossy(bytes);
    let lossy = matches!(decoded, std::borrow::Cow::Owned(_));
    let mut text = String::with_capacity(decoded.len());
    let mut stripped = 0;
    let mut chars = decoded.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => text.push(' '),
            '\u{1b}' => {
                stripped += 1;
                match chars.next() {
                    Some('[') => {
                        stripped += 1;
                        // Parameters and intermediates up to the final byte.
                        for c in chars.by_ref() {
                            stripped += 1;
                            if ('@'..='~').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        stripped += 1;
                        while let Some(c) = chars.next() {
                            stripped += 1;
                            if c == '\u{7}' {
                                break;
                            }
                            if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                                chars.next();
                                stripped += 1;
                                break;
                            }
                        }
                    }
                    Some(_) => stripped += 1,
                    None => {}
                }
            }
            c if c.is_control() => stripped += 1, // C0, DEL and C1 (U+0080..U+009F)
            c => text.push(c),
        }
    }
    CleanLine { text, stripped, lossy }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[RawLine]) -> Vec<String> {
        lines.iter().map(|l| String::from_utf8_lossy(&l.bytes).into_owned()).collect()
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut buf = LineBuffer::default();
        assert!(buf.push(b"hel").is_empty());
        assert_eq!(buf.unfinished(), 3);
        let lines = buf.push(b"lo\nwor");
        assert_eq!(texts(&lines), ["hello"]);
        let lines = buf.push(b"ld\r\n\nx\n");
        assert_eq!(texts(&lines), ["world", "", "x"]);
        assert_eq!(buf.unfinished(), 0);
    }

    #[test]
    fn overlong_lines_are_cut_and_the_rest_dropped() {
        let mut buf = LineBuffer::default();
        let mut input = vec![b'a'; 600];
        input.extend_from_slice(b"\nnext\n");
        let lines = buf.push(&input);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].bytes.len(), MAX_LINE);
        assert_eq!(lines[0].cut, 88);
        assert_eq!(texts(&lines[1..]), ["next"]);
        // Cut across several reads: reported once, excess after that dropped silently.
        let mut buf = LineBuffer::default();
        assert!(buf.push(&[b'b'; 500]).is_empty());
        let lines = buf.push(&[b'b'; 100]);
        assert_eq!((lines.len(), lines[0].cut), (1, 88));
        assert!(buf.push(&[b'b'; 1000]).is_empty());
        assert_eq!(texts(&buf.push(b"b\nok\n")), ["ok"]);
    }

    #[test]
    fn a_cut_never_splits_a_utf8_character() {
        let mut buf = LineBuffer::default();
        let mut input = vec![b'a'; MAX_LINE - 1];
        input.extend_from_slice("é and more\n".as_bytes()); // é is 2 bytes: straddles 512
        let lines = buf.push(&input);
        assert_eq!(lines[0].bytes.len(), MAX_LINE - 1);
        assert!(!clean_line(&lines[0].bytes).lossy);
    }

    #[test]
    fn escapes_and_controls_are_stripped() {
        let line = clean_line(b"\x1b[2J\x1b[31mred alert\x1b[0m\x07");
        assert_eq!(line.text, "red alert");
        assert_eq!(line.stripped, 4 + 5 + 4 + 1);
        assert_eq!(clean_line(b"\x1b]0;pwned\x07title").text, "title");
        assert_eq!(clean_line(b"\x1b]0;pwned\x1b\\title").text, "title");
        assert_eq!(clean_line(b"a\tb\x00c\x7fd\x1bMe").text, "a bcde");
        assert_eq!(clean_line("x\u{9b}31my".as_bytes()).text, "x31my");
        assert_eq!(clean_line("caf\u{e9}".as_bytes()).text, "café");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let line = clean_line(b"ok \xff\xfe bytes");
        assert_eq!(line.text, "ok \u{fffd}\u{fffd} bytes");
        assert!(line.lossy);
        assert_eq!(line.stripped, 0);
    }
}
