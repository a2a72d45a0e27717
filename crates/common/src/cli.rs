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
