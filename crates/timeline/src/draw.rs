//! The SVG: title, lanes with their labels, spans, marks, time axis, legend.
//!
//! Drawn with plotters' SVG backend, in pixels, 800 wide (the width of a book page).
//! Every kind of mark has its own shape as well as its own colour (the Okabe-Ito
//! palette, which colour-blind readers can tell apart), so the picture still reads
//! when printed in grey. Text is estimated, not measured (no font files): a label
//! that would run into the previous one on its lane is left out rather than overlap.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{Axis, Mode};
use crate::model::{LaneKind, MarkKind, SpanKind, Timeline};

pub const WIDTH: u32 = 800;
const LABEL_RIGHT: f64 = 172.0;
const PLOT_LEFT: f64 = 184.0;
const PLOT_RIGHT: f64 = 780.0;
const TOP: f64 = 64.0;
/// A thread lane has three rows: the calls' results, the calls, the marks and their notes.
const THREAD_H: f64 = 46.0;
const THING_H: f64 = 28.0;

/// What the picture says about where it came from, under the title.
#[derive(Debug, Clone, Default)]
pub struct Caption {
    /// The command that produced the events (`just run select --show-race`).
    pub command: String,
    /// The fingerprint of the events read (see `events::fingerprint`).
    pub fingerprint: String,
    /// The filter the events went through (`run=overlap`), or empty.
    pub only: String,
    /// Fixed length of the axis in ms (to compare two pictures), or none.
    pub axis_ms: Option<f64>,
    pub mode: Option<Mode>,
}

// The Okabe-Ito palette.
const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
const SKY: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
const YELLOW: RGBColor = RGBColor(0xF0, 0xE4, 0x42);
const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
const PALE: RGBColor = RGBColor(0xF3, 0xF3, 0xF3);
const ASLEEP: RGBColor = RGBColor(0xC6, 0xDD, 0xF0);
const POLLING: RGBColor = RGBColor(0xF7, 0xF0, 0xA0);

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Res = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing the SVG failed: {e:?}")
}

/// Rough width of `text` at `size` px in a sans-serif font: capitals and digits are
/// wider than small letters, spaces and punctuation narrower.
fn text_width(text: &str, size: f64) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            '→' | '←' | '≈' => 0.9,
            'A'..='Z' | 'm' | 'w' | '_' => 0.68,
            '0'..='9' => 0.58,
            ' ' | '.' | ',' | ':' | ';' | 'i' | 'l' | 'j' | '(' | ')' | '|' | '\'' => 0.3,
            _ => 0.54,
        })
        .sum();
    em * size
}

fn font(size: f64, color: &'static RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    // plotters writes font-size as size / 1.24.
    TextStyle::from(("sans-serif", size * 1.24).into_font()).color(color).pos(Pos::new(h, v))
}

fn bold(size: f64, h: HPos) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size * 1.24, FontStyle::Bold).into_font())
        .color(&INK)
        .pos(Pos::new(h, VPos::Center))
}

fn mono(size: f64) -> TextStyle<'static> {
    TextStyle::from(("monospace", size * 1.24).into_font())
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Center))
}

fn p(x: f64, y: f64) -> (i32, i32) {
    (x.round() as i32, y.round() as i32)
}

