//! The bookkeeping of a run, block by block: which read comes next (the rest of this
//! input, or the next input), the notes' plain blocking `read()`, process() on each
//! block, and each input's totals, checked at its end. The AIO calls themselves are in
//! the loops of `lib.rs`; nothing here waits for a request.

use crate::{Options, RunResult, Step};
use common::aio::{input_ended, process, Inputs, Summary, Tally};
use common::narrate::{ms, plural};
use common::{Context, Narrator, Result};
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

/// A read on its way through the loop: the step it becomes, and its input's fd.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) step: Step,
    pub(crate) fd: Arc<OwnedFd>,
    pub(crate) label: String,
}

impl Block {
    /// `input 2`, or `big.bin, block 2 at offset 16777216` for an input read in pieces.
    pub(crate) fn name(&self) -> String {
        match self.step.block {
            0 => self.label.clone(),
            k => format!("{}, block {} at offset {}", self.label, k + 1, self.step.offset),
        }
    }

    /// `2` or `2.3` (input 2, its third read): timeline labels.
    pub(crate) fn short(&self) -> String {
        short_label(&self.step)
    }
}

/// `2` for an input's first read, `2.3` for its third.
pub(crate) fn short_label(s: &Step) -> String {
    match s.block {
        0 => format!("{}", s.input + 1),
        k => format!("{}.{}", s.input + 1, k + 1),
    }
}

/// The bookkeeping of one run: which block comes next, what each input added up to,
/// and the steps for the timeline. Nothing in here waits or reads except
/// [`Blocks::read_blocking`], the notes' plain `read()`.
pub(crate) struct Blocks<'a> {
    n: &'a Narrator,
    source: &'a dyn Inputs,
    run: &'static str,
    started: Instant,
    tallies: Vec<Tally>,
    steps: Vec<Step>,
}

impl<'a> Blocks<'a> {
    pub(crate) fn new(n: &'a Narrator, source: &'a dyn Inputs, run: &'static str) -> Self {
        let tallies = vec![Tally::default(); source.count()];
        Blocks { n, source, run, started: Instant::now(), tallies, steps: Vec::new() }
    }

    /// Input `i`'s first block (for the device, opening is the request).
    pub(crate) fn open(&self, i: usize) -> Result<Block> {
        let asked = Instant::now();
        let fd = self.source.open(i)?;
        Ok(Block { step: new_step(i, 0, 0, asked), fd, label: self.source.label(i) })
    }

    /// The rest of this block's input, if it has not ended.
    pub(crate) fn rest_of(&self, done: &Block) -> Option<Block> {
        let s = &done.step;
        (!s.ends_input).then(|| Block {
            step: new_step(s.input, s.block + 1, s.offset + s.bytes as u64, Instant::now()),
            fd: Arc::clone(&done.fd),
            label: done.label.clone(),
        })
    }

    /// What to read after `done`: the rest of its input, or the next input.
    pub(crate) fn after(&self, done: &Block) -> Result<Option<Block>> {
        match self.rest_of(done) {
            Some(rest) => Ok(Some(rest)),
            None => self.next_input(done.step.input),
        }
    }

    /// The first block of the input after `input`, if there is one.
    pub(crate) fn next_input(&self, input: usize) -> Result<Option<Block>> {
        if input + 1 < self.source.count() {
            self.open(input + 1).map(Some)
        } else {
            Ok(None)
        }
    }

    // ANCHOR: blocking_read
    /// The notes' plain read() into `buf`: the thread sleeps until the data is there.
    pub(crate) fn read_blocking(&self, block: &mut Block, buf: &mut [u8]) -> Result<()> {
        let got = common::fd::retry_eintr(|| nix::unistd::read(block.fd.as_fd(), buf))
            .with_context(|| format!("read {}", block.name()))?;
        self.finish_read(block, got, Instant::now());
        narrate_read_blocking(self.n, self.run, block);
        Ok(())
    }
    // ANCHOR_END: blocking_read

    /// Records what a read returned, and whether it was its input's last.
    pub(crate) fn finish_read(&self, block: &mut Block, got: usize, finished: Instant) {
        let s = &mut block.step;
        s.bytes = got;
        s.read.1 = finished.max(s.read.0);
        s.ends_input = input_ended(got, s.offset + got as u64, self.source.expected_len(s.input));
    }

