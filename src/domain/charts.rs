//! Bar charts as inline SVG, drawn on the server: no charting JavaScript.
//!
//! `BarChart` says what to draw (categories, series, values, stacked or side
//! by side, what the values are); `BarChart::draw` lays it out (plain
//! numbers, testable); `BarChart::to_svg` writes the markup with every text
//! escaped. Colours come from CSS classes (`static/css/app.css`, "reports"),
//! so the charts follow the light and dark themes; the markup has no `style`.
//!
//! A chart is `role="img"`, named by its `<title>` and described by its
//! `<desc>`; the numbers themselves belong in a table next to it.

use chrono::Duration;

use super::incident::Severity;
use super::metrics::format_duration;
use super::reports::{Bucket, Report};

pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 44.0;
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
/// Beyond this many categories only every n-th one is labelled.
const MAX_LABELS: usize = 18;

/// What the values are: how the axis is scaled and labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Count,
    /// Seconds.
    Duration,
    /// 0..=100.
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// One bar per category, the series on top of each other.
    Stacked,
    /// One bar per series, side by side.
    Grouped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    /// The CSS class giving its colour (`s-...`).
    pub class: String,
}

/// One position on the horizontal axis, e.g. a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// For tooltips: "Nov 2026".
    pub name: String,
    /// Under the bar: "Nov".
    pub short: String,
    /// Under the short label where it changes (and on the first label): "2026".
    pub group: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Prefix of the element ids (must be unique on the page).
    pub id: String,
    pub title: String,
    pub description: String,
    /// Shown inside the chart when there is nothing to draw.
    pub empty_message: String,
    pub scale: Scale,
    pub arrangement: Arrangement,
    pub categories: Vec<Category>,
    pub series: Vec<Series>,
    /// `values[category][series]`; `None` is "no value" (nothing drawn).
    pub values: Vec<Vec<Option<f64>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub class: String,
    pub tooltip: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AxisLabel {
    pub x: f64,
    pub short: String,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegendItem {
    pub x: f64,
    pub class: String,
    pub name: String,
}

/// A chart laid out in the `WIDTH` × `HEIGHT` view box.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    /// The value at the top of the axis.
    pub axis_max: f64,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
    pub labels: Vec<AxisLabel>,
    pub legend: Vec<LegendItem>,
    /// Nothing to draw: the empty message is shown.
    pub empty: bool,
}

/// The y of the value 0.
pub const BASELINE: f64 = TOP + PLOT_HEIGHT;

impl BarChart {
    fn format(&self, v: f64) -> String {
        format_value(self.scale, v)
    }

    /// The largest height the axis must reach.
    fn data_max(&self) -> f64 {
        let per_category = |row: &Vec<Option<f64>>| -> f64 {
            let values = row.iter().flatten().map(|v| v.max(0.0));
            match self.arrangement {
                Arrangement::Stacked => values.sum(),
                Arrangement::Grouped => values.fold(0.0, f64::max),
            }
        };
        self.values.iter().map(per_category).fold(0.0, f64::max)
    }

