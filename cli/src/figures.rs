//! The study figures of a run directory (one seed or many): the averaged information plane
//! with its spread across seeds, I(X;T) and I(T;Y) per layer against epoch, loss and
//! accuracy, and the weight norms, as publication-clean SVG with the settings in a caption.
//!
//! [`figures`] returns these files, in this order:
//!
//! | file | contents |
//! |---|---|
//! | `plane.svg`, `plane-<estimator>.svg` | the information plane of the first estimator, then of each further one: for every measured epoch a line through the layers' mean (I(X;T), I(T;Y)), coloured by epoch (viridis on `ln(1 + epoch)`, colour bar in real epochs); the layers are labelled `L1`, `L2`, … at the last epoch |
//! | `plane-overlay.svg` | only with [`FigureInput::overlay`] and two or more estimators: every estimator on one plane, one colour and marker each; a thin line follows each layer through training and a thick one joins the layers at the last epoch |
//! | `layers-<estimator>.svg` | one per estimator: I(X;T) (left) and I(T;Y) (right) against epoch, one line per layer |
//! | `pool-<estimator>_poolK.svg` | with as-if-random pooling, one per estimator: as `layers-…`, each layer's single-snapshot line (solid) beside its K-snapshots-pooled line (dashed) |
//! | `training.svg` | loss (left, nats) and accuracy (right) against epoch, train solid and test dashed (test only where a run held data out) |
//! | `weights.svg` | the Frobenius norm of each layer's weights against epoch, and the gradient signal-to-noise ratio on a log axis when any was measured; a layer whose units are all dead at its last epoch says so in the legend |
//!
//! Every value drawn is the mean over runs. With more than one run the spread is ±1 sample
//! standard deviation: a translucent band around each line against epoch, and on the
//! information planes error bars in both directions at [`BAR_EPOCHS`] epochs spread evenly on
//! the colour scale (bars at every epoch would merge into a smear). Epoch axes are
//! logarithmic in epoch + 1, so epoch 0 sits at 1; the axis label says so.
//!
//! Files are named after the estimator with every character other than ASCII letters, digits,
//! `-`, `_` and `.` replaced by `_`. Non-finite values are skipped; no rows at all gives no
//! files. The same input gives the same bytes: everything is ordered by epoch, layer and run,
//! and the one transcendental used, `ln` for the log axes, goes through
//! [`infoplane_core::math::ln_f64`] (STYLE R13).

use std::collections::BTreeMap;
use std::ops::Range;

use infoplane_core::experiment::{Stats, Summary};
use infoplane_core::math::ln_f64;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::{
    BAR_BLOCK, BAR_GAP, FONT, MARKER_RADIUS, PlotError, axis_range, draw_colour_bar, epoch_colour,
    epoch_fraction, err, tick_label,
};
use crate::svg::Svg;

/// One row of `layers.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerRow {
    /// The run's seed.
    pub run: u64,
    /// The epoch.
    pub epoch: u32,
    /// Layer, from 1.
    pub layer: u32,
    /// The layer's width.
    pub width: u32,
    /// Frobenius norm of the weights into the layer.
    pub weight_norm: f64,
    /// Units constant over every input.
    pub dead_units: u32,
    /// Gradient signal-to-noise ratio over the epoch's mini-batches, when measured.
    pub grad_snr: Option<f64>,
}

/// What the figures are drawn from.
#[derive(Debug, Clone)]
pub struct FigureInput<'a> {
    /// The plane and metrics of every run, summarised.
    pub summary: &'a Summary,
    /// Every run's `layers.csv` rows.
    pub layers: &'a [LayerRow],
    /// The settings that matter (preset, activation, estimators and their parameters,
    /// seeds), one line each.
    pub caption: Vec<String>,
    /// The run's last epoch (the colour scale's end).
    pub last_epoch: u32,
    /// Also draw every estimator on one plane with a legend.
    pub overlay: bool,
}

/// Number of epochs on an information plane that get ±1 sd error bars when there are several
/// runs: the measured epochs nearest to evenly spaced points of the `ln(1 + epoch)` colour
/// scale, so they read as distinct colours on the bar.
pub const BAR_EPOCHS: usize = 7;

/// Width of a plane figure in pixels.
const PLANE_WIDTH: u32 = 1000;
/// Height of a plane figure's plotting block (axes, ticks and colour bar) in pixels.
const PLANE_BODY: u32 = 640;
/// Width of a two-panel figure in pixels.
const PANELS_WIDTH: u32 = 1280;
/// Width of a one-panel figure against epoch in pixels.
const PANEL_WIDTH: u32 = 820;
/// Height of the plotting block of a figure against epoch in pixels.
const PANELS_BODY: u32 = 500;

// Font sizes as plotters takes them; its SVG backend writes `size / 1.24` as the CSS pixel
// size, which is given after each.
/// Figure title (19.4 px).
const TITLE_SIZE: f64 = 24.0;
/// Axis titles and panel titles (16.1 px).
const DESC_SIZE: f64 = 20.0;
/// Tick labels, legends, layer labels and the line under the title (14.5 px).
const TEXT_SIZE: f64 = 18.0;
/// The settings caption (14.1 px).
const CAPTION_SIZE: f64 = 17.5;
/// CSS pixels per unit of plotters' font size (see above).
const PX_PER_SIZE: f64 = 1.0 / 1.24;
/// A generous average advance of a sans-serif glyph, in ems, for laying text out: the SVG
/// backend cannot measure text, so widths are estimated and erred on the wide side (common
/// sans-serif faces average 0.5 to 0.55 em over mixed text).
const GLYPH_EM: f64 = 0.58;
/// Height of a line of caption text in pixels.
const CAPTION_LINE: i32 = 20;
/// Height of one legend entry in pixels.
const LEGEND_LINE: i32 = 26;
/// Length of a legend's line sample in pixels.
const SWATCH: i32 = 30;
/// Opacity of a ±1 sd band.
const BAND_ALPHA: f64 = 0.2;
/// Factor a log axis extends beyond its smallest and largest values.
const LOG_HEADROOM: f64 = 1.25;
/// Space around a figure's contents in pixels.
const PAD: i32 = 16;

/// Text colour of captions and notes.
const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Major grid lines.
const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
/// Minor grid lines (the 2…9 of a log axis).
const GRID_LIGHT: RGBColor = RGBColor(0xF0, 0xF0, 0xF0);
/// Axes and tick marks.
const AXIS: RGBColor = RGBColor(0x30, 0x30, 0x30);

/// One colour per layer: matplotlib's `tab10` (Vega's category10), repeated past ten layers.
const LAYER_COLOURS: [RGBColor; 10] = [
    RGBColor(0x1F, 0x77, 0xB4),
    RGBColor(0xFF, 0x7F, 0x0E),
    RGBColor(0x2C, 0xA0, 0x2C),
    RGBColor(0xD6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xBD),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0xE3, 0x77, 0xC2),
    RGBColor(0x7F, 0x7F, 0x7F),
    RGBColor(0xBC, 0xBD, 0x22),
    RGBColor(0x17, 0xBE, 0xCF),
];

/// One colour per estimator on the overlay, and for train/test: Okabe & Ito's colour-blind
/// safe palette (blue, vermillion, bluish green, reddish purple, orange, sky blue, black).
const SERIES_COLOURS: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

/// The marker of each estimator on the overlay, in order, repeated.
const SHAPES: [Shape; 5] = [
    Shape::Circle,
    Shape::Square,
    Shape::Triangle,
    Shape::Diamond,
    Shape::Cross,
];

type Area<'a> = DrawingArea<Svg<'a>, Shift>;

/// Every figure: (file name, SVG text), in the order of the table in the module docs.
/// No rows at all gives an empty list; a figure without data (no metrics rows, no layer
/// rows, an estimator with no finite value) is left out.
///
/// # Errors
/// As the SVG backend, or [`PlotError`] if finite values are too large for a finite axis.
pub fn figures(input: &FigureInput<'_>) -> Result<Vec<(String, String)>, PlotError> {
    let mut out = Vec::new();
    let planes = planes(input.summary);
    let bar_max = planes
        .iter()
        .filter_map(|(_, p)| p.keys().next_back().copied())
        .fold(input.last_epoch, u32::max);

    for (k, (name, plane)) in planes.iter().enumerate() {
        if plane.is_empty() {
            continue;
        }
        let file = if k == 0 {
            "plane.svg".to_owned()
        } else {
            format!("plane-{}.svg", file_stem(name))
        };
        out.push((file, plane_figure(name, plane, bar_max, &input.caption)?));
    }
    let drawn: Vec<&(String, Plane)> = planes.iter().filter(|(_, p)| !p.is_empty()).collect();
    if input.overlay && drawn.len() >= 2 {
        out.push((
            "plane-overlay.svg".to_owned(),
            overlay_figure(&drawn, &input.caption)?,
        ));
    }
    for (name, plane) in &drawn {
        out.push((
            format!("layers-{}.svg", file_stem(name)),
            layers_figure(name, plane, input.last_epoch, &input.caption)?,
        ));
    }
    // As-if-random pooling: each estimator beside its pooled self.
    for (name, pooled) in &drawn {
        let Some((base, k)) = pooled_name(name) else {
            continue;
        };
        if let Some((_, single)) = drawn.iter().find(|(n, _)| n == base) {
            out.push((
                format!("pool-{}.svg", file_stem(name)),
                pool_figure(base, k, single, pooled, input.last_epoch, &input.caption)?,
            ));
        }
    }
    if let Some(svg) = training_figure(input.summary, input.last_epoch, &input.caption)? {
        out.push(("training.svg".to_owned(), svg));
    }
    if let Some(svg) = weights_figure(input.layers, input.last_epoch, &input.caption)? {
        out.push(("weights.svg".to_owned(), svg));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Data

/// One estimator's plane: epoch → layer → (I(X;T), I(T;Y)) over runs, finite means only.
type Plane = BTreeMap<u32, BTreeMap<u32, (Stats, Stats)>>;

/// Every estimator's plane, in the summary's estimator order (empty when it has no finite
/// value).
fn planes(summary: &Summary) -> Vec<(String, Plane)> {
    let mut out: Vec<(String, Plane)> = summary
        .estimators()
        .iter()
        .map(|n| (n.clone(), Plane::new()))
        .collect();
    for r in summary.plane_rows() {
        if !(r.i_xt.mean.is_finite() && r.i_ty.mean.is_finite()) {
            continue;
        }
        if let Some((_, plane)) = out.iter_mut().find(|(n, _)| n == r.estimator) {
            plane
                .entry(r.epoch)
                .or_default()
                .insert(r.layer, (r.i_xt, r.i_ty));
        }
    }
    out
}

/// The standard deviation when it is defined and finite.
fn spread(s: &Stats) -> Option<f64> {
    s.sd.filter(|v| v.is_finite())
}

/// A file-name-safe form of an estimator's name.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() || stem.chars().all(|c| c == '.') {
        "estimator".to_owned()
    } else {
        stem
    }
}

