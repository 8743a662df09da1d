//! SVG charts of analytics answers, drawn on the gateway with plotters, so the
//! dashboard needs no chart library and the CLI can write the same file.
//!
//! Drawing happens in two steps that are tested separately: [`prepare`] turns a
//! [`Report`] into the numbers a chart shows ([`ChartData`]), and [`render`] draws
//! them. Text is emitted as SVG `<text>` (escaped by plotters' SVG backend), so no
//! font files are needed; the browser draws the letters.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use switchyard_store::analytics::{Metrics, Report};

/// The charts there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// Cost over time, stacked by group.
    Spend,
    /// Requests over time, stacked by group.
    Requests,
    /// Tokens over time, stacked by token bucket.
    Tokens,
    /// Latency (or time to first token) percentiles per group.
    Latency,
    /// Cost per group, as bars.
    Cost,
    /// What cache reads saved over time, stacked by group.
    Savings,
}

impl ChartKind {
    pub const NAMES: &'static str = "spend, requests, tokens, latency, cost, savings";

    pub fn parse(text: &str) -> Option<ChartKind> {
        Some(match text.trim_end_matches(".svg") {
            "spend" => ChartKind::Spend,
            "requests" => ChartKind::Requests,
            "tokens" => ChartKind::Tokens,
            "latency" => ChartKind::Latency,
            "cost" => ChartKind::Cost,
            "savings" => ChartKind::Savings,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn parse(text: &str) -> Option<Theme> {
        match text {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }
}

/// For latency charts: which timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    Latency,
    Ttft,
}

#[derive(Clone, Debug)]
pub struct ChartOptions {
    pub width: u32,
    pub height: u32,
    pub theme: Theme,
    /// Replaces the default title.
    pub title: Option<String>,
    pub timing: Timing,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            width: 800,
            height: 400,
            theme: Theme::Light,
            title: None,
            timing: Timing::Latency,
        }
    }
}

/// Sizes outside this range are refused: too small to read, or too large to send.
pub const MIN_SIZE: u32 = 200;
pub const MAX_SIZE: u32 = 4000;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("chart size {0}x{1} is outside {MIN_SIZE}..={MAX_SIZE} pixels")]
    Size(u32, u32),
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

/// How the values are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One column per category, series stacked on each other.
    Stacked,
    /// One column per series side by side in each category.
    Grouped,
}

/// One named row of values, one per category.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// The numbers a chart draws.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    pub title: String,
    pub y_label: String,
    /// Labels along the x axis (time buckets or groups).
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub layout: Layout,
    /// Whether the range had any requests (a chart of zeros still has axes).
    pub has_requests: bool,
    /// Categories are time buckets (labels may be skipped) rather than names (labels
    /// are staggered on two rows before any is skipped).
    pub time_axis: bool,
}

impl ChartData {
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty() || !self.has_requests
    }

    /// The tallest column: the sum of a category for stacked charts.
    fn max_value(&self) -> f64 {
        let per_category = |i: usize| -> f64 {
            let values = self
                .series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0));
            match self.layout {
                Layout::Stacked => values.map(|v| v.max(0.0)).sum(),
                Layout::Grouped => values.fold(0.0, f64::max),
            }
        };
        (0..self.categories.len())
            .map(per_category)
            .fold(0.0, f64::max)
    }
}

/// A series over time: one value per bucket of the report, for each group (or one
/// series when ungrouped).
fn over_time(
    report: &Report,
    name: &str,
    value: impl Fn(&Metrics) -> f64,
) -> (Vec<String>, Vec<Series>) {
    let (categories, starts): (Vec<String>, Vec<Option<i64>>) = if report.buckets.is_empty() {
        (vec!["total".to_string()], vec![None])
    } else {
        report
            .buckets
            .iter()
            .map(|b| (b.label.clone(), Some(b.start_ms)))
            .unzip()
    };
    let index_of = |start: Option<i64>| starts.iter().position(|s| *s == start);
    let series = if report.group_by.is_some() {
        report
            .groups
            .iter()
            .map(|g| {
                let mut values = vec![0.0; categories.len()];
                for row in report.rows.iter().filter(|r| r.group == g.group) {
                    if let Some(i) = index_of(row.bucket_start_ms) {
                        values[i] += value(&row.metrics);
                    }
                }
                Series {
                    name: g.group.clone(),
                    values,
                }
            })
            .collect()
    } else {
        let mut values = vec![0.0; categories.len()];
        for row in &report.rows {
            if let Some(i) = index_of(row.bucket_start_ms) {
                values[i] += value(&row.metrics);
            }
        }
        vec![Series {
            name: name.to_string(),
            values,
        }]
    };
    (categories, series)
}