    pub fn draw(&self) -> Drawing {
        let data_max = self.data_max();
        // A measured duration of 0 s is still a value: only counts and shares
        // of zero leave nothing to draw.
        let has_durations = self.scale == Scale::Duration && self.values.iter().flatten().any(|v| v.is_some());
        let empty = data_max <= 0.0 && !has_durations;
        let (axis_max, step) = axis(self.scale, data_max);
        let y_of = |v: f64| BASELINE - PLOT_HEIGHT * (v / axis_max).clamp(0.0, 1.0);
        let mut ticks = Vec::new();
        let mut t = 0.0;
        while t <= axis_max + step / 1000.0 {
            ticks.push(Tick { y: y_of(t), label: self.format(t) });
            t += step;
            if empty {
                break;
            }
        }

        let n = self.categories.len().max(1);
        let band = PLOT_WIDTH / n as f64;
        let k = self.series.len().max(1);
        let mut bars = Vec::new();
        for (i, category) in self.categories.iter().enumerate() {
            let centre = LEFT + band * (i as f64 + 0.5);
            let row = self.values.get(i).map(Vec::as_slice).unwrap_or_default();
            let mut stacked = 0.0;
            for (j, series) in self.series.iter().enumerate() {
                let Some(v) = row.get(j).copied().flatten().filter(|v| *v > 0.0) else { continue };
                let tooltip = format!("{} · {}: {}", category.name, series.name, self.format(v));
                let class = series.class.clone();
                let bar = match self.arrangement {
                    Arrangement::Stacked => {
                        let width = (band * 0.6).min(48.0);
                        let (bottom, top) = (y_of(stacked), y_of(stacked + v));
                        stacked += v;
                        Bar { x: centre - width / 2.0, y: top, width, height: bottom - top, class, tooltip }
                    }
                    Arrangement::Grouped => {
                        let group = (band * 0.8).min(20.0 * k as f64);
                        let width = group / k as f64;
                        let top = y_of(v);
                        let x = centre - group / 2.0 + width * j as f64;
                        Bar { x, y: top, width, height: BASELINE - top, class, tooltip }
                    }
                };
                bars.push(bar);
            }
        }

        let every = self.categories.len().div_ceil(MAX_LABELS).max(1);
        let mut labels = Vec::new();
        let mut last_group: Option<&str> = None;
        for (i, category) in self.categories.iter().enumerate().filter(|(i, _)| i % every == 0) {
            let group = (last_group != Some(category.group.as_str())).then(|| category.group.clone());
            last_group = Some(&category.group);
            labels.push(AxisLabel { x: LEFT + band * (i as f64 + 0.5), short: category.short.clone(), group });
        }

        let mut legend = Vec::new();
        let mut x = LEFT;
        for series in &self.series {
            legend.push(LegendItem { x, class: series.class.clone(), name: series.name.clone() });
            x += 16.0 + 7.0 * series.name.chars().count() as f64 + 20.0;
        }
        Drawing { axis_max, ticks, bars, labels, legend, empty }
    }

