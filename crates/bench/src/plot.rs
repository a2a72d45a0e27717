//! SVG line plots for the book (plotters, SVG backend only: no fonts or images needed;
//! the browser draws the text).

use common::{Error, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;

/// One line: `(x, median, p10, p90)` points, drawn as a line through the medians with a
/// thin vertical bar from p10 to p90 at each point.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, median, p10, p90)`.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// Line colour.
    pub color: RGBColor,
    /// Dashed (for the C twins, or "ideal" lines).
    pub dashed: bool,
}

/// A palette that stays readable in print and for common colour blindness.
pub fn color(index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 6] = [
        RGBColor(0, 114, 178),   // blue
        RGBColor(213, 94, 0),    // vermillion
        RGBColor(0, 158, 115),   // green
        RGBColor(204, 121, 167), // purple
        RGBColor(86, 180, 233),  // sky
        RGBColor(230, 159, 0),   // orange
    ];
    PALETTE[index % PALETTE.len()]
}

/// How the axes are scaled and labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axes {
    /// Logarithmic x axis (1, 10, 100, 1000 fds).
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// y values are nanoseconds: label them `100 ns`, `10 us`.
    pub y_ns: bool,
}

impl Axes {
    /// Both axes linear, plain numbers.
    pub fn linear() -> Self {
        Axes { log_x: false, log_y: false, y_ns: false }
    }

    /// Both axes logarithmic, y in nanoseconds.
    pub fn log_log_ns() -> Self {
        Axes { log_x: true, log_y: true, y_ns: true }
    }
}

/// A tick label without needless decimals: `1000`, `0.5`, `2.25`, and big numbers
/// shortened: `250k`, `4.5M`.
fn plain(v: f64) -> String {
    let trim = |s: String| s.trim_end_matches('0').trim_end_matches('.').to_string();
    if v.abs() >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if v.abs() >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else {
        trim(format!("{v:.2}"))
    }
}

/// A tick label in the time unit that reads best: `500 ns`, `10 us`, `1.5 ms`.
fn nanos(v: f64) -> String {
    if v < 1e3 {
        format!("{} ns", plain(v))
    } else if v < 1e6 {
        format!("{} us", plain(v / 1e3))
    } else {
        format!("{} ms", plain(v / 1e6))
    }
}

/// Draws `series` into the SVG file `path`.
pub fn draw(
    path: &Path,
    caption: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    axes: Axes,
) -> Result<()> {
    let Axes { log_x, log_y, y_ns } = axes;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("mkdir -p {}", dir.display()), &e))?;
    }
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, m, lo, hi) in all() {
        for y in [m, lo, hi] {
            if y.is_finite() && (!log_y || y > 0.0) {
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        if x.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
        }
    }
    if !(x0.is_finite() && y0.is_finite()) {
        return Err(Error::msg(format!("plot {}", path.display()), "no data to draw"));
    }
    // Some room around the data; a linear y axis starts at 0 so ratios are honest.
    let (x0, x1) =
        if log_x { (x0 / 1.3, x1 * 1.3) } else { (x0.min(0.0), x1 + (x1 - x0).abs() * 0.05 + 1e-9) };
    let (y0, y1) = if log_y { (y0 / 1.5, y1 * 1.5) } else { (y0.min(0.0), y1 * 1.1 + 1e-9) };
    let failed = |e: String| Error::msg(format!("draw {}", path.display()), e);
    match (log_x, log_y) {
        (true, true) => draw_on(
            path,
            (caption, x_label, y_label),
            series,
            y_ns,
            (x0..x1).log_scale(),
            (y0..y1).log_scale(),
        ),
        (true, false) => {
            draw_on(path, (caption, x_label, y_label), series, y_ns, (x0..x1).log_scale(), y0..y1)
        }
        (false, true) => {
            draw_on(path, (caption, x_label, y_label), series, y_ns, x0..x1, (y0..y1).log_scale())
        }
        (false, false) => draw_on(path, (caption, x_label, y_label), series, y_ns, x0..x1, y0..y1),
    }
    .map_err(failed)
}

fn draw_on<X, Y>(
    path: &Path,
    (caption, x_label, y_label): (&str, &str, &str),
    series: &[Series],
    y_ns: bool,
    x: X,
    y: Y,
) -> std::result::Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let root = SVGBackend::new(path, (820, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .x_label_formatter(&|v| plain(*v))
        .y_label_formatter(&|v| if y_ns { nanos(*v) } else { plain(*v) })
        .y_desc(y_label)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| e.to_string())?;
    for s in series {
        let style = ShapeStyle::from(&s.color).stroke_width(2);
        let line: Vec<(f64, f64)> = s.points.iter().map(|&(x, m, _, _)| (x, m)).collect();
        let legend_style = style;
        let dashed = s.dashed;
        let anno = if s.dashed {
            chart.draw_series(DashedLineSeries::new(line, 7, 5, style)).map_err(|e| e.to_string())?
        } else {
            chart.draw_series(LineSeries::new(line, style)).map_err(|e| e.to_string())?
        };
        anno.label(s.name.clone()).legend(move |(x, y)| {
            if dashed {
                PathElement::new(vec![(x, y), (x + 8, y)], legend_style)
            } else {
                PathElement::new(vec![(x, y), (x + 20, y)], legend_style)
            }
        });
        // The spread: a thin bar from p10 to p90 at every point.
        let bar_style = ShapeStyle::from(&s.color.mix(0.5)).stroke_width(1);
        chart
            .draw_series(
                s.points
                    .iter()
                    .filter(|p| p.3 > p.2)
                    .map(|&(x, _, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], bar_style)),
            )
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_read_well() {
        assert_eq!(plain(1000.0), "1000");
        assert_eq!(plain(0.25), "0.25");
        assert_eq!(plain(250_000.0), "250k");
        assert_eq!(plain(4_500_000.0), "4.5M");
        assert_eq!(nanos(500.0), "500 ns");
        assert_eq!(nanos(10_000.0), "10 us");
        assert_eq!(nanos(1_500_000.0), "1.5 ms");
    }

    #[test]
    fn draws_an_svg_with_lines_and_legend() {
        let dir = std::env::temp_dir().join(format!("aio-lab-plot-test-{}", std::process::id()));
        let path = dir.join("t.svg");
        let series = vec![
            Series {
                name: "poll".into(),
                points: vec![(1.0, 80.0, 70.0, 90.0), (1000.0, 9000.0, 8000.0, 9900.0)],
                color: color(0),
                dashed: false,
            },
            Series {
                name: "poll (C)".into(),
                points: vec![(1.0, 75.0, 75.0, 75.0), (1000.0, 8800.0, 8700.0, 8900.0)],
                color: color(0),
                dashed: true,
            },
        ];
        draw(&path, "test", "N", "ns", &series, Axes::log_log_ns()).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.contains("poll (C)") && svg.contains("<polyline"), "legend and lines present");
        draw(&dir.join("lin.svg"), "lin", "x", "y", &series, Axes::linear()).unwrap();
        assert!(draw(&dir.join("none.svg"), "x", "x", "y", &[], Axes::linear()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