/// "mean of N runs", or "1 run".
fn runs_text(runs: usize) -> String {
    if runs == 1 {
        "1 run".to_owned()
    } else {
        format!("mean of {runs} runs")
    }
}

/// One point of a line against epoch: `x` = epoch + 1, the mean, and its spread.
#[derive(Debug, Clone, Copy)]
struct Pt {
    x: f64,
    y: f64,
    sd: Option<f64>,
}

impl Pt {
    /// The point of `s` at `epoch`, if its mean is finite.
    fn of(epoch: u32, s: &Stats) -> Option<Self> {
        s.mean.is_finite().then(|| Self {
            x: f64::from(epoch) + 1.0,
            y: s.mean,
            sd: spread(s),
        })
    }
}

/// A line against epoch with its legend text.
#[derive(Debug, Clone)]
struct Trace {
    /// Layer number or series index: the legend's order.
    order: u32,
    label: String,
    colour: RGBColor,
    dashed: bool,
    points: Vec<Pt>,
}

/// Whether any point of any trace has a spread.
fn any_spread(traces: &[Trace]) -> bool {
    traces
        .iter()
        .flat_map(|t| &t.points)
        .any(|p| p.sd.is_some())
}

/// The colour of layer `layer` (from 1).
fn layer_colour(layer: u32) -> RGBColor {
    let k = usize::try_from(layer.saturating_sub(1)).unwrap_or(0) % LAYER_COLOURS.len();
    LAYER_COLOURS.get(k).copied().unwrap_or(BLACK)
}

/// The `k`-th series colour, repeated.
fn series_colour(k: usize) -> RGBColor {
    SERIES_COLOURS
        .get(k % SERIES_COLOURS.len())
        .copied()
        .unwrap_or(BLACK)
}

/// The `k`-th marker shape, repeated.
fn series_shape(k: usize) -> Shape {
    SHAPES
        .get(k % SHAPES.len())
        .copied()
        .unwrap_or(Shape::Circle)
}