    /// process() on the block's bytes (the first `bytes` of `buf`); at an input's end,
    /// checks it was all there and reports the whole input.
    pub(crate) fn process(&mut self, mut block: Block, buf: &[u8], o: &Options) -> Result<()> {
        let s = &mut block.step;
        let data = &buf[..s.bytes.min(buf.len())];
        let started = Instant::now();
        s.process = (started, started);
        if !data.is_empty() {
            s.summary = process(data, o.process_extra);
            s.process.1 = Instant::now();
            narrate_process(self.n, self.run, &block);
        }
        let s = &block.step;
        self.tallies[s.input].add(data);
        if s.ends_input {
            self.source.check_end(s.input, block.fd.as_fd(), s.offset + s.bytes as u64)?;
            let reads = self.steps.iter().filter(|t| t.input == s.input).count() + 1;
            let sum = self.tallies[s.input].summary();
            narrate_input_done(self.n, self.run, &block.label, s.input, (reads, s.bytes == 0), &sum);
        }
        self.steps.push(block.step);
        Ok(())
    }

    pub(crate) fn result(self) -> RunResult {
        let inputs = self.tallies.iter().map(Tally::summary).collect();
        RunResult { steps: self.steps, inputs, wall: self.started.elapsed() }
    }
}

fn new_step(input: usize, block: usize, offset: u64, asked: Instant) -> Step {
    let zero = Summary { bytes: 0, checksum: common::aio::checksum(b""), lines: 0, words: 0 };
    Step {
        input,
        block,
        offset,
        bytes: 0,
        ends_input: false,
        read: (asked, asked),
        process: (asked, asked),
        polls: 0,
        suspends: 0,
        summary: zero,
    }
}

// Narration: one function per event, each building its text from the event's fields.

fn narrate_read_blocking(n: &Narrator, run: &str, b: &Block) {
    let (s, fd) = (&b.step, b.fd.as_raw_fd());
    let took = ms(s.read.1 - s.read.0);
    let fields = json!({"run": run, "input": s.input, "label": b.label, "block": s.block, "offset": s.offset, "fd": fd, "ret": s.bytes, "ms": took});
    n.event(
        "read_blocking",
        fields,
        format!("read(fd {fd}, {}) = {}, blocking for {took:.0} ms", b.name(), bytes_or_eof(s.bytes)),
    );
}

fn narrate_process(n: &Narrator, run: &str, b: &Block) {
    let (s, name, took) = (&b.step, b.name(), b.step.process.1 - b.step.process.0);
    let sum = &s.summary;
    let fields = json!({"run": run, "input": s.input, "label": b.label, "block": s.block, "offset": s.offset, "bytes": sum.bytes, "checksum": sum.checksum_hex(),
                        "lines": sum.lines, "words": sum.words, "ms": ms(took)});
    let text = format!(
        "process({name}): {}, {}, {}, checksum {}  ({:.0} ms)",
        plural(sum.bytes as u64, "byte", "bytes"),
        plural(sum.lines as u64, "line", "lines"),
        plural(sum.words as u64, "word", "words"),
        sum.checksum_hex(),
        ms(took)
    );
    n.event("process", fields, text);
}

/// Text only for an input read in several pieces (else its one `process` line says it all).
fn narrate_input_done(
    n: &Narrator,
    run: &str,
    label: &str,
    input: usize,
    (reads, eof): (usize, bool),
    sum: &Summary,
) {
    let fields = json!({"run": run, "input": input, "label": label, "reads": reads, "bytes": sum.bytes, "checksum": sum.checksum_hex(), "lines": sum.lines, "words": sum.words});
    if reads == 1 {
        return n.data("input_done", fields);
    }
    let end = if eof { "the last returned 0: end of file" } else { "its size, all read" };
    let text = format!(
        "{label}: {} in {} ({end}): {}, checksum {}",
        plural(sum.bytes as u64, "byte", "bytes"),
        plural(reads as u64, "read", "reads"),
        plural(sum.lines as u64, "line", "lines"),
        sum.checksum_hex()
    );
    n.event("input_done", fields, text);
}

/// `16384 bytes`, `1 byte`, or `0 = end of file`.
fn bytes_or_eof(got: usize) -> String {
    match got {
        0 => "0 = end of file".to_string(),
        n => plural(n as u64, "byte", "bytes"),
    }
}
