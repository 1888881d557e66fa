//! SVG charts as strings: grouped, stacked and horizontal bars, lines, and a loss curve.
//!
//! In: a [`Chart`] (title, category labels, named series of values, a unit). Out: one `<svg>`
//! element with a `<title>`, axes, gridlines, a legend, and a `<title>` tooltip on every bar
//! and point. Bars carry `class="bar"`, points `class="point"`. Every text is escaped; pure.

use std::fmt::Write as _;

/// Series colours (Tableau 10), reused in order.
pub const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// How values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// A share in `[0, 1]`, shown as a percentage on a 0–100% axis.
    Share,
    Seconds,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// One value per category; `NaN` is a missing value (no bar, a gap in a line).
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Unique on the page (element ids derive from it).
    pub id: String,
    pub title: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub unit: Unit,
}

const WIDTH: f64 = 760.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;

/// Escape text for HTML and SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A value as the unit shows it.
pub fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Count => format!("{v:.2}"),
        Unit::Share => format!("{:.0}%", v * 100.0),
        Unit::Seconds if v < 10.0 => format!("{v:.1} s"),
        Unit::Seconds => format!("{v:.0} s"),
    }
}

/// The value axis for data up to `max`: its top and number of intervals. Gridlines fall on a
/// round step (1, 2 or 5 × 10^k, at least 1 for counts), about four of them; shares run 0–100%
/// in quarters.
pub fn axis(max: f64, unit: Unit) -> (f64, usize) {
    if unit == Unit::Share {
        return (1.0, 4);
    }
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let rough = max / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    if unit == Unit::Count {
        step = step.max(1.0);
    }
    let intervals = ((max / step) * (1.0 - 1e-9)).ceil().max(1.0) as usize;
    (step * intervals as f64, intervals)
}

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn open(c: &Chart, height: f64) -> String {
    let id = esc(&c.id);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{id}\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{id}-title\">\
         <title id=\"{id}-title\">{title}</title>\
         <text class=\"chart-title\" x=\"{LEFT}\" y=\"22\">{title}</text>",
        title = esc(&c.title)
    )
}

/// The largest finite value (stacked: the largest category sum).
fn data_max(c: &Chart, stacked: bool) -> f64 {
    let n = c.categories.len();
    (0..n)
        .map(|i| {
            let values = c.series.iter().filter_map(|s| s.values.get(i).copied()).filter(|v| v.is_finite());
            if stacked {
                values.map(|v| v.max(0.0)).sum()
            } else {
                values.fold(0.0, f64::max)
            }
        })
        .fold(0.0, f64::max)
}

/// Horizontal gridlines and value labels for a vertical value axis from `y1` (0) up to `y0`.
fn value_axis(s: &mut String, (top, intervals): (f64, usize), unit: Unit, y0: f64, y1: f64, x0: f64, x1: f64) {
    for k in 0..=intervals {
        let v = top * k as f64 / intervals as f64;
        let y = y1 - (y1 - y0) * k as f64 / intervals as f64;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + 4.0,
            esc(&format_value(v, unit))
        );
    }
    let _ = write!(s, "<line class=\"axis\" x1=\"{x0}\" y1=\"{y1}\" x2=\"{x1}\" y2=\"{y1}\"/>");
}

/// Category labels under the bands, shortened when long (the full text in a tooltip).
fn category_labels(s: &mut String, c: &Chart, x0: f64, band: f64, y: f64) {
    let max_chars = ((band / 6.5) as usize).max(4);
    for (i, label) in c.categories.iter().enumerate() {
        let x = x0 + band * (i as f64 + 0.5);
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\"><title>{}</title>{}</text>",
            esc(label),
            esc(&shorten(label, max_chars))
        );
    }
}

/// Legend height per row.
const LEGEND_ROW: f64 = 18.0;

/// Where each legend entry goes: `(x, row)`, entries left to right wrapping onto a new row
/// before the right edge; names too long for one row are shortened (`legend_name`).
pub fn legend_layout(names: &[String]) -> Vec<(f64, usize)> {
    let (mut x, mut row) = (LEFT, 0);
    names
        .iter()
        .map(|name| {
            let w = legend_width(name);
            if x > LEFT && x + w > WIDTH - RIGHT {
                x = LEFT;
                row += 1;
            }
            let at = (x, row);
            x += w + 18.0;
            at
        })
        .collect()
}

