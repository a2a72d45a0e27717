//! Commands: a line that starts with `/` is for the server, not the room (`/nick NAME`,
//! `/who`, `/quit`) (notes: "3. using select()", the "other considerations that come
//! with managing a chat server"). The notes' server relays every line; naming yourself
//! and leaving politely are what make it a chat.

use super::happening::{self as event, Happening};
use super::ChatRoom;
use std::os::fd::RawFd;

/// What a new client is told, after its name.
pub const COMMANDS: &str = "commands: /nick NAME, /who, /quit";

impl ChatRoom {
    // ANCHOR: command
    /// Carries out a `/command` line from `fd`: the answer is queued for the sender
    /// alone, except a rename, which the whole room hears, and `/quit`, after which
    /// the client is closed once its goodbye is written.
    pub fn command(&mut self, fd: RawFd, text: &str, happened: &mut Vec<Happening>) {
        let Some(nick) = self.clients.get(&fd).filter(|c| !c.leaving).map(|c| c.nick.clone()) else {
            return; // gone, or leaving: the rest of its input is moot
        };
        self.counters.commands += 1;
        let (command, arg) = text.split_once(' ').map_or((text, ""), |(c, a)| (c, a.trim()));
        let reply = match command {
            "/nick" => match self.rename(fd, arg) {
                Ok(old) => {
                    let told = self.broadcast(None, &format!("* {old} is now {arg}"), happened);
                    happened.push(event::renamed(fd, &old, arg, told));
                    return;
                }
                Err(why) => format!("* nick {arg:?} refused: {why}"),
            },
            "/who" => {
                let names: Vec<&str> =
                    self.clients.values().filter(|c| !c.leaving).map(|c| c.nick.as_str()).collect();
                format!("* online ({}): {}", names.len(), names.join(", "))
            }
            "/quit" => {
                self.queue(fd, &format!("* bye {nick}"));
                if let Some(client) = self.clients.get_mut(&fd) {
                    client.leaving = true; // write() closes it once the queue is empty
                }
                self.touched.insert(fd);
                let told = self.broadcast(Some(fd), &format!("* {nick} left"), happened);
                happened.push(event::quit(fd, &nick, told));
                return;
            }
            _ => format!("* unknown command {command}; {COMMANDS}"),
        };
        self.queue(fd, &reply);
        happened.push(event::command(fd, &nick, command, text, &reply));
    }
    // ANCHOR_END: command

    /// Renames `fd`'s client to `new`; returns the old name, or why not.
    fn rename(&mut self, fd: RawFd, new: &str) -> std::result::Result<String, &'static str> {
        let valid = (1..=16).contains(&new.len())
            && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err("use 1-16 letters, digits, _ or -");
        }
        if self.clients.iter().any(|(&other, c)| other != fd && c.nick == new) {
            return Err("taken");
        }
        let client = self.clients.get_mut(&fd).ok_or("gone")?;
        Ok(std::mem::replace(&mut client.nick, new.to_string()))
    }
}