/// Cuts `text` to `max` characters with an ellipsis.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Draws the timeline; returns the SVG text.
pub fn svg(tl: &Timeline, caption: &Caption) -> Result<String, String> {
    let lane_y = lane_positions(tl);
    let lanes_bottom = lane_y.last().map_or(TOP, |(y, h)| y + h);
    let kinds: BTreeSet<MarkKind> = tl.marks.iter().map(|m| m.kind).collect();
    let spans: BTreeSet<SpanKind> = tl.spans.iter().map(|s| s.kind).collect();
    let legend_items =
        kinds.len() + spans.len() + usize::from(tl.lanes.iter().any(|l| l.kind == LaneKind::Thing));
    let legend_rows = legend_items.div_ceil(4).max(1);
    let axis = make_axis(tl, caption);
    let legend_top = lanes_bottom + if axis.is_linear() { 44.0 } else { 58.0 };
    let height = (legend_top + 18.0 * legend_rows as f64 + 4.0).ceil() as u32;

    let mut out = String::new();
    {
        let root: Area = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        header(&root, tl, caption)?;
        lanes(&root, tl, &lane_y)?;
        cuts(&root, &axis, TOP, lanes_bottom)?;
        thing_bars(&root, tl, &axis, &lane_y)?;
        let mut taken = Taken::default();
        spans_on_threads(&root, tl, &axis, &lane_y, &mut taken)?;
        marks(&root, tl, &axis, &lane_y, &mut taken)?;
        time_axis(&root, &axis, lanes_bottom)?;
        legend(&root, &kinds, &spans, tl, legend_top)?;
        root.present().map_err(err)?;
    }
    Ok(with_source(out, tl, caption))
}

/// The top and height of each lane.
fn lane_positions(tl: &Timeline) -> Vec<(f64, f64)> {
    let mut y = TOP;
    tl.lanes
        .iter()
        .map(|l| {
            let h = if l.kind == LaneKind::Thread { THREAD_H } else { THING_H };
            let at = (y, h);
            y += h;
            at
        })
        .collect()
}

fn make_axis(tl: &Timeline, caption: &Caption) -> Axis {
    let mode = caption.mode.unwrap_or(Mode::Auto);
    if let Some(ms) = caption.axis_ms {
        return Axis::linear(tl.start, tl.start + ms.max(tl.end - tl.start), PLOT_LEFT, PLOT_RIGHT);
    }
    let linear = Axis::linear(tl.start, tl.end, PLOT_LEFT, PLOT_RIGHT);
    let mut times: Vec<f64> = tl.marks.iter().map(|m| m.t).collect();
    times.extend(tl.spans.iter().flat_map(|s| [s.start, s.end]));
    match mode {
        Mode::Linear => linear,
        Mode::Cut => Axis::cut(&times, PLOT_LEFT, PLOT_RIGHT),
        Mode::Auto => {
            // A few events are readable even when close; a crowd needs the breaks.
            if tl.marks.len() >= 40 && crowded_share(tl, &linear) > 0.5 {
                Axis::cut(&times, PLOT_LEFT, PLOT_RIGHT)
            } else {
                linear
            }
        }
    }
}

/// The share of marks drawn within 3 px of the previous mark on their lane.
fn crowded_share(tl: &Timeline, axis: &Axis) -> f64 {
    let mut last: HashMap<usize, f64> = HashMap::new();
    let mut crowded = 0usize;
    for m in &tl.marks {
        let x = axis.x(m.t);
        if last.insert(m.lane, x).is_some_and(|prev| (x - prev).abs() < 3.0) {
            crowded += 1;
        }
    }
    if tl.marks.is_empty() {
        0.0
    } else {
        crowded as f64 / tl.marks.len() as f64
    }
}

fn header(root: &Area, tl: &Timeline, caption: &Caption) -> Res {
    let title = match (&tl.name, &tl.summary) {
        (Some(n), Some(s)) => format!("{n}: {s}"),
        (Some(n), None) => n.clone(),
        _ => "a run's events".to_string(),
    };
    let size = if title.chars().count() > 90 { 12.5 } else { 14.0 };
    root.draw(&Text::new(fit(&title, 108), p(12.0, 18.0), bold(size, HPos::Left))).map_err(err)?;
    let command = if caption.command.is_empty() {
        "(events read from stdin)".to_string()
    } else {
        format!("$ {}", caption.command)
    };
    let command =
        if caption.only.is_empty() { command } else { format!("{command}   # only {}", caption.only) };
    let command = fit(&command, 110);
    // Monospace: about 0.6 em a character.
    let command_end = 12.0 + command.chars().count() as f64 * 11.5 * 0.6;
    root.draw(&Text::new(command, p(12.0, 38.0), mono(11.5))).map_err(err)?;
    let what = format!("{} events, {} ms", tl.events, crate::axis::format_ms(tl.end - tl.start, 0.0));
    if command_end + 16.0 < PLOT_RIGHT - text_width(&what, 10.5) {
        root.draw(&Text::new(what, p(PLOT_RIGHT, 38.0), font(10.5, &GREY, HPos::Right, VPos::Center)))
            .map_err(err)?;
    }
    Ok(())
}