/// Legend rows the series take.
fn legend_rows(c: &Chart) -> usize {
    let names: Vec<String> = c.series.iter().map(|s| s.name.clone()).collect();
    legend_layout(&names).last().map_or(1, |(_, row)| row + 1)
}

/// Characters a legend name may have: one entry never runs past a row.
const LEGEND_CHARS: usize = ((WIDTH - LEFT - RIGHT - 14.0) / 7.0) as usize;

fn legend_name(name: &str) -> String {
    shorten(name, LEGEND_CHARS)
}

/// A conservative width of an entry (swatch, gap, text at 11px: at most 7px a character).
fn legend_width(name: &str) -> f64 {
    14.0 + 7.0 * legend_name(name).chars().count() as f64
}

/// The legend, its first row's baseline at `y`.
fn legend(s: &mut String, c: &Chart, y: f64) {
    let names: Vec<String> = c.series.iter().map(|s| s.name.clone()).collect();
    for (j, (series, (x, row))) in c.series.iter().zip(legend_layout(&names)).enumerate() {
        let y = y + LEGEND_ROW * row as f64;
        let _ = write!(
            s,
            "<g class=\"legend-entry\"><rect class=\"swatch\" x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"{y:.1}\"><title>{}</title>{}</text></g>",
            y - 9.0,
            colour(j),
            x + 14.0,
            esc(&series.name),
            esc(&legend_name(&series.name))
        );
    }
}

/// `text` cut to `max` characters with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn no_data(s: &mut String) {
    let _ = write!(s, "<text class=\"empty\" x=\"{LEFT}\" y=\"70\">no data yet</text>");
}

/// Bars side by side per category, one per series.
pub fn grouped_bars(c: &Chart) -> String {
    vertical_bars(c, false)
}

/// One bar per category, the series stacked bottom to top.
pub fn stacked_bars(c: &Chart) -> String {
    vertical_bars(c, true)
}

/// The plot area of a vertical chart: its SVG opened with the value axis drawn, the axis top
/// and the category band width.
struct Frame {
    s: String,
    x0: f64,
    y0: f64,
    y1: f64,
    top: f64,
    band: f64,
}

/// The frame shared by bars and lines; `Err` is the finished "no data" chart.
fn vertical_frame(c: &Chart, stacked: bool) -> Result<Frame, String> {
    let extra = LEGEND_ROW * (legend_rows(c) - 1) as f64;
    let height = 320.0 + extra;
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, height - 64.0 - extra);
    let mut s = open(c, height);
    if c.categories.is_empty() || c.series.is_empty() {
        no_data(&mut s);
        s.push_str("</svg>");
        return Err(s);
    }
    let (top, intervals) = axis(data_max(c, stacked), c.unit);
    value_axis(&mut s, (top, intervals), c.unit, y0, y1, x0, x1);
    let band = (x1 - x0) / c.categories.len() as f64;
    Ok(Frame { s, x0, y0, y1, top, band })
}

fn vertical_bars(c: &Chart, stacked: bool) -> String {
    let Frame { mut s, x0, y0, y1, top, band } = match vertical_frame(c, stacked) {
        Ok(f) => f,
        Err(empty) => return empty,
    };
    let inner = band * 0.8;
    let bar_w = if stacked { inner } else { inner / c.series.len() as f64 };
    let scale = |v: f64| (v / top * (y1 - y0)).clamp(0.0, y1 - y0);
    for (i, category) in c.categories.iter().enumerate() {
        let mut base = y1;
        for (j, series) in c.series.iter().enumerate() {
            let Some(v) = series.values.get(i).copied().filter(|v| v.is_finite()) else { continue };
            let h = scale(v.max(0.0));
            let x = x0 + band * i as f64 + (band - inner) / 2.0 + if stacked { 0.0 } else { bar_w * j as f64 };
            let y = base - h;
            let _ = write!(
                s,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{} · {}: {}</title></rect>",
                (bar_w - 1.0).max(1.0),
                colour(j),
                esc(category),
                esc(&series.name),
                esc(&format_value(v, c.unit))
            );
            if stacked {
                base = y;
            }
        }
    }
    category_labels(&mut s, c, x0, band, y1 + 16.0);
    legend(&mut s, c, y1 + 50.0);
    s.push_str("</svg>");
    s
}