    /// The chart as an `<svg>` element to put inline in a page.
    pub fn to_svg(&self) -> String {
        use std::fmt::Write;
        let d = self.draw();
        let id = escape(&self.id);
        let mut s = String::with_capacity(4096 + 200 * d.bars.len());
        let _ = write!(
            s,
            r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
            w = num(WIDTH),
            h = num(HEIGHT),
            title = escape(&self.title),
            desc = escape(&self.description),
        );
        s.push_str(r#"<g class="chart-grid">"#);
        for t in &d.ticks {
            let _ =
                write!(s, r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#, num(LEFT), num(WIDTH - RIGHT), y = num(t.y));
        }
        s.push_str(r#"</g><g class="chart-ticks">"#);
        for t in &d.ticks {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                num(LEFT - 6.0),
                num(t.y + 4.0),
                escape(&t.label)
            );
        }
        s.push_str(r#"</g><g class="chart-bars">"#);
        for b in &d.bars {
            let _ = write!(
                s,
                r#"<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
                escape(&b.class),
                num(b.x),
                num(b.y),
                num(b.width),
                num(b.height),
                escape(&b.tooltip)
            );
        }
        let _ = write!(
            s,
            r#"</g><line class="chart-baseline" x1="{}" y1="{y}" x2="{}" y2="{y}"/><g class="chart-labels">"#,
            num(LEFT),
            num(WIDTH - RIGHT),
            y = num(BASELINE)
        );
        for l in &d.labels {
            let _ = write!(
                s,
                r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                num(BASELINE + 18.0),
                escape(&l.short),
                x = num(l.x)
            );
            if let Some(group) = &l.group {
                let _ = write!(
                    s,
                    r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                    num(BASELINE + 34.0),
                    escape(group),
                    x = num(l.x)
                );
            }
        }
        s.push_str(r#"</g><g class="chart-legend">"#);
        for item in &d.legend {
            let _ = write!(
                s,
                r#"<rect class="swatch {}" x="{}" y="12" width="12" height="12"/><text x="{}" y="22">{}</text>"#,
                escape(&item.class),
                num(item.x),
                num(item.x + 16.0),
                escape(&item.name)
            );
        }
        s.push_str("</g>");
        if d.empty {
            let _ = write!(
                s,
                r#"<text class="chart-empty" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                num(LEFT + PLOT_WIDTH / 2.0),
                num(TOP + PLOT_HEIGHT / 2.0),
                escape(&self.empty_message)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// A value as the axis and tooltips show it.
pub fn format_value(scale: Scale, v: f64) -> String {
    match scale {
        Scale::Count => format!("{}", v.round() as i64),
        Scale::Duration if v.round() == 0.0 => "0".to_owned(),
        Scale::Duration => format_duration(Duration::seconds(v.round() as i64)),
        Scale::Percent => format!("{}%", v.round() as i64),
    }
}

/// The top of the axis and the step between ticks: round numbers (counts),
/// round spans of time (durations), quarters (percent); about five ticks.
fn axis(scale: Scale, data_max: f64) -> (f64, f64) {
    const SPANS: [f64; 23] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0,
        43200.0, 86400.0, 172800.0, 432000.0, 604800.0, 1209600.0, 2592000.0,
    ];
    let rough = data_max / 5.0;
    let step = match scale {
        Scale::Percent => return (100.0, 25.0),
        _ if data_max <= 0.0 => return (1.0, 1.0),
        Scale::Count => {
            let magnitude = 10f64.powf(rough.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(rough);
            step.max(1.0)
        }
        Scale::Duration => {
            SPANS.iter().copied().find(|s| *s >= rough).unwrap_or_else(|| (rough / 2592000.0).ceil() * 2592000.0)
        }
    };
    ((data_max / step).ceil().max(1.0) * step, step)
}

/// A coordinate with at most one decimal.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// Text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---- The report's charts ---------------------------------------------------

fn months(report: &Report) -> Vec<Category> {
    report
        .months
        .iter()
        .map(|(m, _)| Category { name: m.label(), short: m.short_name().to_owned(), group: m.year().to_string() })
        .collect()
}

fn severity_class(s: Severity) -> String {
    format!("s-sev{}", s.level())
}

fn seconds(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.num_seconds() as f64)
}

fn per_month(report: &Report, f: impl Fn(&Bucket) -> Vec<Option<f64>>) -> Vec<Vec<Option<f64>>> {
    report.months.iter().map(|(_, row)| f(&row.all)).collect()
}

/// Incidents per month, stacked by severity.
pub fn incidents_per_month(report: &Report) -> BarChart {
    BarChart {
        id: "chart-incidents".into(),
        title: format!("Incidents per month by severity, {}", report.range.label()),
        description: "Stacked bars, one per month, one colour per severity. The table below gives the numbers.".into(),
        empty_message: "No incidents were declared in these months.".into(),
        scale: Scale::Count,
        arrangement: Arrangement::Stacked,
        categories: months(report),
        series: report.severities.iter().map(|s| Series { name: s.label(), class: severity_class(*s) }).collect(),
        values: report
            .months
            .iter()
            .map(|(_, row)| row.by_severity.iter().map(|(_, b)| Some(b.incidents as f64)).collect())
            .collect(),
    }
}

/// Median time to mitigate and to resolve per month.
pub fn median_times(report: &Report) -> BarChart {
    BarChart {
        id: "chart-times".into(),
        title: format!("Median time to mitigate and to resolve per month, {}", report.range.label()),
        description: "Pairs of bars, one pair per month: median time to mitigate, then median time to resolve. \
            Months without a value have no bar. The table below gives medians and means of every metric."
            .into(),
        empty_message: "No incident was mitigated or resolved in these months.".into(),
        scale: Scale::Duration,
        arrangement: Arrangement::Grouped,
        categories: months(report),
        series: vec![
            Series { name: "Median time to mitigate".into(), class: "s-mitigate".into() },
            Series { name: "Median time to resolve".into(), class: "s-resolve".into() },
        ],
        values: per_month(report, |b| vec![seconds(b.time_to_mitigate.median), seconds(b.time_to_resolve.median)]),
    }
}

/// How incidents were detected, as shares of each month's incidents.
pub fn detection_shares(report: &Report) -> BarChart {
    BarChart {
        id: "chart-detection".into(),
        title: format!("How incidents were detected per month, {}", report.range.label()),
        description: "Stacked bars of 100%, one per month with incidents: the share detected by an alert, \
            reported by customers, and found by staff or otherwise. The table below gives the numbers."
            .into(),
        empty_message: "No incidents were declared in these months.".into(),
        scale: Scale::Percent,
        arrangement: Arrangement::Stacked,
        categories: months(report),
        series: vec![
            Series { name: "Alert".into(), class: "s-alert".into() },
            Series { name: "Customer report".into(), class: "s-customer".into() },
            Series { name: "Staff or other".into(), class: "s-staff".into() },
        ],
        // Exact shares (not the rounded ones of the table) so the bars add up to 100%.
        values: per_month(report, |b| {
            let d = b.detection;
            let total = d.total() as f64;
            [d.alert, d.customer, d.staff_or_other]
                .iter()
                .map(|&n| (total > 0.0).then(|| 100.0 * n as f64 / total))
                .collect()
        }),
    }
}

/// Open and overdue follow-ups of each month's incidents.
pub fn follow_ups(report: &Report) -> BarChart {
    BarChart {
        id: "chart-followups".into(),
        title: format!("Open and overdue follow-ups by month of their incident, {}", report.range.label()),
        description: "Pairs of bars, one pair per month: follow-ups still open, then those of them past their \
            due date. The table below gives the numbers."
            .into(),
        empty_message: "No follow-ups of these months' incidents are open.".into(),
        scale: Scale::Count,
        arrangement: Arrangement::Grouped,
        categories: months(report),
        series: vec![
            Series { name: "Open".into(), class: "s-open".into() },
            Series { name: "Overdue".into(), class: "s-overdue".into() },
        ],
        values: per_month(report, |b| vec![Some(b.open_followups as f64), Some(b.overdue_followups as f64)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(arrangement: Arrangement, scale: Scale, values: Vec<Vec<Option<f64>>>) -> BarChart {
        let n = values.len();
        BarChart {
            id: "c".into(),
            title: "T".into(),
            description: "D".into(),
            empty_message: "Nothing".into(),
            scale,
            arrangement,
            categories: (0..n)
                .map(|i| Category { name: format!("M{i} 2026"), short: format!("M{i}"), group: "2026".into() })
                .collect(),
            series: vec![
                Series { name: "A".into(), class: "s-a".into() },
                Series { name: "B".into(), class: "s-b".into() },
            ],
            values,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn bars_scale_to_the_axis() {
        let c = chart(Arrangement::Grouped, Scale::Count, vec![vec![Some(10.0), Some(5.0)], vec![Some(2.0), None]]);
        let d = c.draw();
        assert_eq!(d.axis_max, 10.0);
        assert_eq!(d.ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "2", "4", "6", "8", "10"]);
        assert_eq!(d.bars.len(), 3, "no bar for a missing value");
        let full = &d.bars[0];
        assert!(close(full.height, PLOT_HEIGHT) && close(full.y, TOP), "{full:?}");
        assert!(close(d.bars[1].height, PLOT_HEIGHT / 2.0));
        assert!(close(d.bars[2].height, PLOT_HEIGHT / 5.0));
        assert!(d.bars.iter().all(|b| close(b.y + b.height, BASELINE)), "every bar stands on the baseline");
        assert!(d.bars[0].x + d.bars[0].width <= d.bars[1].x + 1e-9, "side by side, not overlapping");
        assert!(d.bars[1].x < d.bars[2].x);
        assert_eq!(d.bars[1].class, "s-b");
        assert_eq!(d.bars[2].tooltip, "M1 2026 · A: 2");
        assert!(!d.empty);
    }

    #[test]
    fn stacked_bars_sit_on_each_other() {
        let c = chart(Arrangement::Stacked, Scale::Count, vec![vec![Some(3.0), Some(4.0)], vec![Some(0.0), Some(1.0)]]);
        let d = c.draw();
        assert_eq!(d.axis_max, 8.0, "7 rounds up to the next step of 2");
        let (a, b) = (&d.bars[0], &d.bars[1]);
        assert!(close(a.y + a.height, BASELINE));
        assert!(close(b.y + b.height, a.y), "B starts where A ends");
        assert!(close(a.height + b.height, PLOT_HEIGHT * 7.0 / 8.0));
        assert_eq!(d.bars.len(), 3, "a zero draws nothing");
    }

    #[test]
    fn a_zero_duration_is_a_value_not_an_empty_chart() {
        let c = chart(Arrangement::Grouped, Scale::Duration, vec![vec![Some(0.0), None]]);
        assert!(!c.draw().empty, "an incident resolved within the minute still has a bar's worth of data");
        let none = chart(Arrangement::Grouped, Scale::Duration, vec![vec![None, None]]);
        assert!(none.draw().empty);
    }

    #[test]
    fn zero_data_draws_an_empty_chart_with_a_message() {
        let c = chart(Arrangement::Stacked, Scale::Count, vec![vec![Some(0.0), Some(0.0)], vec![None, None]]);
        let d = c.draw();
        assert!(d.empty);
        assert!(d.bars.is_empty());
        assert_eq!(d.ticks.len(), 1, "just the zero line");
        assert_eq!(d.labels.len(), 2, "the months are still labelled");
        let svg = c.to_svg();
        assert!(svg.contains(r#"class="chart-empty""#) && svg.contains(">Nothing</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        let none = chart(Arrangement::Grouped, Scale::Duration, vec![]);
        assert!(none.draw().empty);
        assert!(!none.to_svg().contains("NaN"));
    }

    #[test]
    fn duration_and_percent_axes_use_round_steps() {
        let c = chart(Arrangement::Grouped, Scale::Duration, vec![vec![Some(5400.0), Some(14400.0)]]);
        let d = c.draw();
        assert_eq!(d.axis_max, 14400.0);
        assert_eq!(d.ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "1 h", "2 h", "3 h", "4 h"]);
        assert_eq!(d.bars[0].tooltip, "M0 2026 · A: 1 h 30 min");
        let p = chart(Arrangement::Stacked, Scale::Percent, vec![vec![Some(200.0 / 3.0), Some(100.0 / 3.0)]]);
        let d = p.draw();
        assert_eq!(d.axis_max, 100.0);
        assert_eq!(d.ticks.last().map(|t| t.label.as_str()), Some("100%"));
        assert!(close(d.bars[1].y, TOP), "shares fill the bar");
    }

    #[test]
    fn labels_are_escaped() {
        let mut c = chart(Arrangement::Grouped, Scale::Count, vec![vec![Some(1.0), Some(2.0)]]);
        c.title = "<script>alert(1)</script>".into();
        c.description = "Tom & Jerry's \"chart\"".into();
        c.series[0].name = "<b>A</b>".into();
        c.categories[0].name = "M&M".into();
        c.id = "x\" onload=\"y".into();
        let svg = c.to_svg();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("Tom &amp; Jerry&#39;s &quot;chart&quot;"));
        assert!(svg.contains("<title>M&amp;M · &lt;b&gt;A&lt;/b&gt;: 1</title>"));
        assert!(svg.contains(r#"aria-labelledby="x&quot; onload=&quot;y-title"#));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn the_svg_is_an_accessible_image() {
        let svg = chart(Arrangement::Stacked, Scale::Count, vec![vec![Some(1.0), Some(2.0)]]).to_svg();
        assert!(svg.starts_with(r#"<svg class="chart" viewBox="0 0 720 300" role="img" aria-labelledby="c-title c-desc"><title id="c-title">T</title><desc id="c-desc">D</desc>"#), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 2);
        assert_eq!(svg.matches("<rect class=\"swatch ").count(), 2, "a legend entry per series");
    }

    #[test]
    fn long_ranges_label_every_few_months_and_each_year_once() {
        let mut c = chart(Arrangement::Stacked, Scale::Count, vec![vec![Some(1.0), None]; 36]);
        for (i, cat) in c.categories.iter_mut().enumerate() {
            cat.group = format!("{}", 2024 + i / 12);
        }
        let d = c.draw();
        assert_eq!(d.labels.len(), 18);
        let groups: Vec<_> = d.labels.iter().filter_map(|l| l.group.clone()).collect();
        assert_eq!(groups, ["2024", "2025", "2026"]);
    }
}