/// Largest number of runs behind any value.
fn max_runs<'a>(stats: impl Iterator<Item = &'a Stats>) -> usize {
    stats.map(|s| s.runs).max().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Page layout

/// Pixel measure rounded to the nearest `i32` (saturating; NaN gives 0, as `as` defines).
#[allow(clippy::cast_possible_truncation)] // saturating by definition of `as`; pixels are small
fn round_px(v: f64) -> i32 {
    v.round() as i32
}

/// A `u32` pixel size as `i32` (saturating).
fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// An `i32` pixel size as `u32` (negative gives 0).
fn to_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// Estimated width in pixels of `text` at plotters font size `size`.
fn text_width(text: &str, size: f64) -> i32 {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    round_px(f64::from(chars) * GLYPH_EM * size * PX_PER_SIZE)
}

/// `line` broken at spaces into lines at most `max_px` wide at font size `size`; a word
/// longer than a line is cut. A lone separator ("·", ";", "|") stays with the word before
/// it, so no line starts with one.
fn wrap(line: &str, max_px: i32, size: f64) -> Vec<String> {
    let fits = |s: &str| text_width(s, size) <= max_px;
    let mut words: Vec<String> = Vec::new();
    for w in line.split_whitespace() {
        match words.last_mut() {
            Some(last) if matches!(w, "·" | ";" | "|" | "–" | "—") => {
                last.push(' ');
                last.push_str(w);
            }
            _ => words.push(w.to_owned()),
        }
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for word in &words {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if fits(&candidate) {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        // A word wider than the line is cut wherever it must be.
        for c in word.chars() {
            current.push(c);
            if !fits(&current) {
                current.pop();
                out.push(std::mem::take(&mut current));
                current.push(c);
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The blocks of a figure, top to bottom: title (and a note under it), body, caption.
#[derive(Debug)]
struct Page {
    width: u32,
    body_top: u32,
    body_height: u32,
    caption: Vec<String>,
    height: u32,
}

impl Page {
    /// Lays out a `width`-wide figure with a `body_height` plotting block; the caption lines
    /// are wrapped to the width.
    fn new(width: u32, body_height: u32, note: bool, caption: &[String]) -> Self {
        let max_px = to_i32(width).saturating_sub(2 * PAD);
        let caption: Vec<String> = caption
            .iter()
            .flat_map(|l| wrap(l, max_px, CAPTION_SIZE))
            .collect();
        let body_top = if note { 74 } else { 50 };
        let lines = u32::try_from(caption.len()).unwrap_or(u32::MAX);
        let caption_height = if caption.is_empty() {
            8
        } else {
            lines
                .saturating_mul(to_u32(CAPTION_LINE))
                .saturating_add(24)
        };
        Self {
            width,
            body_top,
            body_height,
            height: body_top
                .saturating_add(body_height)
                .saturating_add(caption_height),
            caption,
        }
    }

    /// Starts the SVG: white background, title, note and caption drawn. Returns the whole
    /// picture and the body block.
    fn open<'a>(
        &self,
        svg: &'a mut String,
        title: &str,
        note: &str,
    ) -> Result<(Area<'a>, Area<'a>), PlotError> {
        let root = Svg::with_string(svg, (self.width, self.height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let centre = to_i32(self.width) / 2;
        let top = TextStyle::from((FONT, TITLE_SIZE).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(title.to_owned(), (centre, 14), &top))
            .map_err(err)?;
        if !note.is_empty() {
            let style = TextStyle::from((FONT, TEXT_SIZE).into_font())
                .color(&GREY)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(note.to_owned(), (centre, 46), &style))
                .map_err(err)?;
        }
        let body_bottom = to_i32(self.body_top.saturating_add(self.body_height));
        if !self.caption.is_empty() {
            root.draw(&PathElement::new(
                vec![
                    (PAD, body_bottom + 6),
                    (to_i32(self.width) - PAD, body_bottom + 6),
                ],
                GRID.stroke_width(1),
            ))
            .map_err(err)?;
            let style = TextStyle::from((FONT, CAPTION_SIZE).into_font())
                .color(&GREY)
                .pos(Pos::new(HPos::Left, VPos::Top));
            let mut y = body_bottom + 16;
            for line in &self.caption {
                root.draw(&Text::new(line.clone(), (PAD, y), &style))
                    .map_err(err)?;
                y += CAPTION_LINE;
            }
        }
        let body = root
            .clone()
            .shrink((0, to_i32(self.body_top)), (self.width, self.body_height));
        Ok((root, body))
    }
}

// ---------------------------------------------------------------------------------------------
// A logarithmic axis

/// A logarithmic axis over `lo..hi` (both positive). Pixels follow `ln`, through core's math
/// door; ticks are at 1, 10, 100, … (also 2 and 5 when the range spans less than two
/// decades), minor grid lines at 2…9 of each decade.
#[derive(Debug, Clone)]
struct LogAxis {
    lo: f64,
    hi: f64,
    ln_lo: f64,
    ln_hi: f64,
}

impl LogAxis {
    /// The axis over `lo..hi`; a bad range (non-positive, non-finite or empty) becomes
    /// 1..10 or `lo..10·lo`.
    fn new(lo: f64, hi: f64) -> Self {
        let lo = if lo.is_finite() && lo > 0.0 { lo } else { 1.0 };
        let hi = if hi.is_finite() && hi > lo {
            hi
        } else {
            lo * 10.0
        };
        Self {
            lo,
            hi,
            ln_lo: ln_f64(lo),
            ln_hi: ln_f64(hi),
        }
    }

    /// From the largest power of ten at or below `lo` to the smallest at or above `hi`.
    fn decades(lo: f64, hi: f64) -> Self {
        let powers = powers_of_ten();
        let lo = powers
            .iter()
            .rev()
            .copied()
            .find(|&p| p <= lo)
            .unwrap_or(lo);
        let hi = powers.iter().copied().find(|&p| p >= hi).unwrap_or(hi);
        Self::new(lo, hi)
    }
}

/// 10⁻¹², …, 10¹⁵, each the double nearest the exact power: the positive powers are
/// integers below 2⁵³, so repeated multiplication by 10 is exact, and each negative one is a
/// single correctly rounded division.
fn powers_of_ten() -> Vec<f64> {
    let mut up = vec![1.0_f64];
    let mut p = 1.0_f64;
    for _ in 0..15 {
        p *= 10.0;
        up.push(p);
    }
    let mut out: Vec<f64> = up.iter().skip(1).take(12).rev().map(|&p| 1.0 / p).collect();
    out.extend(up);
    out
}

/// `m · 10^k` for the power `p` = 10^k, computed so it prints shortest (`5 / 100`, not
/// `5 · 0.01`).
fn scaled(m: u32, p: f64) -> f64 {
    if p < 1.0 {
        f64::from(m) / (1.0 / p).round()
    } else {
        f64::from(m) * p
    }
}

/// Ticks of a log axis over `lo..=hi`: the major ones (powers of ten, with 2 and 5 added when
/// there are fewer than three), or with `light` every 1…9 multiple; at most `max` of them
/// (the major ones thinned evenly when there are more).
fn log_ticks(lo: f64, hi: f64, max: usize, light: bool) -> Vec<f64> {
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let powers = powers_of_ten();
    let with = |mantissas: &[u32]| -> Vec<f64> {
        powers
            .iter()
            .flat_map(|&p| mantissas.iter().map(move |&m| scaled(m, p)))
            .filter(inside)
            .collect()
    };
    if light {
        let all = with(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        return if all.len() <= max { all } else { Vec::new() };
    }
    let mut major = with(&[1]);
    if major.len() < 3 {
        major = with(&[1, 2, 5]);
    }
    if major.len() < 2 {
        major = with(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    if max == 0 {
        return Vec::new();
    }
    let step = major.len().div_ceil(max).max(1);
    major.into_iter().step_by(step).collect()
}

/// Tick text of a log axis: "1", "10", "1000", "0.1", "0.05".
fn log_tick_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.ln_hi - self.ln_lo;
        let f = if *v > 0.0 && span > 0.0 {
            (ln_f64(*v) - self.ln_lo) / span
        } else {
            0.0
        };
        // Far outside the axis is drawn just outside it, never at a huge coordinate.
        let f = if f.is_nan() { 0.0 } else { f.clamp(-0.5, 1.5) };
        let (a, b) = (f64::from(limit.0), f64::from(limit.1));
        round_px(a + f * (b - a))
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        log_ticks(
            self.lo,
            self.hi,
            hint.max_num_points(),
            hint.weight().allow_light_points(),
        )
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The epoch axis (epoch + 1) from the first measured epoch to the later of the last
/// measured one and `last_epoch`.
fn epoch_axis(traces: &[Trace], last_epoch: u32) -> LogAxis {
    let xs = traces.iter().flat_map(|t| &t.points).map(|p| p.x);
    let lo = xs.clone().fold(f64::INFINITY, f64::min);
    let hi = xs.fold(f64::from(last_epoch) + 1.0, f64::max);
    LogAxis::new(if lo.is_finite() { lo } else { 1.0 }, hi)
}

/// Linear range over the traces' means and bands (a band is cut at the floor
/// `min(0, smallest mean)`, as [`draw_traces`] draws it). Returns the range and the floor.
fn linear_range(traces: &[Trace]) -> Result<(Range<f64>, f64), PlotError> {
    let floor = traces
        .iter()
        .flat_map(|t| &t.points)
        .map(|p| p.y)
        .fold(0.0_f64, f64::min);
    let values = traces.iter().flat_map(|t| &t.points).flat_map(|p| {
        let sd = p.sd.unwrap_or(0.0);
        [p.y, p.y + sd, (p.y - sd).max(floor)]
    });
    Ok((axis_range(values)?, floor))
}

/// Log range over the traces' positive means and the tops of their bands, widened by
/// [`LOG_HEADROOM`] each way, or to the enclosing decades when that would leave no power of
/// ten inside. Returns the axis and its lower end (the floor bands are cut at).
fn log_range(traces: &[Trace]) -> (LogAxis, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = 0.0_f64;
    for p in traces.iter().flat_map(|t| &t.points).filter(|p| p.y > 0.0) {
        let sd = p.sd.unwrap_or(0.0);
        lo = lo.min(p.y);
        hi = hi.max(p.y + sd);
    }
    let (lo, hi) = (lo / LOG_HEADROOM, hi * LOG_HEADROOM);
    let axis = if powers_of_ten().iter().any(|&p| p >= lo && p <= hi) {
        LogAxis::new(lo, hi)
    } else {
        LogAxis::decades(lo, hi)
    };
    let floor = axis.lo;
    (axis, floor)
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

/// Draws `s` at backend pixel `at` with anchor `pos`.
fn text(
    root: &Area<'_>,
    s: &str,
    at: (i32, i32),
    size: f64,
    colour: &RGBColor,
    pos: Pos,
) -> Result<(), PlotError> {
    let style = TextStyle::from((FONT, size).into_font())
        .color(colour)
        .pos(pos);
    root.draw(&Text::new(s.to_owned(), at, &style)).map_err(err)
}

/// Marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

/// Draws `shape` of half-size `r` centred on backend pixel `(x, y)`, filled, with a white rim
/// so overlapping markers stay apart.
fn draw_marker(
    root: &Area<'_>,
    shape: Shape,
    (x, y): (i32, i32),
    r: i32,
    colour: RGBColor,
) -> Result<(), PlotError> {
    let fill = colour.filled();
    let rim = WHITE.stroke_width(1);
    let polygon = |pts: Vec<(i32, i32)>| -> Result<(), PlotError> {
        root.draw(&Polygon::new(pts.clone(), fill)).map_err(err)?;
        let mut closed = pts;
        if let Some(&first) = closed.first() {
            closed.push(first);
        }
        root.draw(&PathElement::new(closed, rim)).map_err(err)
    };
    match shape {
        Shape::Circle => {
            root.draw(&Circle::new((x, y), to_u32(r), fill))
                .map_err(err)?;
            root.draw(&Circle::new((x, y), to_u32(r), rim)).map_err(err)
        }
        Shape::Square => {
            let s = r * 9 / 10;
            polygon(vec![
                (x - s, y - s),
                (x + s, y - s),
                (x + s, y + s),
                (x - s, y + s),
            ])
        }
        Shape::Triangle => polygon(vec![
            (x, y - r - 1),
            (x + r + 1, y + r * 3 / 4),
            (x - r - 1, y + r * 3 / 4),
        ]),
        Shape::Diamond => polygon(vec![
            (x, y - r - 1),
            (x + r + 1, y),
            (x, y + r + 1),
            (x - r - 1, y),
        ]),
        Shape::Cross => {
            let style = colour.stroke_width(3);
            root.draw(&PathElement::new(
                vec![(x - r, y - r), (x + r, y + r)],
                style,
            ))
            .map_err(err)?;
            root.draw(&PathElement::new(
                vec![(x - r, y + r), (x + r, y - r)],
                style,
            ))
            .map_err(err)
        }
    }
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A line sample, dashed or solid, of the given width, with a band behind it.
    Line {
        dashed: bool,
        width: u32,
        band: bool,
    },
    /// A marker on a line sample of the given width.
    Marker { shape: Shape, width: u32 },
}

/// One legend entry.
#[derive(Debug, Clone)]
struct Entry {
    label: String,
    colour: RGBColor,
    swatch: Swatch,
}

/// Width of a legend with `entries` and an optional heading, in pixels.
fn legend_width(heading: &str, entries: &[Entry]) -> i32 {
    let text = entries
        .iter()
        .map(|e| text_width(&e.label, TEXT_SIZE))
        .max()
        .unwrap_or(0);
    (SWATCH + 10 + text).max(text_width(heading, TEXT_SIZE)) + 2 * PAD
}

/// Draws a legend with its top-left corner at backend pixel `(left, top)`.
fn draw_legend(
    root: &Area<'_>,
    (left, top): (i32, i32),
    heading: &str,
    entries: &[Entry],
) -> Result<(), PlotError> {
    let mut y = top;
    if !heading.is_empty() {
        text(
            root,
            heading,
            (left, y),
            TEXT_SIZE,
            &GREY,
            Pos::new(HPos::Left, VPos::Center),
        )?;
        y += LEGEND_LINE;
    }
    for e in entries {
        let (x0, x1) = (left, left + SWATCH);
        match e.swatch {
            Swatch::Line {
                dashed,
                width,
                band,
            } => {
                if band {
                    root.draw(&Rectangle::new(
                        [(x0, y - 7), (x1, y + 7)],
                        e.colour.mix(BAND_ALPHA).filled(),
                    ))
                    .map_err(err)?;
                }
                let style = e.colour.stroke_width(width);
                if dashed {
                    root.draw(&PathElement::new(vec![(x0, y), (x0 + 10, y)], style))
                        .map_err(err)?;
                    root.draw(&PathElement::new(vec![(x0 + 18, y), (x1, y)], style))
                        .map_err(err)?;
                } else {
                    root.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))
                        .map_err(err)?;
                }
            }
            Swatch::Marker { shape, width } => {
                if width > 0 {
                    root.draw(&PathElement::new(
                        vec![(x0, y), (x1, y)],
                        e.colour.stroke_width(width),
                    ))
                    .map_err(err)?;
                }
                draw_marker(root, shape, ((x0 + x1) / 2, y), 5, e.colour)?;
            }
        }
        text(
            root,
            &e.label,
            (x1 + 10, y),
            TEXT_SIZE,
            &BLACK,
            Pos::new(HPos::Left, VPos::Center),
        )?;
        y += LEGEND_LINE;
    }
    Ok(())
}

/// A chart on `area` with the house mesh: grey grid, 14.5 px ticks, 16 px axis titles.
#[allow(clippy::too_many_arguments)] // a chart's settings, named at every call
fn chart<'a, 'b, X, Y>(
    area: &'a Area<'b>,
    title: &str,
    x: X,
    y: Y,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
    light: (usize, usize),
) -> Result<ChartContext<'a, Svg<'b>, Cartesian2d<X, Y>>, PlotError>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(10)
        .margin_bottom(6)
        .margin_left(8)
        .margin_right(26)
        .x_label_area_size(58)
        .y_label_area_size(72);
    if !title.is_empty() {
        builder.caption(title, (FONT, DESC_SIZE));
    }
    let mut chart = builder.build_cartesian_2d(x, y).map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, TEXT_SIZE))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .x_max_light_lines(light.0)
        .y_max_light_lines(light.1)
        .axis_style(AXIS.stroke_width(1))
        .x_labels(9)
        .y_labels(8)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Draws every trace's ±1 sd band (cut below at `floor`), then every line on top.
fn draw_traces<X, Y>(
    area: &DrawingArea<Svg<'_>, Cartesian2d<X, Y>>,
    traces: &[Trace],
    floor: f64,
) -> Result<(), PlotError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for t in traces {
        // A band per run of consecutive points that have a spread.
        for segment in t.points.split(|p| p.sd.is_none()) {
            if segment.len() < 2 {
                continue;
            }
            let upper = segment.iter().map(|p| (p.x, p.y + p.sd.unwrap_or(0.0)));
            let lower = segment
                .iter()
                .rev()
                .map(|p| (p.x, (p.y - p.sd.unwrap_or(0.0)).max(floor)));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            area.draw(&Polygon::new(outline, t.colour.mix(BAND_ALPHA).filled()))
                .map_err(err)?;
        }
    }
    for t in traces {
        let line = t.points.iter().map(|p| (p.x, p.y));
        let style = t.colour.stroke_width(2);
        if t.points.len() == 1 {
            for c in line {
                area.draw(&Circle::new(c, 3, t.colour.filled()))
                    .map_err(err)?;
            }
        } else if t.dashed {
            for dashes in DashedLineSeries::new(line, 7, 5, style) {
                area.draw(&dashes).map_err(err)?;
            }
        } else {
            area.draw(&PathElement::new(line.collect::<Vec<_>>(), style))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// One panel against epoch: where it goes, its title, its y axis and its lines.
struct Panel<'t> {
    title: &'t str,
    y_desc: &'t str,
    log_y: bool,
    traces: &'t [Trace],
}

/// Draws `panels` side by side in `body`, on one epoch axis, with a legend of `legend` on
/// the right.
fn draw_panels(
    root: &Area<'_>,
    body: &Area<'_>,
    panels: &[Panel<'_>],
    last_epoch: u32,
    legend: (&str, &[Entry]),
) -> Result<(), PlotError> {
    let all: Vec<Trace> = panels
        .iter()
        .flat_map(|p| p.traces.iter().cloned())
        .collect();
    let x = epoch_axis(&all, last_epoch);
    let legend_w = legend_width(legend.0, legend.1);
    let body = body.margin(0, 0, PAD / 2, 0);
    let (plots, _) = body.split_horizontally(plots_width(&body, legend_w));
    let n = u32::try_from(panels.len()).unwrap_or(1).max(1);
    let panel_w = plots.dim_in_pixel().0 / n;
    let mut rest = plots;
    let mut top = 0;
    for panel in panels {
        let (area, right) = rest.split_horizontally(panel_w);
        rest = right;
        let x_desc = "epoch + 1 (log scale)";
        let epoch_fmt = |v: &f64| log_tick_label(*v);
        if panel.log_y {
            let (y, floor) = log_range(panel.traces);
            let c = chart(
                &area,
                panel.title,
                x.clone(),
                y,
                x_desc,
                panel.y_desc,
                &epoch_fmt,
                &|v| log_tick_label(*v),
                (9, 9),
            )?;
            draw_traces(c.plotting_area(), panel.traces, floor)?;
            top = c.plotting_area().get_pixel_range().1.start;
        } else {
            let (y, floor) = linear_range(panel.traces)?;
            let c = chart(
                &area,
                panel.title,
                x.clone(),
                RangedCoordf64::from(y),
                x_desc,
                panel.y_desc,
                &epoch_fmt,
                &|v| tick_label(*v),
                (9, 0),
            )?;
            draw_traces(c.plotting_area(), panel.traces, floor)?;
            top = c.plotting_area().get_pixel_range().1.start;
        }
    }
    let left = body.get_base_pixel().0 + to_i32(plots_width(&body, legend_w)) + PAD;
    draw_legend(root, (left, top + 10), legend.0, legend.1)
}

/// Width of the plotting part of `body` once a `legend_w` legend is set aside.
fn plots_width(body: &Area<'_>, legend_w: i32) -> u32 {
    to_u32(to_i32(body.dim_in_pixel().0).saturating_sub(legend_w))
}

// ---------------------------------------------------------------------------------------------
// Layer labels on the planes

/// A box in backend pixels, `x0 < x1`, `y0 < y1`.
#[derive(Debug, Clone, Copy)]
struct Boxed {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Boxed {
    fn overlaps(&self, o: &Self) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    fn inside(&self, o: &Self) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }
}

/// A label to place next to the marker at `at`.
#[derive(Debug, Clone)]
struct Label {
    at: (i32, i32),
    text: String,
    colour: RGBColor,
}

/// Places each label, in order, in the first of a ring of positions around its marker (near
/// ones first) that stays inside `bounds` and clear of every marker and earlier label, and
/// draws it on a white ground; a label moved away from its marker gets a leader line. When
/// nothing is clear the label goes right of its marker.
fn draw_labels(root: &Area<'_>, labels: &[Label], bounds: Boxed) -> Result<(), PlotError> {
    let h = round_px(TEXT_SIZE * PX_PER_SIZE) + 4;
    let mut taken: Vec<Boxed> = labels
        .iter()
        .map(|l| Boxed {
            x0: l.at.0 - 5,
            y0: l.at.1 - 5,
            x1: l.at.0 + 5,
            y1: l.at.1 + 5,
        })
        .collect();
    for l in labels {
        let w = text_width(&l.text, TEXT_SIZE) + 4;
        let (x, y) = l.at;
        let place = |dx: i32, dy: i32| -> Boxed {
            // (dx, dy) is the direction; the box sits beyond it, off the marker.
            let x0 = match dx.signum() {
                1 => x + dx,
                -1 => x + dx - w,
                _ => x - w / 2,
            };
            let y0 = match dy.signum() {
                1 => y + dy,
                -1 => y + dy - h,
                _ => y - h / 2,
            };
            Boxed {
                x0,
                y0,
                x1: x0 + w,
                y1: y0 + h,
            }
        };
        let mut candidates = Vec::new();
        for d in [7, 20, 34, 50] {
            for (dx, dy) in [
                (d, 0),
                (d * 3 / 4, -d * 3 / 4),
                (d * 3 / 4, d * 3 / 4),
                (-d, 0),
                (0, -d),
                (0, d),
                (-d * 3 / 4, -d * 3 / 4),
                (-d * 3 / 4, d * 3 / 4),
            ] {
                candidates.push((d, place(dx, dy)));
            }
        }
        let chosen = candidates
            .iter()
            .find(|(_, b)| b.inside(&bounds) && taken.iter().all(|t| !t.overlaps(b)))
            .copied()
            .unwrap_or((7, place(7, 0)));
        let (d, b) = chosen;
        if d > 7 {
            // The point of the box nearest the marker.
            let cx = x.max(b.x0).min(b.x1);
            let cy = y.max(b.y0).min(b.y1);
            root.draw(&PathElement::new(
                vec![(x, y), (cx, cy)],
                l.colour.mix(0.8).stroke_width(1),
            ))
            .map_err(err)?;
        }
        root.draw(&Rectangle::new(
            [(b.x0, b.y0), (b.x1, b.y1)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(err)?;
        text(
            root,
            &l.text,
            ((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2),
            TEXT_SIZE,
            &l.colour,
            Pos::new(HPos::Center, VPos::Center),
        )?;
        taken.push(b);
    }
    Ok(())
}

/// The plotting area of a chart as a [`Boxed`].
fn plot_box<X: Ranged, Y: Ranged>(c: &ChartContext<'_, Svg<'_>, Cartesian2d<X, Y>>) -> Boxed {
    let (xs, ys) = c.plotting_area().get_pixel_range();
    Boxed {
        x0: xs.start,
        y0: ys.start,
        x1: xs.end,
        y1: ys.end,
    }
}

/// A darker shade of `c` (towards black by `f`), for text in a light colour.
fn darker(c: RGBColor, f: f64) -> RGBColor {
    let d = |v: u8| u8::try_from(round_px(f64::from(v) * (1.0 - f)).clamp(0, 255)).unwrap_or(0);
    RGBColor(d(c.0), d(c.1), d(c.2))
}

// ---------------------------------------------------------------------------------------------
// The figures

/// The measured epochs that get error bars: nearest to `BAR_EPOCHS` evenly spaced points of
/// the colour scale, each once.
fn bar_epochs(epochs: &[u32], bar_max: u32) -> Vec<u32> {
    let steps = u32::try_from(BAR_EPOCHS.saturating_sub(1))
        .unwrap_or(1)
        .max(1);
    let mut out: Vec<u32> = (0..=steps)
        .filter_map(|k| {
            let target = f64::from(k) / f64::from(steps);
            epochs.iter().copied().min_by(|&a, &b| {
                let da = (epoch_fraction(a, bar_max) - target).abs();
                let db = (epoch_fraction(b, bar_max) - target).abs();
                da.total_cmp(&db)
            })
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `plane.svg` / `plane-<estimator>.svg`.
fn plane_figure(
    name: &str,
    plane: &Plane,
    bar_max: u32,
    caption: &[String],
) -> Result<String, PlotError> {
    let runs = max_runs(plane.values().flat_map(BTreeMap::values).map(|(s, _)| s));
    let epochs: Vec<u32> = plane.keys().copied().collect();
    let with_spread = plane
        .values()
        .flat_map(BTreeMap::values)
        .any(|(a, b)| spread(a).is_some() || spread(b).is_some());
    let bars = if with_spread {
        bar_epochs(&epochs, bar_max)
    } else {
        Vec::new()
    };
    let layers: Vec<u32> = {
        let mut l: Vec<u32> = plane.values().flat_map(BTreeMap::keys).copied().collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let layer_span = match (layers.first(), layers.last()) {
        (Some(a), Some(b)) if a != b => format!("layers {a}–{b}"),
        (Some(a), _) => format!("layer {a}"),
        _ => String::new(),
    };
    let mut note = format!("one line per measured epoch through {layer_span}, coloured by epoch");
    if !bars.is_empty() {
        note.push_str(&format!(
            "; bars ±1 sd across runs at {} epochs",
            bars.len()
        ));
    }

    let on_bar = |e: &u32| bars.binary_search(e).is_ok();
    let xs = plane.iter().flat_map(|(e, row)| {
        let bar = on_bar(e);
        row.values().flat_map(move |(x, _)| {
            let sd = if bar { spread(x).unwrap_or(0.0) } else { 0.0 };
            [x.mean - sd, x.mean + sd]
        })
    });
    let ys = plane.iter().flat_map(|(e, row)| {
        let bar = on_bar(e);
        row.values().flat_map(move |(_, y)| {
            let sd = if bar { spread(y).unwrap_or(0.0) } else { 0.0 };
            [y.mean - sd, y.mean + sd]
        })
    });
    let x_range = axis_range(xs)?;
    let y_range = axis_range(ys)?;

    let page = Page::new(PLANE_WIDTH, PLANE_BODY, true, caption);
    let mut svg = String::new();
    {
        let (root, body) = page.open(
            &mut svg,
            &format!("{name} · information plane · {}", runs_text(runs)),
            &note,
        )?;
        let body = body.margin(0, 8, 8, 8);
        let (left, _) = body.split_horizontally(PLANE_WIDTH.saturating_sub(16 + BAR_BLOCK));
        let c = chart(
            &left,
            "",
            RangedCoordf64::from(x_range),
            RangedCoordf64::from(y_range),
            "I(X;T) (bits)",
            "I(T;Y) (bits)",
            &|v| tick_label(*v),
            &|v| tick_label(*v),
            (0, 0),
        )?;
        let area = c.plotting_area();
        for (&epoch, row) in plane {
            let colour = epoch_colour(epoch_fraction(epoch, bar_max));
            let pts: Vec<(f64, f64)> = row.values().map(|(x, y)| (x.mean, y.mean)).collect();
            if pts.len() >= 2 {
                area.draw(&PathElement::new(
                    pts.clone(),
                    colour.mix(0.55).stroke_width(1),
                ))
                .map_err(err)?;
            }
            for &p in &pts {
                area.draw(&Circle::new(p, MARKER_RADIUS, colour.filled()))
                    .map_err(err)?;
            }
        }
        // The bars go on top of every line, each epoch's in its colour, a shade darker so the
        // late (yellow) ones read on white; their means get a ringed marker.
        for &epoch in &bars {
            let Some(row) = plane.get(&epoch) else {
                continue;
            };
            let colour = darker(epoch_colour(epoch_fraction(epoch, bar_max)), 0.15);
            let style = colour.mix(0.9).stroke_width(2);
            for (x, y) in row.values() {
                let (mx, my) = (x.mean, y.mean);
                if let Some(sx) = spread(x) {
                    area.draw(&PathElement::new(vec![(mx - sx, my), (mx + sx, my)], style))
                        .map_err(err)?;
                }
                if let Some(sy) = spread(y) {
                    area.draw(&PathElement::new(vec![(mx, my - sy), (mx, my + sy)], style))
                        .map_err(err)?;
                }
                let at = c.backend_coord(&(mx, my));
                root.draw(&Circle::new(at, 5, colour.filled()))
                    .map_err(err)?;
                root.draw(&Circle::new(at, 5, WHITE.stroke_width(1)))
                    .map_err(err)?;
            }
        }
        if let Some((_, last)) = plane.iter().next_back() {
            let labels: Vec<Label> = last
                .iter()
                .map(|(layer, (x, y))| Label {
                    at: c.backend_coord(&(x.mean, y.mean)),
                    text: format!("L{layer}"),
                    colour: BLACK,
                })
                .collect();
            draw_labels(&root, &labels, plot_box(&c))?;
        }
        let (plot_x, plot_y) = c.plotting_area().get_pixel_range();
        draw_colour_bar(&root, plot_x.end + BAR_GAP, plot_y, bar_max)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// `plane-overlay.svg`.
fn overlay_figure(planes: &[&(String, Plane)], caption: &[String]) -> Result<String, PlotError> {
    let runs = max_runs(
        planes
            .iter()
            .flat_map(|(_, p)| p.values().flat_map(BTreeMap::values))
            .map(|(s, _)| s),
    );
    let means = || {
        planes
            .iter()
            .flat_map(|(_, p)| p.values().flat_map(BTreeMap::values))
    };
    let x_range = axis_range(means().map(|(x, _)| x.mean))?;
    let y_range = axis_range(means().map(|(_, y)| y.mean))?;
    let lasts: Vec<u32> = planes
        .iter()
        .filter_map(|(_, p)| p.keys().next_back().copied())
        .collect();
    let last_text = match (lasts.iter().min(), lasts.iter().max()) {
        (Some(a), Some(b)) if a == b => format!("epoch {a}"),
        _ => "last epoch".to_owned(),
    };

    let entries: Vec<Entry> = planes
        .iter()
        .enumerate()
        .map(|(k, (name, _))| Entry {
            label: name.clone(),
            colour: series_colour(k),
            swatch: Swatch::Marker {
                shape: series_shape(k),
                width: 3,
            },
        })
        .collect();
    let key_colour = RGBColor(0x66, 0x66, 0x66);
    let key = [
        Entry {
            label: "a layer over epochs".to_owned(),
            colour: key_colour,
            swatch: Swatch::Line {
                dashed: false,
                width: 1,
                band: false,
            },
        },
        Entry {
            label: format!("layers at {last_text}"),
            colour: key_colour,
            swatch: Swatch::Marker {
                shape: Shape::Circle,
                width: 3,
            },
        },
    ];
    let legend_w = legend_width("estimator", &entries).max(legend_width("", &key));

    let note = format!(
        "thin: each layer's path through training; thick: the layers joined at {last_text}"
    );
    let page = Page::new(PLANE_WIDTH, PLANE_BODY, true, caption);
    let mut svg = String::new();
    {
        let (root, body) = page.open(
            &mut svg,
            &format!(
                "estimators compared · information plane · {}",
                runs_text(runs)
            ),
            &note,
        )?;
        let body = body.margin(0, 8, 8, 8);
        let (left, _) = body.split_horizontally(plots_width(&body, legend_w));
        let c = chart(
            &left,
            "",
            RangedCoordf64::from(x_range),
            RangedCoordf64::from(y_range),
            "I(X;T) (bits)",
            "I(T;Y) (bits)",
            &|v| tick_label(*v),
            &|v| tick_label(*v),
            (0, 0),
        )?;
        let area = c.plotting_area();
        // Paths first, for every estimator, so no estimator's thick line hides under another's
        // thin ones.
        for (k, (_, plane)) in planes.iter().enumerate() {
            let colour = series_colour(k);
            let mut paths: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
            for row in plane.values() {
                for (&layer, (x, y)) in row {
                    paths.entry(layer).or_default().push((x.mean, y.mean));
                }
            }
            for path in paths.values().filter(|p| p.len() >= 2) {
                area.draw(&PathElement::new(
                    path.clone(),
                    colour.mix(0.45).stroke_width(1),
                ))
                .map_err(err)?;
            }
        }
        let mut labels = Vec::new();
        for (k, (_, plane)) in planes.iter().enumerate() {
            let colour = series_colour(k);
            let Some((_, last)) = plane.iter().next_back() else {
                continue;
            };
            let pts: Vec<(f64, f64)> = last.values().map(|(x, y)| (x.mean, y.mean)).collect();
            area.draw(&PathElement::new(pts, colour.stroke_width(3)))
                .map_err(err)?;
            for (&layer, (x, y)) in last {
                let at = c.backend_coord(&(x.mean, y.mean));
                draw_marker(&root, series_shape(k), at, 6, colour)?;
                labels.push(Label {
                    at,
                    text: format!("L{layer}"),
                    colour: darker(colour, 0.2),
                });
            }
        }
        draw_labels(&root, &labels, plot_box(&c))?;

        let (_, plot_y) = c.plotting_area().get_pixel_range();
        let legend_left = body.get_base_pixel().0 + to_i32(plots_width(&body, legend_w)) + PAD;
        draw_legend(
            &root,
            (legend_left, plot_y.start + 10),
            "estimator",
            &entries,
        )?;
        let below = plot_y.start
            + 10
            + LEGEND_LINE * (to_i32(u32::try_from(entries.len()).unwrap_or(0)) + 2);
        draw_legend(&root, (legend_left, below), "", &key)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The legend entries of per-layer lines.
fn layer_entries(traces: &[Trace], band: bool) -> Vec<Entry> {
    traces
        .iter()
        .map(|t| Entry {
            label: t.label.clone(),
            colour: t.colour,
            swatch: Swatch::Line {
                dashed: t.dashed,
                width: 2,
                band,
            },
        })
        .collect()
}

/// The note under a title against epoch.
fn band_note(band: bool) -> &'static str {
    if band {
        "lines: mean over runs; bands: ±1 sd across runs"
    } else {
        ""
    }
}

/// `NAME+poolK` as (`NAME`, `K`).
fn pooled_name(name: &str) -> Option<(&str, &str)> {
    let (base, k) = name.rsplit_once("+pool")?;
    (!base.is_empty() && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .then_some((base, k))
}

/// Per layer, the I(X;T) and I(T;Y) lines of `plane` against epoch.
fn layer_lines(plane: &Plane, dashed: bool, suffix: &str) -> (Vec<Trace>, Vec<Trace>) {
    let mut xt: BTreeMap<u32, Vec<Pt>> = BTreeMap::new();
    let mut ty: BTreeMap<u32, Vec<Pt>> = BTreeMap::new();
    for (&epoch, row) in plane {
        for (&layer, (x, y)) in row {
            xt.entry(layer).or_default().extend(Pt::of(epoch, x));
            ty.entry(layer).or_default().extend(Pt::of(epoch, y));
        }
    }
    let traces = |m: BTreeMap<u32, Vec<Pt>>| -> Vec<Trace> {
        m.into_iter()
            .map(|(layer, points)| Trace {
                order: layer,
                label: format!("layer {layer}{suffix}"),
                colour: layer_colour(layer),
                dashed,
                points,
            })
            .collect()
    };
    (traces(xt), traces(ty))
}

/// `pool-<estimator>+poolK.svg`: per layer, I(X;T) and I(T;Y) of single snapshots (solid)
/// and of K snapshots pooled (dashed) against epoch.
fn pool_figure(
    name: &str,
    k: &str,
    single: &Plane,
    pooled: &Plane,
    last_epoch: u32,
    caption: &[String],
) -> Result<String, PlotError> {
    let (mut xt, mut ty) = layer_lines(single, false, "");
    let (pxt, pty) = layer_lines(pooled, true, &format!(", {k} pooled"));
    // The legend pairs each layer's single line with its pooled one.
    let mut legend = Vec::new();
    for (a, b) in xt.iter().zip(&pxt) {
        legend.push(a.clone());
        legend.push(b.clone());
    }
    xt.extend(pxt);
    ty.extend(pty);
    let runs = max_runs(pooled.values().flat_map(BTreeMap::values).map(|(s, _)| s));
    let title = format!(
        "{name} · as if random: one snapshot (solid) and {k} consecutive snapshots pooled (dashed) · {}",
        runs_text(runs)
    );
    information_panels(&title, &xt, &ty, &legend, last_epoch, caption)
}

/// `layers-<estimator>.svg`.
fn layers_figure(
    name: &str,
    plane: &Plane,
    last_epoch: u32,
    caption: &[String],
) -> Result<String, PlotError> {
    let (xt, ty) = layer_lines(plane, false, "");
    let runs = max_runs(plane.values().flat_map(BTreeMap::values).map(|(s, _)| s));
    let title = format!("{name} · information per layer · {}", runs_text(runs));
    information_panels(&title, &xt, &ty, &xt, last_epoch, caption)
}

/// A page of two panels against epoch, I(X;T) (left) and I(T;Y) (right), with `legend`'s
/// lines in the legend.
fn information_panels(
    title: &str,
    xt: &[Trace],
    ty: &[Trace],
    legend: &[Trace],
    last_epoch: u32,
    caption: &[String],
) -> Result<String, PlotError> {
    let band = any_spread(xt) || any_spread(ty);
    let entries = layer_entries(legend, band);
    let page = Page::new(PANELS_WIDTH, PANELS_BODY, band, caption);
    let mut svg = String::new();
    {
        let (root, body) = page.open(&mut svg, title, band_note(band))?;
        draw_panels(
            &root,
            &body,
            &[
                Panel {
                    title: "I(X;T)",
                    y_desc: "I(X;T) (bits)",
                    log_y: false,
                    traces: xt,
                },
                Panel {
                    title: "I(T;Y)",
                    y_desc: "I(T;Y) (bits)",
                    log_y: false,
                    traces: ty,
                },
            ],
            last_epoch,
            ("", &entries),
        )?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// `training.svg`, or `None` without metrics.
fn training_figure(
    summary: &Summary,
    last_epoch: u32,
    caption: &[String],
) -> Result<Option<String>, PlotError> {
    // Train loss, train accuracy, test loss, test accuracy (the order of `MetricsSummary`).
    let mut series: [Vec<Pt>; 4] = Default::default();
    let mut runs = 0;
    for row in summary.metrics_rows() {
        for (points, stats) in series.iter_mut().zip(&row.metrics) {
            if let Some(s) = stats {
                runs = runs.max(s.runs);
                points.extend(Pt::of(row.epoch, s));
            }
        }
    }
    if series.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    let [train_loss, train_acc, test_loss, test_acc] = series;
    let trace = |label: &str, k: u32, points: Vec<Pt>| Trace {
        order: k,
        label: label.to_owned(),
        colour: series_colour(usize::try_from(k).unwrap_or(0)),
        dashed: k == 1,
        points,
    };
    let loss: Vec<Trace> = [trace("train", 0, train_loss), trace("test", 1, test_loss)]
        .into_iter()
        .filter(|t| !t.points.is_empty())
        .collect();
    let acc: Vec<Trace> = [trace("train", 0, train_acc), trace("test", 1, test_acc)]
        .into_iter()
        .filter(|t| !t.points.is_empty())
        .collect();
    let band = any_spread(&loss) || any_spread(&acc);
    let entries = {
        let mut list: BTreeMap<u32, Trace> = BTreeMap::new();
        for t in loss.iter().chain(&acc) {
            list.entry(t.order).or_insert_with(|| t.clone());
        }
        layer_entries(&list.into_values().collect::<Vec<_>>(), band)
    };

    let page = Page::new(PANELS_WIDTH, PANELS_BODY, band, caption);
    let mut svg = String::new();
    {
        let (root, body) = page.open(
            &mut svg,
            &format!("training · {}", runs_text(runs)),
            band_note(band),
        )?;
        draw_panels(
            &root,
            &body,
            &[
                Panel {
                    title: "loss",
                    y_desc: "cross-entropy loss (nats)",
                    log_y: false,
                    traces: &loss,
                },
                Panel {
                    title: "accuracy",
                    y_desc: "accuracy (fraction correct)",
                    log_y: false,
                    traces: &acc,
                },
            ],
            last_epoch,
            ("", &entries),
        )?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// `weights.svg`, or `None` without layer rows.
fn weights_figure(
    rows: &[LayerRow],
    last_epoch: u32,
    caption: &[String],
) -> Result<Option<String>, PlotError> {
    // (layer, epoch) → run → row; the first row of a repeated (run, epoch, layer) is kept.
    let mut cells: BTreeMap<(u32, u32), BTreeMap<u64, &LayerRow>> = BTreeMap::new();
    for r in rows {
        cells
            .entry((r.layer, r.epoch))
            .or_default()
            .entry(r.run)
            .or_insert(r);
    }
    let mut norm: BTreeMap<u32, Vec<Pt>> = BTreeMap::new();
    let mut snr: BTreeMap<u32, Vec<Pt>> = BTreeMap::new();
    // layer → (runs whose every unit is dead, runs) at the layer's last epoch.
    let mut dead: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut runs = 0;
    for (&(layer, epoch), cell) in &cells {
        let norms = cell
            .values()
            .map(|r| r.weight_norm)
            .filter(|v| v.is_finite());
        if let Some(s) = Stats::of(norms) {
            runs = runs.max(s.runs);
            norm.entry(layer).or_default().extend(Pt::of(epoch, &s));
        }
        let snrs = cell
            .values()
            .filter_map(|r| r.grad_snr)
            .filter(|v| v.is_finite());
        if let Some(s) = Stats::of(snrs) {
            snr.entry(layer).or_default().extend(Pt::of(epoch, &s));
        }
        // Cells come in epoch order within a layer, so the last write is the last epoch.
        let all_dead = cell
            .values()
            .filter(|r| r.width > 0 && r.dead_units >= r.width)
            .count();
        dead.insert(layer, (all_dead, cell.len()));
    }
    if norm.is_empty() && snr.is_empty() {
        return Ok(None);
    }
    let label = |layer: u32| match dead.get(&layer) {
        Some(&(d, n)) if d > 0 && d == n => format!("layer {layer} (dead)"),
        Some(&(d, n)) if d > 0 => format!("layer {layer} (dead in {d} of {n} runs)"),
        _ => format!("layer {layer}"),
    };
    let traces = |m: BTreeMap<u32, Vec<Pt>>| -> Vec<Trace> {
        m.into_iter()
            .map(|(layer, points)| Trace {
                order: layer,
                label: label(layer),
                colour: layer_colour(layer),
                dashed: false,
                points,
            })
            .collect()
    };
    let norm = traces(norm);
    // Only positive ratios have a place on the log axis.
    let snr: Vec<Trace> = traces(snr)
        .into_iter()
        .map(|mut t| {
            t.points.retain(|p| p.y > 0.0);
            t
        })
        .filter(|t| !t.points.is_empty())
        .collect();
    let band = any_spread(&norm) || any_spread(&snr);
    let entries = {
        let mut list: BTreeMap<u32, Trace> = BTreeMap::new();
        for t in norm.iter().chain(&snr) {
            list.entry(t.order).or_insert_with(|| t.clone());
        }
        layer_entries(&list.into_values().collect::<Vec<_>>(), band)
    };
    let mut panels = Vec::new();
    if !norm.is_empty() {
        panels.push(Panel {
            title: "weight norm",
            y_desc: "weight norm (Frobenius)",
            log_y: false,
            traces: &norm,
        });
    }
    if !snr.is_empty() {
        panels.push(Panel {
            title: "gradient signal-to-noise ratio",
            y_desc: "gradient SNR (log scale)",
            log_y: true,
            traces: &snr,
        });
    }
    let width = if panels.len() > 1 {
        PANELS_WIDTH
    } else {
        PANEL_WIDTH
    };
    let title = if snr.is_empty() {
        format!("weights per layer · {}", runs_text(runs))
    } else {
        format!("weights and gradients per layer · {}", runs_text(runs))
    };
    let page = Page::new(width, PANELS_BODY, band, caption);
    let mut svg = String::new();
    {
        let (root, body) = page.open(&mut svg, &title, band_note(band))?;
        draw_panels(&root, &body, &panels, last_epoch, ("", &entries))?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::float_cmp)]

    use super::*;

    const CAPTION: [&str; 2] = ["preset tishby · tanh", "seeds: 1, 2, 3"];
    const EPOCHS: [u32; 6] = [0, 1, 3, 10, 30, 99];
    const LAYERS: u32 = 4;

    /// Tishby-like values: deep layers lose I(X;T) late, every layer gains I(T;Y).
    fn plane_value(run: u64, epoch: u32, layer: u32, estimator: usize) -> (f64, f64) {
        let t = f64::from(epoch) / 99.0;
        let depth = f64::from(layer) / f64::from(LAYERS);
        let noise = f64::from(u32::try_from(run).unwrap()) * 0.05;
        let scale = if estimator == 0 { 1.0 } else { 0.8 };
        let xt = scale * (12.0 * (1.0 - 0.6 * depth) - 3.0 * depth * t) + noise;
        let ty = 0.99 - 0.6 * depth * (1.0 - t) - noise * 0.1;
        (xt, ty)
    }

    /// `runs` runs (seeds 1…), `estimators` estimators, metrics with a test split from epoch 3
    /// on, and layer rows whose layer 2 is dead at the last epoch in every run.
    fn input_data(runs: u64, estimators: usize) -> (Summary, Vec<LayerRow>) {
        let names = ["binning", "kde-upper"];
        let mut s = Summary::new();
        let mut layers = Vec::new();
        for run in 1..=runs {
            for &e in &EPOCHS {
                for l in 1..=LAYERS {
                    for (k, name) in names.iter().enumerate().take(estimators) {
                        let (xt, ty) = plane_value(run, e, l, k);
                        assert!(s.add_plane(run, e, l, name, xt, ty));
                    }
                    let width = 10 - 2 * l;
                    layers.push(LayerRow {
                        run,
                        epoch: e,
                        layer: l,
                        width,
                        weight_norm: f64::from(l) + f64::from(e) / 50.0,
                        dead_units: if l == 2 && e == 99 { width } else { 0 },
                        grad_snr: Some(10.0 / (1.0 + f64::from(e)) + f64::from(l) * 0.01),
                    });
                }
                let t = f64::from(e) / 99.0;
                let run_f = f64::from(u32::try_from(run).unwrap());
                let test = (e >= 3).then_some(());
                assert!(s.add_metrics(
                    run,
                    e,
                    [
                        Some(0.7 - 0.6 * t + 0.01 * run_f),
                        Some(0.5 + 0.45 * t),
                        test.map(|()| 0.75 - 0.5 * t),
                        test.map(|()| 0.5 + 0.4 * t),
                    ],
                ));
            }
        }
        (s, layers)
    }

    fn draw(summary: &Summary, layers: &[LayerRow], overlay: bool) -> Vec<(String, String)> {
        figures(&FigureInput {
            summary,
            layers,
            caption: CAPTION.iter().map(|&l| l.to_owned()).collect(),
            last_epoch: 99,
            overlay,
        })
        .unwrap()
    }

    /// The text of every `<text>` element, as the SVG backend writes them.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = t.split_once('>')?.1;
                Some(body.split("</text>").next()?.trim().to_owned())
            })
            .collect()
    }

    fn has_text(svg: &str, s: &str) -> bool {
        texts(svg).iter().any(|t| t == s)
    }

    fn file<'a>(figs: &'a [(String, String)], name: &str) -> &'a str {
        &figs.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn every_figure_with_three_runs_and_two_estimators() {
        let (s, layers) = input_data(3, 2);
        let figs = draw(&s, &layers, true);
        let names: Vec<&str> = figs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "plane.svg",
                "plane-kde-upper.svg",
                "plane-overlay.svg",
                "layers-binning.svg",
                "layers-kde-upper.svg",
                "training.svg",
                "weights.svg"
            ]
        );
        for (name, svg) in &figs {
            assert!(svg.starts_with("<svg"), "{name}");
            assert!(svg.trim_end().ends_with("</svg>"), "{name}");
            for line in CAPTION {
                assert!(has_text(svg, line), "{name}: caption {line:?} missing");
            }
            // No coordinate is NaN or infinite ("inf" alone would match "information").
            for bad in ["NaN", "inf,", "inf ", "=\"inf", "=\"-inf", ",inf", ",-inf"] {
                assert!(!svg.contains(bad), "{name}: {bad}");
            }
        }

        let plane = file(&figs, "plane.svg");
        assert!(has_text(
            plane,
            "binning · information plane · mean of 3 runs"
        ));
        assert!(has_text(plane, "I(X;T) (bits)") && has_text(plane, "I(T;Y) (bits)"));
        // The colour bar, labelled with real epochs.
        for tick in ["epoch", "0", "1", "10", "99"] {
            assert!(has_text(plane, tick), "colour bar label {tick} missing");
        }
        for l in 1..=LAYERS {
            assert!(has_text(plane, &format!("L{l}")));
        }
        let note = texts(plane)
            .into_iter()
            .find(|t| t.starts_with("one line per measured epoch"))
            .unwrap();
        assert!(note.contains("layers 1–4") && note.contains("±1 sd across runs"));
        assert!(has_text(
            file(&figs, "plane-kde-upper.svg"),
            "kde-upper · information plane · mean of 3 runs"
        ));

        let overlay = file(&figs, "plane-overlay.svg");
        for t in ["estimator", "binning", "kde-upper", "layers at epoch 99"] {
            assert!(has_text(overlay, t), "overlay: {t}");
        }

        for name in ["layers-binning.svg", "training.svg", "weights.svg"] {
            let svg = file(&figs, name);
            assert!(has_text(svg, "epoch + 1 (log scale)"), "{name}");
            for tick in ["1", "10", "100"] {
                assert!(has_text(svg, tick), "{name}: x tick {tick}");
            }
            assert!(has_text(
                svg,
                "lines: mean over runs; bands: ±1 sd across runs"
            ));
        }
        let per_layer = file(&figs, "layers-binning.svg");
        for l in 1..=LAYERS {
            assert!(has_text(per_layer, &format!("layer {l}")));
        }
        assert!(has_text(
            per_layer,
            "binning · information per layer · mean of 3 runs"
        ));

        let training = file(&figs, "training.svg");
        for t in ["train", "test", "cross-entropy loss (nats)", "accuracy"] {
            assert!(has_text(training, t), "training: {t}");
        }
        let weights = file(&figs, "weights.svg");
        for t in [
            "layer 1",
            "layer 2 (dead)",
            "weight norm (Frobenius)",
            "gradient SNR (log scale)",
        ] {
            assert!(has_text(weights, t), "weights: {t}");
        }
        assert!(!has_text(weights, "layer 2"));
    }

    #[test]
    fn one_run_has_no_spread_and_one_estimator_no_overlay() {
        let (s, mut layers) = input_data(1, 1);
        for r in &mut layers {
            r.grad_snr = None;
        }
        let figs = draw(&s, &layers, true);
        let names: Vec<&str> = figs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "plane.svg",
                "layers-binning.svg",
                "training.svg",
                "weights.svg"
            ]
        );
        let plane = file(&figs, "plane.svg");
        assert!(has_text(plane, "binning · information plane · 1 run"));
        assert!(!plane.contains("sd across runs"));
        // One circle per point: 6 epochs × 4 layers, no ringed bar markers.
        assert_eq!(plane.matches("<circle").count(), EPOCHS.len() * 4);
        for (_, svg) in &figs {
            assert!(!svg.contains("bands"));
        }
        let weights = file(&figs, "weights.svg");
        assert!(has_text(weights, "weights per layer · 1 run"));
        assert!(!weights.contains("SNR"));
    }

    #[test]
    fn overlay_only_when_asked() {
        let (s, layers) = input_data(2, 2);
        let figs = draw(&s, &layers, false);
        assert!(figs.iter().all(|(n, _)| n != "plane-overlay.svg"));
        assert_eq!(figs.len(), 6);
    }

    #[test]
    fn pooled_estimators_get_a_figure_beside_their_single_self() {
        assert_eq!(pooled_name("binning+pool8"), Some(("binning", "8")));
        assert_eq!(pooled_name("kde-upper+pool32"), Some(("kde-upper", "32")));
        for not in ["binning", "+pool8", "binning+pool", "binning+poolx"] {
            assert_eq!(pooled_name(not), None, "{not}");
        }
        let mut s = Summary::new();
        for run in 0..2 {
            for e in 0..50 {
                for l in 1..=3 {
                    let v = f64::from(l) + f64::from(e) / 100.0;
                    assert!(s.add_plane(run, e, l, "binning", v, v / 8.0));
                    if e >= 3 {
                        assert!(s.add_plane(run, e, l, "binning+pool4", v - 0.5, v / 9.0));
                    }
                }
            }
        }
        let figs = draw(&s, &[], false);
        let names: Vec<&str> = figs.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"pool-binning_pool4.svg"), "{names:?}");
        let svg = file(&figs, "pool-binning_pool4.svg");
        assert!(has_text(
            svg,
            "binning · as if random: one snapshot (solid) and 4 consecutive snapshots pooled \
             (dashed) · mean of 2 runs"
        ));
        for l in 1..=3 {
            assert!(has_text(svg, &format!("layer {l}")), "layer {l}");
            assert!(
                has_text(svg, &format!("layer {l}, 4 pooled")),
                "layer {l} pooled"
            );
        }
        // Without its single estimator a pooled one gets no such figure.
        let mut only = Summary::new();
        assert!(only.add_plane(0, 5, 1, "binning+pool4", 1.0, 0.5));
        let figs = draw(&only, &[], false);
        assert!(figs.iter().all(|(n, _)| !n.starts_with("pool-")));
    }

    #[test]
    fn error_bars_at_a_few_epochs_only() {
        let mut s = Summary::new();
        for run in 0..3 {
            for e in 0..=200 {
                for l in 1..=3 {
                    let v = f64::from(l) + f64::from(u32::try_from(run).unwrap()) * 0.1;
                    s.add_plane(run, e, l, "binning", v + f64::from(e) / 100.0, v / 4.0);
                }
            }
        }
        let figs = draw(&s, &[], false);
        let plane = file(&figs, "plane.svg");
        // 201 epochs × 3 layers small markers, plus a ringed marker (two circles) at each of
        // the BAR_EPOCHS epochs × 3 layers.
        assert_eq!(
            plane.matches("<circle").count(),
            201 * 3 + 2 * 3 * BAR_EPOCHS
        );
        assert!(has_text(
            plane,
            &format!(
                "one line per measured epoch through layers 1–3, coloured by epoch; bars ±1 sd \
                 across runs at {BAR_EPOCHS} epochs"
            )
        ));
    }

    #[test]
    fn same_input_same_bytes_whatever_the_order_runs_came_in() {
        let (s, layers) = input_data(3, 2);
        let a = draw(&s, &layers, true);
        assert_eq!(a, draw(&s, &layers, true));
        let mut reversed = layers.clone();
        reversed.reverse();
        assert_eq!(a, draw(&s, &reversed, true));
    }

    #[test]
    fn empty_input_gives_no_figures() {
        assert!(draw(&Summary::new(), &[], true).is_empty());
        // Only layer rows: just the weights.
        let (_, layers) = input_data(2, 1);
        let figs = draw(&Summary::new(), &layers, true);
        assert_eq!(figs.len(), 1);
        assert_eq!(figs[0].0, "weights.svg");
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let (clean, layers) = input_data(3, 2);
        let expected = draw(&clean, &layers, true);
        let (mut s, mut layers) = input_data(3, 2);
        for run in 1..=3 {
            for (k, bad) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
                .iter()
                .enumerate()
            {
                let e = 2 + u32::try_from(k).unwrap() * 10;
                s.add_plane(run, e, 1, "binning", *bad, 0.5);
                s.add_plane(run, e, 2, "kde-upper", 0.5, *bad);
                s.add_metrics(run, e, [Some(*bad), Some(*bad), None, Some(*bad)]);
                layers.push(LayerRow {
                    run,
                    epoch: e,
                    layer: 1,
                    width: 8,
                    weight_norm: *bad,
                    dead_units: 0,
                    grad_snr: Some(*bad),
                });
            }
        }
        assert_eq!(draw(&s, &layers, true), expected);
        // A plane made only of non-finite values draws nothing.
        let mut only_bad = Summary::new();
        only_bad.add_plane(0, 0, 1, "binning", f64::NAN, f64::NAN);
        assert!(draw(&only_bad, &[], true).is_empty());
        // Values too large for a finite axis are an error, not a panic.
        let mut huge = Summary::new();
        huge.add_plane(0, 0, 1, "binning", f64::MAX, 0.5);
        assert!(
            figures(&FigureInput {
                summary: &huge,
                layers: &[],
                caption: Vec::new(),
                last_epoch: 0,
                overlay: false,
            })
            .is_err()
        );
    }

    #[test]
    fn log_axis_ticks_and_labels() {
        assert_eq!(log_ticks(1.0, 8000.0, 9, false), [1.0, 10.0, 100.0, 1000.0]);
        // Fewer than three decades: 2 and 5 as well.
        assert_eq!(
            log_ticks(1.0, 60.0, 9, false),
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        );
        // Inside one decade: every integer multiple.
        assert_eq!(
            log_ticks(3.0, 8.0, 9, false),
            [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        );
        let light = log_ticks(1.0, 100.0, 90, true);
        assert_eq!(light.len(), 19);
        assert!(log_ticks(1.0, 100.0, 5, true).is_empty());
        assert_eq!(log_ticks(0.01, 10.0, 2, false), [0.01, 1.0]);
        for (v, s) in [
            (0.05, "0.05"),
            (0.001, "0.001"),
            (1.0, "1"),
            (1000.0, "1000"),
        ] {
            assert_eq!(log_tick_label(v), s);
        }
        assert_eq!(log_ticks(0.04, 0.3, 9, false), [0.05, 0.1, 0.2]);
        let axis = LogAxis::new(1.0, 1000.0);
        assert_eq!(axis.map(&1.0, (0, 300)), 0);
        assert_eq!(axis.map(&10.0, (0, 300)), 100);
        assert_eq!(axis.map(&1000.0, (300, 0)), 0);
        assert_eq!(axis.map(&0.0, (0, 300)), 0);
        assert_eq!(axis.map(&f64::NAN, (0, 300)), 0);
        assert_eq!(axis.map(&1e300, (0, 300)), 450);
        let bad = LogAxis::new(-1.0, f64::NAN);
        assert_eq!(bad.range(), 1.0..10.0);
        assert_eq!(LogAxis::decades(0.03, 15.0).range(), 0.01..100.0);
    }

    #[test]
    fn captions_wrap_at_words_and_never_start_with_a_separator() {
        let line = "preset tishby · tanh · 12-10-7-5-4-3-2 · Adam lr 0.0004 · batch 512 · \
                    8000 epochs · log schedule · capture before the update";
        let lines = wrap(line, 300, CAPTION_SIZE);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(text_width(l, CAPTION_SIZE) <= 300, "{l}");
            assert!(!l.starts_with('·'), "{l}");
        }
        assert_eq!(lines.join(" "), line);
        let long = "x".repeat(200);
        assert!(wrap(&long, 100, CAPTION_SIZE).len() > 1);
        assert!(wrap("", 100, CAPTION_SIZE).is_empty());
    }

    #[test]
    fn helpers() {
        assert_eq!(file_stem("kde-upper"), "kde-upper");
        assert_eq!(file_stem("a/b c"), "a_b_c");
        assert_eq!(file_stem(""), "estimator");
        assert_eq!(file_stem(".."), "estimator");
        assert_eq!(runs_text(1), "1 run");
        assert_eq!(runs_text(5), "mean of 5 runs");
        let epochs: Vec<u32> = (0..=7999).collect();
        let bars = bar_epochs(&epochs, 7999);
        assert_eq!(bars.len(), BAR_EPOCHS);
        assert_eq!(bars.first(), Some(&0));
        assert_eq!(bars.last(), Some(&7999));
        assert_eq!(bar_epochs(&[0, 5], 5), [0, 5]);
        assert!(bar_epochs(&[], 5).is_empty());
        let a = Boxed {
            x0: 0,
            y0: 0,
            x1: 10,
            y1: 10,
        };
        let b = Boxed {
            x0: 10,
            y0: 0,
            x1: 20,
            y1: 10,
        };
        assert!(!a.overlaps(&b));
        assert!(a.overlaps(&a));
    }
}