/// One row per category with its bars left to right from a shared zero; `notes` (one per
/// category, may be empty) are written after the row's bars.
pub fn horizontal_bars(c: &Chart, notes: &[String]) -> String {
    let row_h = 14.0 * c.series.len().max(1) as f64 + 8.0;
    let label_w = 200.0;
    let note_w = 90.0;
    let height = TOP + row_h * c.categories.len().max(1) as f64 + 50.0 + LEGEND_ROW * (legend_rows(c) - 1) as f64;
    let (x0, x1, y0) = (LEFT + label_w - 50.0, WIDTH - RIGHT - note_w, TOP);
    let y1 = y0 + row_h * c.categories.len().max(1) as f64;
    let mut s = open(c, height);
    if c.categories.is_empty() || c.series.is_empty() {
        no_data(&mut s);
        s.push_str("</svg>");
        return s;
    }
    let (top, intervals) = axis(data_max(c, false), c.unit);
    for k in 0..=intervals {
        let v = top * k as f64 / intervals as f64;
        let x = x0 + (x1 - x0) * k as f64 / intervals as f64;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y1 + 14.0,
            esc(&format_value(v, c.unit))
        );
    }
    let _ = write!(s, "<line class=\"axis\" x1=\"{x0:.1}\" y1=\"{y0}\" x2=\"{x0:.1}\" y2=\"{y1:.1}\"/>");
    for (i, category) in c.categories.iter().enumerate() {
        let row_y = y0 + row_h * i as f64;
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            x0 - 6.0,
            row_y + row_h / 2.0 + 4.0,
            esc(category),
            esc(&shorten(category, 28))
        );
        let mut end: f64 = x0;
        for (j, series) in c.series.iter().enumerate() {
            let Some(v) = series.values.get(i).copied().filter(|v| v.is_finite()) else { continue };
            let w = (v.max(0.0) / top * (x1 - x0)).clamp(0.0, x1 - x0);
            let y = row_y + 4.0 + 14.0 * j as f64;
            let _ = write!(
                s,
                "<rect class=\"bar\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"12\" fill=\"{}\"><title>{} · {}: {}</title></rect>",
                colour(j),
                esc(category),
                esc(&series.name),
                esc(&format_value(v, c.unit))
            );
            end = end.max(x0 + w);
        }
        if let Some(note) = notes.get(i).filter(|n| !n.is_empty()) {
            let _ = write!(
                s,
                "<text class=\"note\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                end + 6.0,
                row_y + row_h / 2.0 + 4.0,
                esc(note)
            );
        }
    }
    legend(&mut s, c, y1 + 38.0);
    s.push_str("</svg>");
    s
}

