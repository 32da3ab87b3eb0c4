//! The self-contained HTML report of `fixloop demo`: hand-written inline SVG plots (no
//! scripts, no external files) of the learning curve, effectiveness per fix type and the
//! distribution of |gap to taste| before and after refinement, plus the text reports.

use crate::features::FixType;
use crate::sim::ab_sim::AbSimResult;
use crate::sim::closed_loop::LoopRun;
use std::fmt::Write;

const W: f64 = 520.0;
const H: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;
const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Stroke width in pixels (the mean line is drawn thicker).
    pub stroke_px: f64,
}

/// Escapes `&`, `<`, `>` and `"` for HTML text and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn nice_range(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.08;
    (lo - pad, hi + pad)
}

fn frame(svg: &mut String, title: &str, x_label: &str, y_label: &str, y: (f64, f64)) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let _ = write!(
        svg,
        r##"<rect x="{x0}" y="{y0}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        x1 - x0,
        y1 - y0
    );
    for k in 0..=4 {
        let v = y.0 + (y.1 - y.0) * k as f64 / 4.0;
        let py = y1 - (y1 - y0) * k as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{x0}" x2="{x1}" y1="{py:.1}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 4.0,
            py + 4.0,
            fmt_tick(v)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 8.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart with integer x ticks.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (xmin, xmax) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (ylo, yhi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let y = nice_range(ylo, yhi);
    let (xmin, xmax) = if xmax > xmin {
        (xmin, xmax)
    } else {
        (xmin - 1.0, xmin + 1.0)
    };
    let mut svg = String::new();
    frame(&mut svg, title, x_label, y_label, y);
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let px = |x: f64| x0 + (x1 - x0) * (x - xmin) / (xmax - xmin);
    let py = |v: f64| y1 - (y1 - y0) * (v - y.0) / (y.1 - y.0);
    let mut x = xmin.ceil();
    while x <= xmax {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{x:.0}</text>"#,
            px(x),
            y1 + 14.0
        );
        x += 1.0;
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|&(x, v)| format!("{:.1},{:.1}", px(x), py(v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="{}"/>"#,
            pts.join(" "),
            s.stroke_px
        );
        for &(x, v) in &s.points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#,
                px(x),
                py(v)
            );
        }
        let ly = y0 + 12.0 + 13.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="{}"/><text x="{}" y="{}">{}</text>"#,
            x1 - 120.0,
            x1 - 104.0,
            s.stroke_px,
            x1 - 100.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A grouped bar chart: one group per category, one bar per series.
pub fn bar_chart(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let all = series.iter().flat_map(|s| s.1.iter().copied());
    let yhi = all.fold(0.0f64, f64::max).max(1e-9);
    let y = (0.0, yhi * 1.1);
    let mut svg = String::new();
    frame(&mut svg, title, "", y_label, y);
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let group = (x1 - x0) / categories.len().max(1) as f64;
    let bar = group * 0.8 / series.len().max(1) as f64;
    for (c, name) in categories.iter().enumerate() {
        let gx = x0 + group * c as f64 + group * 0.1;
        for (s, (_, values)) in series.iter().enumerate() {
            let v = values.get(c).copied().unwrap_or(0.0);
            let h = (y1 - y0) * v / y.1;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.3}</title></rect>"#,
                gx + bar * s as f64,
                y1 - h,
                bar - 1.0,
                h,
                PALETTE[s % PALETTE.len()],
                escape(name)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="9">{}</text>"#,
            gx + group * 0.4,
            y1 + 14.0,
            escape(name)
        );
    }
    for (s, (label, _)) in series.iter().enumerate() {
        let ly = y0 + 12.0 + 13.0 * s as f64;
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="8" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            x1 - 150.0,
            ly - 4.0,
            PALETTE[s % PALETTE.len()],
            x1 - 134.0,
            ly + 4.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Overlaid histograms (outlined steps) of several samples on common bins.
pub fn histogram(
    title: &str,
    x_label: &str,
    samples: &[(String, Vec<f64>)],
    bins: usize,
) -> String {
    let all: Vec<f64> = samples.iter().flat_map(|s| s.1.iter().copied()).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let counts: Vec<Vec<f64>> = samples
        .iter()
        .map(|(_, xs)| {
            let mut c = vec![0.0; bins];
            for &x in xs {
                let b = (((x - lo) / width) as usize).min(bins - 1);
                c[b] += 1.0 / xs.len().max(1) as f64;
            }
            c
        })
        .collect();
    let ymax = counts
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let y = (0.0, ymax * 1.1);
    let mut svg = String::new();
    frame(&mut svg, title, x_label, "share of sessions", y);
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let px = |x: f64| x0 + (x1 - x0) * (x - lo) / (hi - lo);
    let py = |v: f64| y1 - (y1 - y0) * v / y.1;
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(v),
            y1 + 14.0,
            fmt_tick(v)
        );
    }
    for (s, c) in counts.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let mut d = format!("M{:.1},{:.1}", px(lo), py(0.0));
        for (b, v) in c.iter().enumerate() {
            let xa = lo + width * b as f64;
            let _ = write!(
                d,
                " L{:.1},{:.1} L{:.1},{:.1}",
                px(xa),
                py(*v),
                px(xa + width),
                py(*v)
            );
        }
        let _ = write!(d, " L{:.1},{:.1}", px(hi), py(0.0));
        let _ = write!(
            svg,
            r#"<path d="{d}" fill="{color}" fill-opacity="0.25" stroke="{color}" stroke-width="1.5"/>"#
        );
        let ly = y0 + 12.0 + 13.0 * s as f64;
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="8" fill="{color}" fill-opacity="0.5"/><text x="{}" y="{}">{}</text>"#,
            x1 - 170.0,
            ly - 4.0,
            x1 - 154.0,
            ly + 4.0,
            escape(&samples[s].0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// What the HTML report shows.
#[derive(Clone, Debug)]
pub struct ReportInput<'a> {
    /// One closed-loop run per seed.
    pub runs: &'a [LoopRun],
    /// The learning-curve table, as printed.
    pub curve_table: &'a str,
    /// The seed-style summary of the first round of the first seed, as printed.
    pub summary_text: &'a str,
    /// The first refinement report, as printed.
    pub refine_text: &'a str,
    /// An A/B status, as printed.
    pub ab_text: &'a str,
    /// The A/A simulation.
    pub aa: &'a AbSimResult,
    /// The conservative-vs-mean simulation.
    pub ab: &'a AbSimResult,
    /// The model and definitions, one paragraph per entry.
    pub notes: &'a [String],
}

fn mean_curve(runs: &[LoopRun], f: impl Fn(&crate::sim::closed_loop::RoundStats) -> f64) -> Series {
    let rounds = runs.iter().map(|r| r.rounds.len()).min().unwrap_or(0);
    Series {
        label: "mean of seeds".into(),
        points: (0..rounds)
            .map(|i| {
                let m = runs.iter().map(|r| f(&r.rounds[i])).sum::<f64>() / runs.len() as f64;
                (i as f64, m)
            })
            .collect(),
        stroke_px: 3.0,
    }
}

fn curve(
    runs: &[LoopRun],
    f: impl Fn(&crate::sim::closed_loop::RoundStats) -> f64 + Copy,
) -> Vec<Series> {
    let mut out: Vec<Series> = runs
        .iter()
        .take(6)
        .map(|r| Series {
            label: format!("seed {}", r.seed),
            points: r.rounds.iter().map(|s| (s.round as f64, f(s))).collect(),
            stroke_px: 1.0,
        })
        .collect();
    out.insert(0, mean_curve(runs, f));
    out
}

/// Mean effectiveness per fix type over the runs' summaries of round `round` (types seen
/// in no run are 0).
pub fn effectiveness(runs: &[LoopRun], round: usize) -> Vec<f64> {
    FixType::ALL
        .iter()
        .map(|t| {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.summaries.get(round))
                .filter_map(|s| s.by_fix_type.get(t).map(|e| e.effectiveness))
                .collect();
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect()
}

/// The whole report as one HTML document.
pub fn html(input: &ReportInput<'_>) -> String {
    let runs = input.runs;
    let last = runs
        .iter()
        .map(|r| r.rounds.len())
        .min()
        .unwrap_or(1)
        .max(1)
        - 1;
    let mut doc = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fixloop demo report</title>\
         <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
         .plots{display:flex;flex-wrap:wrap;gap:12px}pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:12px}\
         </style></head><body>\n<h1>fixloop demo: does the loop learn?</h1>\n",
    );
    for n in input.notes {
        let _ = writeln!(doc, "<p>{}</p>", escape(n));
    }
    doc.push_str("<h2>Learning curve</h2>\n<div class=\"plots\">");
    doc.push_str(&line_chart(
        "Accept rate per round",
        "round (0 = original profile)",
        "accepted / proposed",
        &curve(runs, |s| s.accept_rate),
    ));
    doc.push_str(&line_chart(
        "Mean |gap to taste| per round",
        "round (0 = original profile)",
        "taste distance (tolerances)",
        &curve(runs, |s| s.gap_after),
    ));
    doc.push_str(&line_chart(
        "Undo rate per round",
        "round (0 = original profile)",
        "undone / proposed",
        &curve(runs, |s| s.undo_rate),
    ));
    let cats: Vec<String> = FixType::ALL.iter().map(|t| t.name().to_string()).collect();
    doc.push_str(&bar_chart(
        "Effectiveness per fix type (mean of seeds)",
        "effectiveness",
        &cats,
        &[
            ("round 0 (original)".into(), effectiveness(runs, 0)),
            (format!("round {last} (refined)"), effectiveness(runs, last)),
        ],
    ));
    let gaps = |round: usize| -> Vec<f64> {
        runs.iter()
            .filter_map(|r| r.rounds.get(round))
            .flat_map(|s| s.session_gaps.iter().copied())
            .collect()
    };
    doc.push_str(&histogram(
        "|gap to taste| per session, all seeds",
        "mean taste distance after the session's fixes",
        &[
            ("original profile (round 0)".into(), gaps(0)),
            (format!("refined profile (round {last})"), gaps(last)),
        ],
        16,
    ));
    doc.push_str("</div>\n");
    let _ = writeln!(
        doc,
        "<h2>Learning curve table</h2>\n<pre>{}</pre>",
        escape(input.curve_table)
    );
    let _ = writeln!(
        doc,
        "<h2>A/B simulation</h2>\n<p>A/A (same policy in both arms): adopt_treatment at any of {} looks in {} of {} runs ({:.1} %); \
         naive fixed-horizon p &lt; 0.05 at any look in {:.1} %. Conservative vs mean targeting: adopt_treatment in {:.1} % (power).</p>",
        input.aa.looks.len(),
        input.aa.adopt,
        input.aa.runs,
        100.0 * input.aa.rate(input.aa.adopt),
        100.0 * input.aa.rate(input.aa.naive_any_look),
        100.0 * input.ab.rate(input.ab.adopt),
    );
    let _ = writeln!(doc, "<pre>{}</pre>", escape(input.ab_text));
    let _ = writeln!(
        doc,
        "<h2>Feedback summary (round 0, first seed)</h2>\n<pre>{}</pre>",
        escape(input.summary_text)
    );
    let _ = writeln!(
        doc,
        "<h2>Refinement after round 0 (first seed)</h2>\n<pre>{}</pre>",
        escape(input.refine_text)
    );
    doc.push_str("</body></html>\n");
    doc
}