fn lanes(root: &Area, tl: &Timeline, lane_y: &[(f64, f64)]) -> Res {
    for (i, (lane, &(y, h))) in tl.lanes.iter().zip(lane_y).enumerate() {
        if i % 2 == 0 {
            root.draw(&Rectangle::new([p(4.0, y), p(PLOT_RIGHT + 8.0, y + h)], PALE.filled()))
                .map_err(err)?;
        }
        let label = fit(&lane.label(), 28);
        let style = if lane.kind == LaneKind::Thread {
            bold(11.5, HPos::Right)
        } else {
            font(11.5, &INK, HPos::Right, VPos::Center)
        };
        root.draw(&Text::new(label, p(LABEL_RIGHT, y + h / 2.0), style)).map_err(err)?;
    }
    Ok(())
}

/// The breaks of a cut axis: a pale band with a zigzag, across every lane.
fn cuts(root: &Area, axis: &Axis, top: f64, bottom: f64) -> Res {
    for c in &axis.cuts {
        let mid = (c.x0 + c.x1) / 2.0;
        root.draw(&Rectangle::new([p(mid - 7.0, top), p(mid + 7.0, bottom)], WHITE.filled())).map_err(err)?;
        for x in [mid - 7.0, mid + 7.0] {
            let mut zig = Vec::new();
            let mut y = top;
            let mut left = true;
            while y < bottom {
                zig.push(p(x + if left { -2.0 } else { 2.0 }, y));
                left = !left;
                y += 5.0;
            }
            zig.push(p(x, bottom));
            root.draw(&PathElement::new(zig, GREY.stroke_width(1))).map_err(err)?;
        }
    }
    Ok(())
}

/// A thin bar on each thing's lane from its first to its last event: open, in flight.
fn thing_bars(root: &Area, tl: &Timeline, axis: &Axis, lane_y: &[(f64, f64)]) -> Res {
    for (lane, &(y, h)) in tl.lanes.iter().zip(lane_y) {
        if lane.kind != LaneKind::Thing {
            continue;
        }
        let (x0, x1) = (axis.x(lane.first), axis.x(lane.last).max(axis.x(lane.first) + 1.0));
        let mid = y + h / 2.0;
        root.draw(&Rectangle::new([p(x0, mid - 2.0), p(x1, mid + 2.0)], RGBColor(0xBB, 0xBB, 0xBB).filled()))
            .map_err(err)?;
    }
    Ok(())
}