/// One line per series across the categories (gaps at missing values), a dot per value.
pub fn lines(c: &Chart) -> String {
    let Frame { mut s, x0, y0, y1, top, band } = match vertical_frame(c, false) {
        Ok(f) => f,
        Err(empty) => return empty,
    };
    // Series sit a few pixels apart so equal values stay visible.
    let spread = (c.series.len() as f64 - 1.0) / 2.0;
    let y_of = |v: f64| y1 - (v.max(0.0) / top * (y1 - y0)).clamp(0.0, y1 - y0);
    for (j, series) in c.series.iter().enumerate() {
        let x_of = |i: usize| x0 + band * (i as f64 + 0.5) + 4.0 * (j as f64 - spread);
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for (i, v) in series.values.iter().enumerate().take(c.categories.len()) {
            if v.is_finite() {
                run.push((x_of(i), y_of(*v)));
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        runs.push(run);
        for r in runs.iter().filter(|r| r.len() > 1) {
            let points: Vec<String> = r.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                s,
                "<polyline class=\"line\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                colour(j),
                points.join(" ")
            );
        }
        for (i, v) in series.values.iter().enumerate().take(c.categories.len()) {
            if v.is_finite() {
                let _ = write!(
                    s,
                    "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"><title>{} · {}: {}</title></circle>",
                    x_of(i),
                    y_of(*v),
                    colour(j),
                    esc(&c.categories[i]),
                    esc(&series.name),
                    esc(&format_value(*v, c.unit))
                );
            }
        }
    }
    category_labels(&mut s, c, x0, band, y1 + 16.0);
    legend(&mut s, c, y1 + 50.0);
    s.push_str("</svg>");
    s
}

/// Rates with their intervals: per category, one dot per series at `resolved ÷ attempted`, a
/// whisker (`class="interval"`) from the low to the high end of its 95% interval, and the
/// counts `k/n` written above (`class="count"`). `rates[j][i]` is series `j`, category `i`
/// (`None`: nothing attempted there). The chart's series give the names; values are ignored.
pub fn rates(c: &Chart, rates: &[Vec<Option<super::RateRow>>]) -> String {
    let Frame { mut s, x0, y0, y1, band, .. } = match vertical_frame(&Chart { unit: Unit::Share, ..c.clone() }, false) {
        Ok(f) => f,
        Err(empty) => return empty,
    };
    let spread = (c.series.len() as f64 - 1.0) / 2.0;
    let offset = (band * 0.6 / c.series.len().max(1) as f64).min(40.0);
    let y_of = |v: f64| y1 - v.clamp(0.0, 1.0) * (y1 - y0);
    for (j, series) in c.series.iter().enumerate() {
        for (i, rate) in rates.get(j).into_iter().flatten().enumerate().take(c.categories.len()) {
            let Some(r) = rate.as_ref().filter(|r| r.attempted > 0) else { continue };
            let x = x0 + band * (i as f64 + 0.5) + offset * (j as f64 - spread);
            let _ = write!(
                s,
                "<line class=\"interval\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2\"/>\
                 <circle class=\"point\" cx=\"{x:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"><title>{} · {}: {}</title></circle>\
                 <text class=\"count\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}/{}</text>",
                y_of(r.low),
                y_of(r.high),
                colour(j),
                y_of(r.rate()),
                colour(j),
                esc(&c.categories[i]),
                esc(&series.name),
                esc(&r.describe()),
                (y_of(r.high) - 5.0).max(y0 - 4.0),
                r.resolved,
                r.attempted
            );
        }
    }
    category_labels(&mut s, c, x0, band, y1 + 16.0);
    legend(&mut s, c, y1 + 50.0);
    s.push_str("</svg>");
    s
}

/// A training run's loss per optimizer step: one polyline (`class="loss"`, a gap at a
/// non-finite value) over steps 1..n on the x axis, loss from 0 on the y axis, with the first,
/// lowest and last loss in tooltips on their dots.
pub fn loss_curve(id: &str, title: &str, losses: &[f64]) -> String {
    let height = 240.0;
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, height - 40.0);
    let c = Chart { id: id.into(), title: title.into(), categories: vec![], series: vec![], unit: Unit::Count };
    let mut s = open(&c, height);
    let finite: Vec<(usize, f64)> = losses.iter().copied().enumerate().filter(|(_, v)| v.is_finite()).collect();
    if finite.is_empty() {
        no_data(&mut s);
        s.push_str("</svg>");
        return s;
    }
    let max = finite.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let (top, intervals) = axis(max, Unit::Seconds);
    let (top, intervals) = if max <= 0.0 { (1.0, 4) } else { (top, intervals) };
    for k in 0..=intervals {
        let v = top * k as f64 / intervals as f64;
        let y = y1 - (y1 - y0) * k as f64 / intervals as f64;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + 4.0,
            esc(format!("{v:.3}").trim_end_matches('0').trim_end_matches('.'))
        );
    }
    let _ = write!(s, "<line class=\"axis\" x1=\"{x0}\" y1=\"{y1}\" x2=\"{x1}\" y2=\"{y1}\"/>");
    let n = losses.len();
    let x_of = |i: usize| if n <= 1 { (x0 + x1) / 2.0 } else { x0 + (x1 - x0) * i as f64 / (n - 1) as f64 };
    let y_of = |v: f64| y1 - (v.max(0.0) / top * (y1 - y0)).clamp(0.0, y1 - y0);
    let mut runs: Vec<Vec<String>> = vec![vec![]];
    for (i, v) in losses.iter().enumerate() {
        match v.is_finite() {
            true => runs.last_mut().expect("one run").push(format!("{:.1},{:.1}", x_of(i), y_of(*v))),
            false => runs.push(vec![]),
        }
    }
    for r in runs.iter().filter(|r| r.len() > 1) {
        let _ = write!(
            s,
            "<polyline class=\"loss\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            PALETTE[0],
            r.join(" ")
        );
    }
    let lowest = finite.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).expect("not empty");
    let marks = [("first", finite[0]), ("lowest", lowest), ("last", finite[finite.len() - 1])];
    for (what, (i, v)) in marks {
        let _ = write!(
            s,
            "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\"><title>{what} · step {}: loss {v:.4}</title></circle>",
            x_of(i),
            y_of(v),
            PALETTE[0],
            i + 1
        );
    }
    for step in step_ticks(n) {
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{step}</text>",
            x_of(step - 1),
            y1 + 16.0
        );
    }
    let _ = write!(
        s,
        "<text class=\"legend\" x=\"{x1}\" y=\"{:.1}\" text-anchor=\"end\">optimizer step</text>",
        height - 8.0
    );
    s.push_str("</svg>");
    s
}