/// Reads one figure of a row.
type Pick = fn(&Metrics) -> f64;
/// Reads p50, p90, p95 and p99 of a timing.
type PickPercentiles = fn(&Metrics) -> [Option<f64>; 4];

/// The numbers `kind` draws for `report`.
pub fn prepare(kind: ChartKind, report: &Report, options: &ChartOptions) -> ChartData {
    let by = report
        .group_by
        .as_deref()
        .map(|g| format!(" by {g}"))
        .unwrap_or_default();
    let stacked =
        |title: String, y: &str, (categories, series): (Vec<String>, Vec<Series>)| ChartData {
            title,
            y_label: y.to_string(),
            categories,
            series,
            layout: Layout::Stacked,
            has_requests: true,
            time_axis: false,
        };
    let groups: Vec<(String, &Metrics)> = if report.group_by.is_some() {
        report
            .groups
            .iter()
            .map(|g| (g.group.clone(), &g.metrics))
            .collect()
    } else {
        vec![("all requests".to_string(), &report.total.metrics)]
    };
    let mut data = match kind {
        ChartKind::Spend => stacked(
            format!("Spend{by}"),
            "USD",
            over_time(report, "cost", |m| m.cost_usd),
        ),
        ChartKind::Requests => stacked(
            format!("Requests{by}"),
            "requests",
            over_time(report, "requests", |m| m.requests as f64),
        ),
        ChartKind::Savings => stacked(
            format!("Saved by cache reads{by}"),
            "USD",
            over_time(report, "saved", |m| m.cache_savings_usd),
        ),
        ChartKind::Tokens => {
            // Token buckets are disjoint (reasoning is the part of output it is), so
            // the stack's height is every token.
            let buckets: [(&str, Pick); 5] = [
                ("input (uncached)", |m| m.input_tokens as f64),
                ("cache read", |m| m.cache_read_tokens as f64),
                ("cache write", |m| m.cache_write_tokens as f64),
                ("output", |m| {
                    m.output_tokens.saturating_sub(m.reasoning_tokens) as f64
                }),
                ("reasoning", |m| m.reasoning_tokens as f64),
            ];
            let mut categories = Vec::new();
            let series = buckets
                .iter()
                .map(|(name, value)| {
                    let mut flat = report.clone();
                    flat.group_by = None;
                    let (c, mut s) = over_time(&flat, name, value);
                    categories = c;
                    s.remove(0)
                })
                .collect();
            stacked("Tokens".to_string(), "tokens", (categories, series))
        }
        ChartKind::Cost => ChartData {
            title: format!("Cost{by}"),
            y_label: "USD".into(),
            categories: groups.iter().map(|(g, _)| g.clone()).collect(),
            series: vec![Series {
                name: "cost".into(),
                values: groups.iter().map(|(_, m)| m.cost_usd).collect(),
            }],
            layout: Layout::Stacked,
            has_requests: true,
            time_axis: false,
        },
        ChartKind::Latency => {
            let (what, pick): (&str, PickPercentiles) = match options.timing {
                Timing::Latency => ("Latency", |m| {
                    [
                        m.latency_p50_ms,
                        m.latency_p90_ms,
                        m.latency_p95_ms,
                        m.latency_p99_ms,
                    ]
                }),
                Timing::Ttft => ("Time to first token", |m| {
                    [m.ttft_p50_ms, m.ttft_p90_ms, m.ttft_p95_ms, m.ttft_p99_ms]
                }),
            };
            ChartData {
                title: format!("{what} percentiles{by}"),
                y_label: "ms".into(),
                categories: groups.iter().map(|(g, _)| g.clone()).collect(),
                series: ["p50", "p90", "p95", "p99"]
                    .iter()
                    .enumerate()
                    .map(|(i, name)| Series {
                        name: name.to_string(),
                        values: groups
                            .iter()
                            .map(|(_, m)| pick(m)[i].unwrap_or(0.0))
                            .collect(),
                    })
                    .collect(),
                layout: Layout::Grouped,
                has_requests: true,
                time_axis: false,
            }
        }
    };
    data.has_requests = report.total.metrics.requests > 0;
    data.time_axis =
        !report.buckets.is_empty() && !matches!(kind, ChartKind::Cost | ChartKind::Latency);
    if let Some(title) = &options.title {
        data.title = title.clone();
    }
    if data.categories.len() == 1 && data.categories[0] == "total" && kind != ChartKind::Cost {
        data.categories[0] = "whole range".into();
    }
    data
}