fn spans_on_threads(
    root: &Area,
    tl: &Timeline,
    axis: &Axis,
    lane_y: &[(f64, f64)],
    taken: &mut Taken,
) -> Res {
    for s in &tl.spans {
        let (y, _) = lane_y[s.lane];
        let (x0, x1) = (axis.x(s.start), axis.x(s.end));
        let x1 = x1.max(x0 + 2.0);
        let (top, bottom) = (y + 11.0, y + 25.0);
        let (fill, edge) = span_colours(s.kind);
        root.draw(&Rectangle::new([p(x0, top), p(x1, bottom)], fill.filled())).map_err(err)?;
        if s.kind == SpanKind::Polling {
            let mut x = x0 + 3.0;
            while x < x1 - 1.0 {
                root.draw(&PathElement::new(vec![p(x, top), p(x, bottom)], edge.stroke_width(1)))
                    .map_err(err)?;
                x += 4.0;
            }
        }
        root.draw(&Rectangle::new([p(x0, top), p(x1, bottom)], edge.stroke_width(1))).map_err(err)?;
        // The call's name inside the span when it fits, its result just after it.
        let ms = s.end - s.start;
        let inside = format!("{} {} ms", s.call, crate::axis::format_ms(ms, 0.0));
        let text_y = y + 18.0;
        if text_width(&inside, 10.0) + 6.0 < x1 - x0 {
            root.draw(&Text::new(inside, p(x0 + 3.0, text_y), font(10.0, &INK, HPos::Left, VPos::Center)))
                .map_err(err)?;
        } else if text_width(&s.call, 10.0) + 6.0 < x1 - x0 {
            root.draw(&Text::new(
                s.call.clone(),
                p(x0 + 3.0, text_y),
                font(10.0, &INK, HPos::Left, VPos::Center),
            ))
            .map_err(err)?;
        }
        if !s.result.is_empty() {
            let text = format!("→ {}", s.result);
            let w = text_width(&text, 9.5);
            let left = (x1 - w).max(PLOT_LEFT - 6.0);
            if left + w < PLOT_RIGHT + 16.0 && taken.take(s.lane, left, left + w) {
                chip(root, left, w, y + 5.0)?;
                root.draw(&Text::new(text, p(left, y + 5.0), font(9.5, &INK, HPos::Left, VPos::Center)))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// A pale backing under a small label, so the zigzag of an axis break behind it does not
/// cross the words.
fn chip(root: &Area, left: f64, width: f64, y: f64) -> Res {
    root.draw(&Rectangle::new(
        [p(left - 1.0, y - 5.0), p(left + width + 1.0, y + 5.0)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(err)?;
    Ok(())
}

fn span_colours(kind: SpanKind) -> (RGBColor, RGBColor) {
    match kind {
        SpanKind::Asleep => (ASLEEP, BLUE),
        SpanKind::Polling => (POLLING, RGBColor(0x8A, 0x7A, 0x00)),
        SpanKind::Working => (ORANGE, RGBColor(0x80, 0x55, 0x00)),
    }
}

/// The stretches of each lane's text row already written on: a note that would
/// overlap one is left out (its mark is still drawn).
#[derive(Default)]
struct Taken(HashMap<usize, BTreeMap<i64, f64>>);

impl Taken {
    /// Claims `x0..x1` on `lane`'s text row if it is free (with 3 px to spare).
    fn take(&mut self, lane: usize, x0: f64, x1: f64) -> bool {
        let row = self.0.entry(lane).or_default();
        // Claimed stretches never overlap, so only the last one starting before our end
        // can reach into ours.
        let key = |x: f64| (x * 16.0).round() as i64;
        if let Some((&start, &end)) = row.range(..key(x1 + 3.0)).next_back() {
            if end + 3.0 > x0 && (start as f64) / 16.0 < x1 + 3.0 {
                return false;
            }
        }
        row.insert(key(x0), x1);
        true
    }
}

fn marks(root: &Area, tl: &Timeline, axis: &Axis, lane_y: &[(f64, f64)], taken: &mut Taken) -> Res {
    for m in &tl.marks {
        let (y, h) = lane_y[m.lane];
        let x = axis.x(m.t);
        // On a thread lane the marks and their notes sit under the calls; elsewhere the
        // note goes above the mark.
        let thread = tl.lanes[m.lane].kind == LaneKind::Thread;
        let (cy, note_y, row) =
            if thread { (y + 31.0, y + 41.0, usize::MAX - m.lane) } else { (y + h / 2.0, y + 5.0, m.lane) };
        shape(root, m.kind, x, cy)?;
        if m.note.is_empty() {
            continue;
        }
        let note = fit(&m.note, 18);
        let w = text_width(&note, 9.0);
        let left = (x - w / 2.0).max(PLOT_LEFT - 6.0).min(PLOT_RIGHT + 16.0 - w);
        if taken.take(row, left, left + w) {
            chip(root, left, w, note_y)?;
            root.draw(&Text::new(note, p(left, note_y), font(9.0, &INK, HPos::Left, VPos::Center)))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// One mark's shape: filled with its colour and outlined in dark ink, so that shape
/// alone tells the kinds apart in grey.
pub fn shape(root: &Area, kind: MarkKind, x: f64, y: f64) -> Res {
    let r = 4.5;
    let poly =
        |pts: &[(f64, f64)]| -> Vec<(i32, i32)> { pts.iter().map(|&(dx, dy)| p(x + dx, y + dy)).collect() };
    let outline = |pts: Vec<(i32, i32)>| {
        let mut closed = pts.clone();
        closed.push(pts[0]);
        PathElement::new(closed, INK.stroke_width(1))
    };
    let filled = |pts: &[(f64, f64)], colour: RGBColor| -> Res {
        let pts = poly(pts);
        root.draw(&Polygon::new(pts.clone(), colour.filled())).map_err(err)?;
        root.draw(&outline(pts)).map_err(err)
    };
    match kind {
        MarkKind::Ready => filled(&[(0.0, -r - 1.0), (r + 0.5, r), (-r - 0.5, r)], BLUE),
        MarkKind::Start => {
            root.draw(&Circle::new(p(x, y), r as i32, GREEN.filled())).map_err(err)?;
            root.draw(&Circle::new(p(x, y), r as i32, INK.stroke_width(1))).map_err(err)
        }
        MarkKind::DataIn => filled(&[(-r, -r), (r, -r), (r, r), (-r, r)], ORANGE),
        MarkKind::DataOut => filled(&[(0.0, -r - 1.0), (r + 1.0, 0.0), (0.0, r + 1.0), (-r - 1.0, 0.0)], SKY),
        MarkKind::Done => filled(&[(-r - 0.5, -r), (r + 0.5, -r), (0.0, r + 1.0)], INK),
        MarkKind::Failed => {
            for (a, b) in [((-r, -r), (r, r)), ((-r, r), (r, -r))] {
                root.draw(&PathElement::new(poly(&[a, b]), VERMILLION.stroke_width(3))).map_err(err)?;
            }
            Ok(())
        }
        MarkKind::Closed => {
            filled(&[(-1.5, -r - 2.0), (1.5, -r - 2.0), (1.5, r + 2.0), (-1.5, r + 2.0)], PURPLE)
        }
        MarkKind::Signal => {
            let mut star = Vec::new();
            for i in 0..10 {
                let a = std::f64::consts::PI * (i as f64) / 5.0 - std::f64::consts::FRAC_PI_2;
                let rr = if i % 2 == 0 { r + 2.0 } else { r * 0.45 };
                star.push((rr * a.cos(), rr * a.sin()));
            }
            filled(&star, YELLOW)
        }
        MarkKind::Step => root.draw(&Circle::new(p(x, y), 3, INK.stroke_width(1))).map_err(err),
        MarkKind::Other => {
            for (a, b) in [((-3.0, 0.0), (3.0, 0.0)), ((0.0, -3.0), (0.0, 3.0))] {
                root.draw(&PathElement::new(poly(&[a, b]), GREY.stroke_width(2))).map_err(err)?;
            }
            Ok(())
        }
    }
}

fn time_axis(root: &Area, axis: &Axis, y: f64) -> Res {
    let y = y + 4.0;
    root.draw(&PathElement::new(vec![p(PLOT_LEFT, y), p(PLOT_RIGHT, y)], INK.stroke_width(1)))
        .map_err(err)?;
    let mut free = f64::NEG_INFINITY;
    let mut last = String::new();
    for (x, label) in axis.ticks() {
        root.draw(&PathElement::new(vec![p(x, y), p(x, y + 4.0)], INK.stroke_width(1))).map_err(err)?;
        let w = text_width(&label, 10.0);
        // Both ends of a short stretch between two breaks can round to one label.
        if x - w / 2.0 > free && label != last {
            last = label.clone();
            root.draw(&Text::new(label, p(x, y + 12.0), font(10.0, &INK, HPos::Center, VPos::Center)))
                .map_err(err)?;
            free = x + w / 2.0 + 4.0;
        }
    }
    for c in &axis.cuts {
        let text = format!("+{} ms", crate::axis::format_ms(c.ms, 0.0));
        root.draw(&Text::new(
            text,
            p((c.x0 + c.x1) / 2.0, y + 24.0),
            font(9.5, &GREY, HPos::Center, VPos::Center),
        ))
        .map_err(err)?;
    }
    let title = if axis.is_linear() { "time since the first event (ms)" } else { "time (ms), with breaks" };
    root.draw(&Text::new(title, p(LABEL_RIGHT, y + 12.0), font(10.0, &GREY, HPos::Right, VPos::Center)))
        .map_err(err)?;
    if !axis.is_linear() {
        let why = "≈ a quiet gap, its length under it; busy moments are stretched so each event shows";
        root.draw(&Text::new(why, p(PLOT_LEFT, y + 36.0), font(9.5, &GREY, HPos::Left, VPos::Center)))
            .map_err(err)?;
    }
    Ok(())
}

/// Draws one legend entry's sample at (x, y).
type Swatch = Box<dyn Fn(&Area, f64, f64) -> Res>;

fn legend(root: &Area, kinds: &BTreeSet<MarkKind>, spans: &BTreeSet<SpanKind>, tl: &Timeline, y: f64) -> Res {
    let mut items: Vec<(Swatch, String)> = Vec::new();
    for &kind in spans {
        let words = match kind {
            SpanKind::Asleep => "in a call, asleep",
            SpanKind::Polling => "polling (awake)",
            SpanKind::Working => "working (CPU)",
        };
        items.push((
            Box::new(move |root: &Area, x: f64, y: f64| {
                let (fill, edge) = span_colours(kind);
                root.draw(&Rectangle::new([p(x - 8.0, y - 5.0), p(x + 8.0, y + 5.0)], fill.filled()))
                    .map_err(err)?;
                root.draw(&Rectangle::new([p(x - 8.0, y - 5.0), p(x + 8.0, y + 5.0)], edge.stroke_width(1)))
                    .map_err(err)
            }),
            words.to_string(),
        ));
    }
    if tl.lanes.iter().any(|l| l.kind == LaneKind::Thing) {
        items.push((
            Box::new(|root: &Area, x: f64, y: f64| {
                root.draw(&Rectangle::new(
                    [p(x - 8.0, y - 2.0), p(x + 8.0, y + 2.0)],
                    RGBColor(0xBB, 0xBB, 0xBB).filled(),
                ))
                .map_err(err)
            }),
            "open / in flight".to_string(),
        ));
    }
    for &kind in kinds {
        items.push((
            Box::new(move |root: &Area, x: f64, y: f64| shape(root, kind, x, y)),
            kind.legend().to_string(),
        ));
    }
    for (i, (draw, words)) in items.iter().enumerate() {
        let x = 20.0 + (i % 4) as f64 * 192.0;
        let y = y + (i / 4) as f64 * 18.0;
        draw(root, x, y)?;
        root.draw(&Text::new(words.clone(), p(x + 14.0, y), font(10.5, &INK, HPos::Left, VPos::Center)))
            .map_err(err)?;
    }
    Ok(())
}

/// Puts where the picture came from into the SVG itself: a `<title>` for viewers and a
/// `<desc>` with the events' fingerprint that the book's check compares with the
/// captured events.
fn with_source(svg: String, tl: &Timeline, caption: &Caption) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let title = format!("timeline of {}", tl.name.as_deref().unwrap_or("a run"));
    let desc = format!(
        "<title>{}</title>\n<desc id=\"timeline-source\">events={} count={} command={}</desc>\n",
        escape(&title),
        escape(&caption.fingerprint),
        tl.events,
        escape(&caption.command)
    );
    match svg.find("<svg").and_then(|start| svg[start..].find('>').map(|end| start + end + 1)) {
        Some(at) => format!("{}\n{}{}", &svg[..at], desc, svg[at..].trim_start()),
        None => svg,
    }
}