/// About six round step numbers in 1..=n for the x axis (always 1 and n).
fn step_ticks(n: usize) -> Vec<usize> {
    if n == 0 {
        return vec![];
    }
    let (top, intervals) = axis(n as f64, Unit::Count);
    let step = (top / intervals as f64).max(1.0) as usize;
    let mut ticks: Vec<usize> = std::iter::once(1).chain((1..).map(|k| k * step).take_while(|t| *t < n)).collect();
    if *ticks.last().expect("1") != n {
        ticks.push(n);
    }
    ticks.dedup();
    ticks
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn chart(categories: &[&str], series: &[(&str, &[f64])], unit: Unit) -> Chart {
        Chart {
            id: "c1".into(),
            title: "A <chart> & \"more\"".into(),
            categories: categories.iter().map(|s| s.to_string()).collect(),
            series: series.iter().map(|(n, v)| Series { name: n.to_string(), values: v.to_vec() }).collect(),
            unit,
        }
    }

    /// The `(y, height)` of each bar, in document order.
    fn bars(svg: &str) -> Vec<(f64, f64)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[start..].split('"').next().unwrap().parse().unwrap()
        };
        svg.split("<rect class=\"bar\"").skip(1).map(|t| (attr(t, "y"), attr(t, "height"))).collect()
    }

    /// Well-formed XML, checked with a real parser.
    pub(crate) fn assert_well_formed(svg: &str) {
        let mut reader = quick_xml::Reader::from_str(svg);
        let mut depth = 0i32;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(_)) => depth += 1,
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed at {}: {e}\n{svg}", reader.buffer_position()),
            }
        }
        assert_eq!(depth, 0, "unbalanced: {svg}");
    }

    #[test]
    fn loss_curve_is_one_polyline_over_the_steps_with_gaps_at_non_finite_values() {
        let svg = loss_curve("loss-1", "Run <1>", &[4.0, 3.0, 2.0, 1.0, 0.5]);
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<polyline class=\"loss\"").count(), 1);
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        let ys: Vec<f64> = points.split(' ').map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
        assert_eq!(ys.len(), 5);
        assert!(ys.windows(2).all(|w| w[0] < w[1]), "a falling loss is drawn going down: {ys:?}");
        assert!(svg.contains("Run &lt;1&gt;") && svg.contains("last · step 5: loss 0.5000"));
        let gap = loss_curve("loss-2", "t", &[2.0, 1.0, f64::NAN, 1.0, 0.5]);
        assert_eq!(gap.matches("<polyline class=\"loss\"").count(), 2);
        assert!(loss_curve("loss-3", "t", &[]).contains("no data yet"));
        assert_eq!(step_ticks(1), [1]);
        assert_eq!(step_ticks(120), [1, 50, 100, 120]);
        assert_eq!(step_ticks(9), [1, 5, 9]);
    }

    #[test]
    fn grouped_bars_one_rect_per_value_scaled_to_the_axis() {
        let svg = grouped_bars(&chart(
            &["round 1", "round 2"],
            &[("candidates", &[10.0, 20.0]), ("valid", &[5.0, f64::NAN])],
            Unit::Count,
        ));
        assert_well_formed(&svg);
        let got = bars(&svg);
        assert_eq!(got.len(), 3, "a missing value draws nothing");
        // Axis top is 20: the 20 bar fills the plot (256 - 40 = 216 px), the 10 bar half of it.
        assert_eq!(got[0].1, 108.0);
        assert_eq!(got[2].1, 216.0);
        assert!(svg.contains("<title id=\"c1-title\">A &lt;chart&gt; &amp; &quot;more&quot;</title>"), "{svg}");
        assert!(svg.contains("<title>round 2 · candidates: 20</title>"));
    }

    #[test]
    fn stacked_bars_sit_on_each_other() {
        let svg = stacked_bars(&chart(&["r1"], &[("distill", &[1.0]), ("validate", &[3.0])], Unit::Seconds));
        assert_well_formed(&svg);
        let got = bars(&svg);
        assert_eq!(got.len(), 2);
        let (y_low, h_low) = got[0];
        let (y_high, h_high) = got[1];
        assert!((y_low - (y_high + h_high)).abs() < 0.11, "{got:?}");
        assert!((h_high / h_low - 3.0).abs() < 0.01, "{got:?}");
        assert!(svg.contains(">4.0 s</text>") && !svg.contains(">5.0 s</text>"), "axis top 4 s: {svg}");
    }

    #[test]
    fn horizontal_bars_and_lines() {
        let svg = horizontal_bars(
            &chart(
                &["flip_comparison", "a-very-long-operator-name-that-goes-on-and-on"],
                &[("yield", &[0.5, 1.0])],
                Unit::Share,
            ),
            &["1/2".into(), "3/3".into()],
        );
        assert_well_formed(&svg);
        assert_eq!(bars(&svg).len(), 2);
        assert!(svg.contains(">100%</text>") && svg.contains(">1/2</text>"));
        assert!(
            svg.contains("<title>a-very-long-operator-name-that-goes-on-and-on</title>a-very-long-operator-name-t…"),
            "{svg}"
        );
        let svg = lines(&chart(
            &["round 1", "round 2", "round 3"],
            &[("s1", &[0.2, f64::NAN, 0.4]), ("s2", &[0.1, 0.3, 0.5])],
            Unit::Share,
        ));
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 5);
        assert_eq!(svg.matches("<polyline").count(), 1, "s1 has no two neighbours; s2 one line");
    }

    #[test]
    fn legends_wrap_inside_the_chart() {
        let names: Vec<String> =
            ["changed-comparison", "added-none-guard", "(untargeted)", "off-by-one-in-range-loops"]
                .iter()
                .chain(&["x".repeat(200).as_str()])
                .map(|s| s.to_string())
                .chain((0..6).map(|i| format!("skill-number-{i}")))
                .collect();
        let at = legend_layout(&names);
        assert!(at.iter().map(|(_, row)| *row).max().unwrap() >= 2, "{at:?}");
        for (name, (x, _)) in names.iter().zip(&at) {
            assert!(*x >= LEFT && x + legend_width(name) <= WIDTH - RIGHT, "{name} at {x}");
        }
        assert_eq!(at[4], (LEFT, at[3].1 + 1), "a name longer than a row gets a row of its own");
        let series: Vec<(&str, &[f64])> = names.iter().map(|n| (n.as_str(), &[0.5][..])).collect();
        let svg = lines(&chart(&["round 1"], &series, Unit::Share));
        assert_well_formed(&svg);
        let height: f64 = svg.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let rows = at.last().unwrap().1 + 1;
        assert_eq!(height, 320.0 + LEGEND_ROW * (rows - 1) as f64, "the chart grows by the extra rows");
        let last_y: f64 = svg
            .rsplit("class=\"legend\" x=\"")
            .next()
            .unwrap()
            .split("y=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(last_y < height, "{last_y} {height}");
        assert_eq!(svg.matches("class=\"legend-entry\"").count(), names.len());
    }

    #[test]
    fn empty_charts_say_so() {
        for svg in [
            grouped_bars(&chart(&[], &[], Unit::Count)),
            lines(&chart(&[], &[], Unit::Count)),
            horizontal_bars(&chart(&[], &[], Unit::Count), &[]),
        ] {
            assert_well_formed(&svg);
            assert!(svg.contains("no data yet") && !svg.contains("class=\"bar\""));
        }
    }

    #[test]
    fn axes_step_roundly() {
        assert_eq!(axis(0.0, Unit::Count), (1.0, 1));
        assert_eq!(axis(3.0, Unit::Count), (3.0, 3), "whole counts");
        assert_eq!(axis(5.0, Unit::Count), (6.0, 3));
        assert_eq!(axis(7.0, Unit::Count), (8.0, 4));
        assert_eq!(axis(20.0, Unit::Count), (20.0, 4));
        assert_eq!(axis(21.0, Unit::Count), (30.0, 3));
        assert_eq!(axis(55.0, Unit::Seconds), (60.0, 3));
        let (top, intervals) = axis(0.13, Unit::Seconds);
        assert!((top - 0.15).abs() < 1e-12 && intervals == 3, "{top} {intervals}");
        assert_eq!(axis(0.4, Unit::Share), (1.0, 4));
        assert_eq!(format_value(0.25, Unit::Share), "25%");
        assert_eq!(format_value(3.0, Unit::Count), "3");
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("<a href='x'>&\"</a>\u{7}"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;\u{FFFD}");
    }
}