/// Colours that read on white and on near-black alike (mid lightness, saturated).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x8c, 0x8c, 0xd9),
];

/// The colour of series `i`.
pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

struct Colors {
    background: RGBColor,
    text: RGBColor,
    grid: RGBColor,
}

fn colors(theme: Theme) -> Colors {
    match theme {
        Theme::Light => Colors {
            background: RGBColor(0xff, 0xff, 0xff),
            text: RGBColor(0x22, 0x22, 0x22),
            grid: RGBColor(0xdd, 0xdd, 0xdd),
        },
        Theme::Dark => Colors {
            background: RGBColor(0x1e, 0x1e, 0x1e),
            text: RGBColor(0xe8, 0xe8, 0xe8),
            grid: RGBColor(0x44, 0x44, 0x44),
        },
    }
}

fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn draw_error<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError::Draw(format!("{e:?}"))
}

/// Draws `data` as an SVG document.
pub fn render(data: &ChartData, options: &ChartOptions) -> Result<String, ChartError> {
    let (w, h) = (options.width, options.height);
    if !(MIN_SIZE..=MAX_SIZE).contains(&w) || !(MIN_SIZE..=MAX_SIZE).contains(&h) {
        return Err(ChartError::Size(w, h));
    }
    let colors = colors(options.theme);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&colors.background).map_err(draw_error)?;
        let text = |size: u32| ("sans-serif", size).into_font().color(&colors.text);
        if data.is_empty() {
            root.titled(&data.title, text(18)).map_err(draw_error)?;
            root.draw(&Text::new(
                "No requests in this range",
                (w as i32 / 2 - 90, h as i32 / 2),
                text(16),
            ))
            .map_err(draw_error)?;
            root.present().map_err(draw_error)?;
            drop(root);
            return Ok(svg);
        }
        let n = data.categories.len();
        let top = data.max_value() * 1.1;
        let top = if top > 0.0 { top } else { 1.0 };
        // The legend gets its own column on the right, so it never hides a bar.
        let longest_series = data
            .series
            .iter()
            .map(|s| s.name.chars().count().min(28))
            .max()
            .unwrap_or(4) as u32;
        let legend_w = (longest_series * 7 + 40).clamp(80, w / 3);
        let (plot, legend) = root.split_horizontally(w - legend_w);
        // Category labels: about 7 px per character at 12 px. Names that do not fit
        // side by side go on two staggered rows; time labels are thinned instead.
        let longest = data
            .categories
            .iter()
            .map(|c| c.chars().count().min(24))
            .max()
            .unwrap_or(1) as i32;
        let approx_slot = ((w - legend_w) as i32 - 100) / n.max(1) as i32;
        let needed = longest * 7 + 12;
        let stagger = !data.time_axis && needed > approx_slot && needed <= 2 * approx_slot;
        // x is continuous: category i spans [i, i + 1), so grouped bars can share it.
        let mut chart = ChartBuilder::on(&plot)
            .caption(&data.title, text(18))
            .margin(12)
            .x_label_area_size(if stagger { 50 } else { 36 })
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .bold_line_style(colors.grid)
            .light_line_style(colors.background)
            .axis_style(colors.text)
            .label_style(text(12))
            .axis_desc_style(text(13))
            .y_desc(&data.y_label)
            .y_label_formatter(&|v| short_number(*v))
            .draw()
            .map_err(draw_error)?;
        let k = data.series.len().max(1) as f64;
        let mut base = vec![0.0f64; n];
        for (s, series) in data.series.iter().enumerate() {
            let color = series_color(s);
            let bars: Vec<Rectangle<(f64, f64)>> = series
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .map(|(i, &v)| {
                    let x = i as f64;
                    match data.layout {
                        Layout::Stacked => {
                            let rect = Rectangle::new(
                                [(x + 0.1, base[i]), (x + 0.9, base[i] + v)],
                                color.filled(),
                            );
                            base[i] += v;
                            rect
                        }
                        Layout::Grouped => {
                            // Side by side: each series gets an equal share of 80%.
                            let width = 0.8 / k;
                            let left = x + 0.1 + width * s as f64;
                            Rectangle::new([(left, 0.0), (left + width, v)], color.filled())
                        }
                    }
                })
                .collect();
            chart.draw_series(bars).map_err(draw_error)?;
        }
        let slot = (chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0).max(1);
        let rows = if stagger { 2 } else { 1 };
        let step = ((needed / (slot * rows)) + 1).max(1) as usize;
        let label_style = text(12).pos(Pos::new(HPos::Center, VPos::Top));
        for (shown_index, (i, category)) in
            data.categories.iter().enumerate().step_by(step).enumerate()
        {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let shown = if category.chars().count() > 24 {
                format!("{}…", category.chars().take(23).collect::<String>())
            } else {
                category.clone()
            };
            let row_offset = if stagger && shown_index % 2 == 1 {
                16
            } else {
                0
            };
            plot.draw(&Text::new(
                shown,
                (x, y + 6 + row_offset),
                label_style.clone(),
            ))
            .map_err(draw_error)?;
        }
        // The legend: a swatch and the name of each series, as many as fit.
        let fits = ((h as i32 - 60) / 18).max(1) as usize;
        for (s, series) in data.series.iter().enumerate().take(fits) {
            let y = 44 + s as i32 * 18;
            legend
                .draw(&Rectangle::new(
                    [(4, y), (14, y + 10)],
                    series_color(s).filled(),
                ))
                .map_err(draw_error)?;
            let name = if series.name.chars().count() > 28 {
                format!("{}…", series.name.chars().take(27).collect::<String>())
            } else {
                series.name.clone()
            };
            legend
                .draw(&Text::new(name, (20, y - 1), text(12)))
                .map_err(draw_error)?;
        }
        if data.series.len() > fits {
            let more = format!("and {} more", data.series.len() - fits);
            legend
                .draw(&Text::new(more, (20, 44 + fits as i32 * 18), text(12)))
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Prepares and draws `kind` for `report`.
pub fn chart(
    kind: ChartKind,
    report: &Report,
    options: &ChartOptions,
) -> Result<String, ChartError> {
    render(&prepare(kind, report, options), options)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use switchyard_store::analytics::{AnalyticsQuery, Bucket, Dimension, TimeRange};
    use switchyard_store::{LogWriter, RequestRecord, Store, TokenCounts, WriterOptions};

    const HOUR: i64 = 3_600_000;
    const BASE: i64 = 1_772_323_200_000; // 2026-03-01T00:00:00Z

    /// A store with `per_hour` requests an hour for `hours` hours; model names include
    /// characters that must be escaped in SVG.
    fn store_with(hours: i64, per_hour: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = LogWriter::start_with(
            &store,
            1024,
            WriterOptions {
                zone: jiff::tz::TimeZone::UTC,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        let tx = writer.sender();
        for h in 0..hours {
            for i in 0..per_hour {
                let model = ["a/<script>&\"x\"", "b/model", "c/model"][(i % 3) as usize];
                tx.send_wait(RequestRecord {
                    ts_ms: BASE + h * HOUR + i,
                    requested_model: Some(model.into()),
                    status: 200,
                    cost_usd: Some(0.01 * (1 + i % 3) as f64 * (1 + h % 5) as f64),
                    cache_savings_usd: Some(0.001 * (h % 7) as f64),
                    tokens: TokenCounts {
                        input: 100,
                        cache_read: 50 * (h % 4) as u64,
                        output: 40,
                        reasoning: 10,
                        ..Default::default()
                    },
                    latency_ms: 100.0 * (1 + i % 3) as f64 + i as f64,
                    ttft_ms: Some(20.0),
                    stream: true,
                    ..Default::default()
                });
            }
        }
        writer.shutdown();
        (dir, store)
    }

    fn report(store: &Store, hours: i64, bucket: Bucket, group: Option<Dimension>) -> Report {
        store
            .analytics(&AnalyticsQuery {
                range: TimeRange {
                    from_ms: BASE,
                    to_ms: BASE + hours.max(1) * HOUR,
                },
                bucket,
                group_by: group,
                filters: Vec::new(),
                top: None,
                zone: jiff::tz::TimeZone::UTC,
                force_raw: false,
            })
            .unwrap()
    }

    /// (x, y, width, height) of every bar filled with `color` (not the legend's
    /// 10-pixel swatches).
    fn rects(svg: &str, color: RGBColor) -> Vec<(f64, f64, f64, f64)> {
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
        svg.split("<rect")
            .skip(1)
            .filter(|r| r.contains(&fill))
            .map(|r| {
                let attr = |name: &str| -> f64 {
                    let start = r.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    r[start..].split('"').next().unwrap().parse().unwrap()
                };
                (attr("x"), attr("y"), attr("width"), attr("height"))
            })
            .filter(|r| r.2 > 12.0)
            .collect()
    }

    fn all_kinds() -> [ChartKind; 6] {
        [
            ChartKind::Spend,
            ChartKind::Requests,
            ChartKind::Tokens,
            ChartKind::Latency,
            ChartKind::Cost,
            ChartKind::Savings,
        ]
    }

    #[test]
    fn every_chart_renders_for_empty_single_and_large_data() {
        let (_d0, empty) = store_with(0, 0);
        let (_d1, single) = store_with(1, 1);
        let (_d2, large) = store_with(24 * 30, 3);
        for (store, hours) in [(&empty, 24), (&single, 1), (&large, 24 * 30)] {
            for bucket in [Bucket::None, Bucket::Hour, Bucket::Day] {
                for group in [None, Some(Dimension::Model)] {
                    let r = report(store, hours, bucket, group.clone());
                    for kind in all_kinds() {
                        for theme in [Theme::Light, Theme::Dark] {
                            let options = ChartOptions {
                                theme,
                                ..ChartOptions::default()
                            };
                            let svg = chart(kind, &r, &options).unwrap();
                            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
                            assert!(!svg.contains("<script>"), "text is escaped");
                            if r.total.metrics.requests == 0 {
                                assert!(svg.contains("No requests in this range"));
                            }
                        }
                    }
                }
            }
        }
        let r = report(&single, 1, Bucket::None, Some(Dimension::Model));
        let svg = chart(ChartKind::Cost, &r, &ChartOptions::default()).unwrap();
        assert!(svg.contains("a/&lt;script&gt;&amp;&quot;x&quot;"), "{svg}");
    }

    #[test]
    fn prepared_numbers_are_the_querys() {
        let (_d, store) = store_with(48, 6);
        let r = report(&store, 48, Bucket::Day, Some(Dimension::Model));
        let spend = prepare(ChartKind::Spend, &r, &ChartOptions::default());
        assert_eq!(spend.categories, ["2026-03-01", "2026-03-02"]);
        assert_eq!(spend.series.len(), 3);
        for series in &spend.series {
            for (bucket, value) in spend.categories.iter().zip(&series.values) {
                let row = r
                    .rows
                    .iter()
                    .find(|x| x.group == series.name && x.bucket.as_deref() == Some(bucket))
                    .unwrap();
                assert_eq!(*value, row.metrics.cost_usd);
            }
        }
        let tokens = prepare(ChartKind::Tokens, &r, &ChartOptions::default());
        let stacked: f64 = tokens
            .series
            .iter()
            .map(|s| s.values.iter().sum::<f64>())
            .sum();
        let m = &r.total.metrics;
        let all = m.input_tokens + m.cache_read_tokens + m.cache_write_tokens + m.output_tokens;
        assert_eq!(
            stacked, all as f64,
            "disjoint token buckets add up to every token"
        );

        let flat = report(&store, 48, Bucket::None, Some(Dimension::Model));
        let latency = prepare(ChartKind::Latency, &flat, &ChartOptions::default());
        assert_eq!(latency.layout, Layout::Grouped);
        for (i, group) in flat.groups.iter().enumerate() {
            assert_eq!(latency.categories[i], group.group);
            assert_eq!(
                Some(latency.series[3].values[i]),
                group.metrics.latency_p99_ms
            );
        }
        let ttft = prepare(
            ChartKind::Latency,
            &flat,
            &ChartOptions {
                timing: Timing::Ttft,
                ..ChartOptions::default()
            },
        );
        assert_eq!(ttft.series[0].values[0], 20.0);
        let cost = prepare(ChartKind::Cost, &flat, &ChartOptions::default());
        let costs: Vec<f64> = flat.groups.iter().map(|g| g.metrics.cost_usd).collect();
        assert_eq!(cost.series[0].values, costs);
    }

    #[test]
    fn drawn_bars_are_proportional_to_the_numbers() {
        let (_d, store) = store_with(72, 6);
        let r = report(&store, 72, Bucket::Day, Some(Dimension::Model));
        let options = ChartOptions::default();
        let data = prepare(ChartKind::Spend, &r, &options);
        let svg = render(&data, &options).unwrap();
        // The stacked total of each day, drawn, against the query's total per day.
        let mut drawn = vec![0.0; data.categories.len()];
        let mut lefts: Vec<f64> = Vec::new();
        for (s, _) in data.series.iter().enumerate() {
            for (x, _, _, h) in rects(&svg, series_color(s)) {
                assert!(h >= 0.0);
                if !lefts.iter().any(|l| (l - x).abs() < 2.0) {
                    lefts.push(x);
                }
                lefts.sort_by(f64::total_cmp);
            }
        }
        assert_eq!(lefts.len(), 3, "one column per day");
        for (s, _) in data.series.iter().enumerate() {
            for (x, _, _, h) in rects(&svg, series_color(s)) {
                let day = lefts.iter().position(|l| (l - x).abs() < 2.0).unwrap();
                drawn[day] += h;
            }
        }
        let totals: Vec<f64> = (0..3)
            .map(|i| data.series.iter().map(|s| s.values[i]).sum())
            .collect();
        let scale = drawn[0] / totals[0];
        for (d, t) in drawn.iter().zip(&totals) {
            // Each rectangle is rounded to whole pixels: allow a pixel per series.
            assert!((d - t * scale).abs() <= 3.0, "{drawn:?} vs {totals:?}");
        }
        // Grouped bars: p99 >= p50 in every group, drawn side by side.
        let flat = report(&store, 72, Bucket::None, Some(Dimension::Model));
        let latency = prepare(ChartKind::Latency, &flat, &options);
        let svg = render(&latency, &options).unwrap();
        let p50 = rects(&svg, series_color(0));
        let p99 = rects(&svg, series_color(3));
        assert_eq!(p50.len(), 3);
        assert_eq!(p99.len(), 3);
        for (a, b) in p50.iter().zip(&p99) {
            assert!(b.0 > a.0, "side by side");
            assert!(b.3 >= a.3 - 1.0, "p99 at least as tall as p50");
        }
    }

    #[test]
    fn sizes_and_names_are_checked() {
        let (_d, store) = store_with(1, 1);
        let r = report(&store, 1, Bucket::None, None);
        let tiny = ChartOptions {
            width: 10,
            ..ChartOptions::default()
        };
        assert!(matches!(
            chart(ChartKind::Spend, &r, &tiny),
            Err(ChartError::Size(10, 400))
        ));
        let svg = chart(
            ChartKind::Spend,
            &r,
            &ChartOptions {
                width: 1200,
                height: 300,
                title: Some("Mine".into()),
                ..ChartOptions::default()
            },
        )
        .unwrap();
        assert!(svg.contains("width=\"1200\"") && svg.contains(">Mine<") || svg.contains("Mine\n"));
        assert_eq!(ChartKind::parse("spend.svg"), Some(ChartKind::Spend));
        assert_eq!(ChartKind::parse("pie"), None);
        assert_eq!(Theme::parse("dark"), Some(Theme::Dark));
    }
}
