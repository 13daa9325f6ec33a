//! The information-plane picture (Shwartz-Ziv & Tishby 2017, Fig. 2 and 3) as an SVG string.
//!
//! For every logged epoch one poly-line runs through that epoch's layers in layer order (layer 1
//! first, the softmax output last) in the (I(X;T), I(T;Y)) plane, with a small circle at each
//! layer. Colour encodes the epoch through a viridis map on a `ln(1 + epoch)` scale, because the
//! logged epochs are themselves log-spaced (every epoch early on, a few hundred up to epoch
//! 8000 later); a vertical colour bar on the right is labelled with real epoch numbers.
//!
//! This module only places marks: the information values arrive computed by core. The only
//! transcendental it needs, `ln` for the colour scale, goes through
//! [`infoplane_core::math::ln_f64`] (STYLE R13).

use std::collections::BTreeMap;
use std::fmt;

use crate::svg::Svg;
use infoplane_core::math::ln_f64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One measured point: layer `layer` (1-based; the softmax output is the last layer) at epoch
/// `epoch`, with both informations in bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotPoint {
    /// Training epoch at which the layer was measured (0 = before the first update).
    pub epoch: u32,
    /// Layer index, 1-based; the softmax output is the last layer.
    pub layer: u32,
    /// I(X;T) in bits: the x coordinate.
    pub i_xt: f64,
    /// I(T;Y) in bits: the y coordinate.
    pub i_ty: f64,
}

/// Drawing the plane failed: the SVG backend reported an error (its message is kept), or the
/// values were too large for a finite axis range.
#[derive(Debug)]
pub struct PlotError(pub String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot draw the information plane: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

/// Width of the whole picture in pixels.
const WIDTH: u32 = 900;
/// Height of the whole picture in pixels.
const HEIGHT: u32 = 650;
/// Space kept right of the plotting area for the colour bar, its ticks and its label.
pub(crate) const BAR_BLOCK: u32 = 125;
/// Gap between the plotting area and the colour bar, in pixels.
pub(crate) const BAR_GAP: i32 = 22;
/// Width of the colour bar in pixels.
const BAR_WIDTH: i32 = 18;
/// Number of colour steps drawn in the bar; more than the eye separates at this height.
const BAR_STEPS: u32 = 256;
/// Smallest vertical distance between two colour-bar tick labels, in pixels (labels 14.5 px tall).
const BAR_TICK_GAP: u32 = 24;
/// Radius of a layer marker in pixels.
pub(crate) const MARKER_RADIUS: u32 = 3;
/// Headroom above the largest value on either axis, as a fraction of it.
const HEADROOM: f64 = 0.05;
/// Font family. The SVG names the generic family, so the viewer's sans-serif font is used.
pub(crate) const FONT: &str = "sans-serif";

/// Viridis (van der Walt & Smith, matplotlib 2.0) sampled at 9 evenly spaced stops, as printed
/// by R's `viridisLite::viridis(9)`. Linear interpolation in sRGB between neighbouring stops
/// stays within a few units per channel of the full 256-entry table.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2D, 0x7B),
    (0x3B, 0x52, 0x8B),
    (0x2C, 0x72, 0x8E),
    (0x21, 0x90, 0x8C),
    (0x27, 0xAD, 0x81),
    (0x5D, 0xC8, 0x63),
    (0xAA, 0xDC, 0x32),
    (0xFD, 0xE7, 0x25),
];

/// Renders the information plane as an SVG document string.
///
/// `title` goes in the caption (for example "tishby · tanh · binning"); an empty title leaves
/// the caption out. `max_epoch` is the colour-bar maximum (the run's total epochs − 1); if a
/// point has a later epoch the bar is extended to it rather than clipping its colour.
///
/// Points whose `i_xt` or `i_ty` is NaN or infinite are skipped. Epochs are drawn oldest first,
/// so late epochs lie on top. Each axis spans 0 (or the smallest value, if negative) to 5 %
/// above the largest value, and at least 0 to 1 bit. No points gives an empty plane.
///
/// # Errors
///
/// [`PlotError`] if the SVG backend reports a drawing error, or if the finite values are so
/// large that an axis range overflows `f64`.
pub fn plane_svg(title: &str, points: &[PlotPoint], max_epoch: u32) -> Result<String, PlotError> {
    let curves = epoch_curves(points);
    let x_range = axis_range(curves.values().flatten().map(|&(_, x, _)| x))?;
    let y_range = axis_range(curves.values().flatten().map(|&(_, _, y)| y))?;
    let bar_max = curves.keys().copied().fold(max_epoch, u32::max);

    let mut svg = String::new();
    {
        let root = Svg::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let frame = root.margin(8, 8, 8, 8);
        let (left, _) = frame.split_horizontally(WIDTH.saturating_sub(16 + BAR_BLOCK));

        let mut builder = ChartBuilder::on(&left);
        builder
            .margin(12)
            .x_label_area_size(56)
            .y_label_area_size(64);
        if !title.is_empty() {
            builder.caption(title, (FONT, 26));
        }
        let mut chart = builder.build_cartesian_2d(x_range, y_range).map_err(err)?;

        chart
            .configure_mesh()
            .x_desc("I(X;T) (bits)")
            .y_desc("I(T;Y) (bits)")
            .axis_desc_style((FONT, 21))
            .label_style((FONT, 17))
            .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD).stroke_width(1))
            .max_light_lines(0)
            .axis_style(RGBColor(0x30, 0x30, 0x30).stroke_width(1))
            .x_labels(10)
            .y_labels(10)
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(err)?;

        // BTreeMap iterates epochs in increasing order: oldest drawn first, newest on top.
        for (&epoch, curve) in &curves {
            let colour = epoch_colour(epoch_fraction(epoch, bar_max));
            if curve.len() >= 2 {
                chart
                    .draw_series(LineSeries::new(
                        curve.iter().map(|&(_, x, y)| (x, y)),
                        colour.mix(0.55).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            chart
                .draw_series(
                    curve
                        .iter()
                        .map(|&(_, x, y)| Circle::new((x, y), MARKER_RADIUS, colour.filled())),
                )
                .map_err(err)?;
        }

        let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
        draw_colour_bar(&root, plot_x.end + BAR_GAP, plot_y, bar_max)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A curve per epoch: `(layer, i_xt, i_ty)` with non-finite points dropped, sorted by layer.
fn epoch_curves(points: &[PlotPoint]) -> BTreeMap<u32, Vec<(u32, f64, f64)>> {
    let mut curves: BTreeMap<u32, Vec<(u32, f64, f64)>> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.i_xt.is_finite() && p.i_ty.is_finite())
    {
        curves
            .entry(p.epoch)
            .or_default()
            .push((p.layer, p.i_xt, p.i_ty));
    }
    for curve in curves.values_mut() {
        // Stable, so repeated (epoch, layer) rows keep their input order.
        curve.sort_by_key(|&(layer, _, _)| layer);
    }
    curves
}

/// Axis range for finite `values`: from `min(0, smallest)` to `max(1, largest)`, each end pushed
/// out by [`HEADROOM`] of its magnitude (0 stays 0).
pub(crate) fn axis_range(
    values: impl Iterator<Item = f64>,
) -> Result<std::ops::Range<f64>, PlotError> {
    let (lo, hi) = values.fold((0.0_f64, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = lo * (1.0 + HEADROOM);
    let hi = (hi * (1.0 + HEADROOM)).max(1.0);
    if lo.is_finite() && hi.is_finite() {
        Ok(lo..hi)
    } else {
        Err(PlotError(format!(
            "axis range {lo}..{hi} is not finite; the input values are too large"
        )))
    }
}

/// Axis tick text: at most two decimals, without trailing zeros ("0", "0.5", "1.25", "12").
pub(crate) fn tick_label(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Position of `epoch` on the colour scale, in `[0, 1]`: `ln(1 + epoch) / ln(1 + max_epoch)`.
///
/// Epochs above `max_epoch` map to 1; with `max_epoch == 0` everything maps to 0.
pub(crate) fn epoch_fraction(epoch: u32, max_epoch: u32) -> f64 {
    if max_epoch == 0 {
        return 0.0;
    }
    let num = ln_f64(1.0 + f64::from(epoch.min(max_epoch)));
    let den = ln_f64(1.0 + f64::from(max_epoch));
    (num / den).clamp(0.0, 1.0)
}

/// The viridis colour at `t` in `[0, 1]` (clamped; NaN gives the `t = 0` colour), by linear
/// interpolation between the stops of [`VIRIDIS`].
pub(crate) fn epoch_colour(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let segments = f64::from(u32::try_from(VIRIDIS.len().saturating_sub(1)).unwrap_or(1));
    let mut lower = VIRIDIS.first().copied().unwrap_or((0, 0, 0));
    let mut upper = lower;
    let mut frac = 0.0;
    for (pair, k) in VIRIDIS.windows(2).zip(0_u32..) {
        let (Some(&a), Some(&b)) = (pair.first(), pair.get(1)) else {
            continue;
        };
        let start = f64::from(k) / segments;
        let end = f64::from(k + 1) / segments;
        lower = a;
        upper = b;
        frac = (t - start) / (end - start);
        if t <= end {
            break;
        }
    }
    RGBColor(
        lerp_channel(lower.0, upper.0, frac),
        lerp_channel(lower.1, upper.1, frac),
        lerp_channel(lower.2, upper.2, frac),
    )
}

/// `a + (b − a)·f`, rounded to the nearest integer, with `f` clamped to `[0, 1]`.
fn lerp_channel(a: u8, b: u8, f: f64) -> u8 {
    let (a, b) = (f64::from(a), f64::from(b));
    let v = (a + (b - a) * f.clamp(0.0, 1.0)).round().clamp(0.0, 255.0);
    // `v` is an integer in [0, 255] by the clamp above, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let c = v as u8;
    c
}

/// Epochs labelled on the colour bar: 0, `max_epoch`, and 1·10ᵏ, 5·10ᵏ, 2·10ᵏ in that order
/// of preference, each kept only if its label is at least [`BAR_TICK_GAP`] pixels from every
/// label kept before it (`pixel` maps an epoch to its height on the bar). Sorted ascending.
fn colour_bar_ticks(max_epoch: u32, pixel: impl Fn(u32) -> i32) -> Vec<u32> {
    let mut candidates = vec![0, max_epoch];
    for mantissa in [1_u32, 5, 2] {
        let mut value = Some(mantissa);
        while let Some(v) = value.filter(|&v| v < max_epoch) {
            candidates.push(v);
            value = v.checked_mul(10);
        }
    }
    let mut kept: Vec<u32> = Vec::new();
    for c in candidates {
        let y = pixel(c);
        if kept
            .iter()
            .all(|&k| k != c && pixel(k).abs_diff(y) >= BAR_TICK_GAP)
        {
            kept.push(c);
        }
    }
    kept.sort_unstable();
    kept
}

/// Draws the vertical colour bar with its left edge at pixel `left`, spanning the pixel rows
/// `rows` (those of the plotting area), with epoch ticks and the label "epoch". `root` is the
/// whole picture: `left` and `rows` are backend pixels.
pub(crate) fn draw_colour_bar(
    root: &DrawingArea<Svg<'_>, plotters::coord::Shift>,
    left: i32,
    rows: std::ops::Range<i32>,
    max_epoch: u32,
) -> Result<(), PlotError> {
    let height = rows.end.saturating_sub(rows.start);
    let area = root.clone().shrink((left, rows.start), (BAR_WIDTH, height));
    let bar = ChartBuilder::on(&area)
        .build_cartesian_2d(0.0_f64..1.0_f64, 0.0_f64..1.0_f64)
        .map_err(err)?;
    let steps = f64::from(BAR_STEPS);
    // Each step overlaps the next by half a step so rounding to whole pixels leaves no seams.
    for i in 0..BAR_STEPS {
        let lo = f64::from(i) / steps;
        let hi = ((f64::from(i) + 1.5) / steps).min(1.0);
        let colour = epoch_colour((f64::from(i) + 0.5) / steps);
        bar.plotting_area()
            .draw(&Rectangle::new([(0.0, lo), (1.0, hi)], colour.filled()))
            .map_err(err)?;
    }
    bar.plotting_area()
        .draw(&Rectangle::new(
            [(0.0, 0.0), (1.0, 1.0)],
            RGBColor(0x30, 0x30, 0x30).stroke_width(1),
        ))
        .map_err(err)?;

    let pixel = |epoch: u32| bar.backend_coord(&(1.0, epoch_fraction(epoch, max_epoch)));
    let label_style = TextStyle::from((FONT, 18).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for epoch in colour_bar_ticks(max_epoch, |e| pixel(e).1) {
        let (x, y) = pixel(epoch);
        root.draw(&PathElement::new(
            vec![(x, y), (x + 5, y)],
            RGBColor(0x30, 0x30, 0x30),
        ))
        .map_err(err)?;
        root.draw(&Text::new(epoch.to_string(), (x + 8, y), &label_style))
            .map_err(err)?;
    }

    let title_style = TextStyle::from((FONT, 21).into_font())
        .color(&BLACK)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let middle = rows.start + height / 2;
    root.draw(&Text::new(
        "epoch",
        (left + BAR_WIDTH + 70, middle),
        &title_style,
    ))
    .map_err(err)?;
    Ok(())
}

/// Wraps any plotters error (they all implement `Display`) in a [`PlotError`].
pub(crate) fn err(e: impl fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::float_cmp)]
    // The tick-spacing test maps fractions of a 500 px bar to pixels, as the backend does.
    #![allow(clippy::cast_possible_truncation)]

    use super::*;

    /// `"#RRGGBB"` as the SVG backend writes a colour.
    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// Tishby-like synthetic run: `layers` layers at each epoch of `epochs`.
    fn synthetic(epochs: &[u32], layers: u32) -> Vec<PlotPoint> {
        let mut out = Vec::new();
        for &e in epochs {
            for l in 1..=layers {
                let depth = f64::from(l) / f64::from(layers);
                let s = f64::from(e) / 1000.0;
                out.push(PlotPoint {
                    epoch: e,
                    layer: l,
                    i_xt: 12.0 * (1.0 - depth) + s,
                    i_ty: 1.0 - 0.5 * depth + 0.01 * s,
                });
            }
        }
        out
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn has_axis_labels_caption_and_colour_bar_title() {
        let svg = plane_svg("tishby · tanh · binning", &synthetic(&[0, 5], 3), 9).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("I(X;T) (bits)"));
        assert!(svg.contains("I(T;Y) (bits)"));
        assert!(svg.contains("tishby · tanh · binning"));
        assert!(svg.contains(">\nepoch\n<") || svg.contains(">epoch<"));
        assert!(svg.contains(r#"width="900" height="650""#));
    }

    #[test]
    fn one_polyline_per_epoch_and_one_circle_per_point() {
        let epochs = [0, 1, 2, 3, 10, 30, 100, 299];
        let points = synthetic(&epochs, 6);
        let svg = plane_svg("x", &points, 299).unwrap();
        // Axes, mesh and colour-bar ticks are grey; every viridis polyline is an epoch curve.
        let strokes: Vec<String> = epochs
            .iter()
            .map(|&e| format!(r#"stroke="{}""#, hex(epoch_colour(epoch_fraction(e, 299)))))
            .collect();
        let curves = svg
            .lines()
            .filter(|l| l.contains("<polyline") && strokes.iter().any(|s| l.contains(s)))
            .count();
        assert_eq!(curves, epochs.len());
        let grey = svg.lines().filter(|l| l.contains("<polyline")).count() - curves;
        assert_eq!(grey, count(&plane_svg("x", &[], 299).unwrap(), "<polyline"));
        assert_eq!(count(&svg, "<circle"), points.len());
    }

    #[test]
    fn epoch_lines_are_coloured_by_the_map_at_both_ends() {
        let max = 7999;
        let svg = plane_svg("x", &synthetic(&[0, 400, max], 4), max).unwrap();
        let first = epoch_colour(0.0);
        let last = epoch_colour(1.0);
        assert_ne!(first, last);
        assert_eq!(hex(first), "#440154");
        assert_eq!(hex(last), "#FDE725");
        for c in [first, last] {
            let line = format!(r#"stroke="{}""#, hex(c));
            assert!(
                svg.lines()
                    .any(|l| l.contains("<polyline") && l.contains(&line)),
                "no polyline with {line}"
            );
        }
    }

    #[test]
    fn later_epochs_are_drawn_after_earlier_ones() {
        let svg = plane_svg("x", &synthetic(&[7, 0, 3], 2), 7).unwrap();
        let at = |e: u32| {
            let line = format!(r#"stroke="{}""#, hex(epoch_colour(epoch_fraction(e, 7))));
            svg.lines()
                .position(|l| l.contains("<polyline") && l.contains(&line))
                .unwrap()
        };
        assert!(at(0) < at(3) && at(3) < at(7));
    }

    #[test]
    fn colour_map_hits_its_stops_and_is_monotone_in_lightness() {
        for (i, &(r, g, b)) in VIRIDIS.iter().enumerate() {
            let t = f64::from(u32::try_from(i).unwrap()) / 8.0;
            assert_eq!(epoch_colour(t), RGBColor(r, g, b), "stop {i}");
        }
        assert_eq!(epoch_colour(-1.0), epoch_colour(0.0));
        assert_eq!(epoch_colour(2.0), epoch_colour(1.0));
        assert_eq!(epoch_colour(f64::NAN), epoch_colour(0.0));
        // Viridis gets lighter all the way; check a cheap luma on a fine grid.
        let luma = |c: RGBColor| 299 * u32::from(c.0) + 587 * u32::from(c.1) + 114 * u32::from(c.2);
        let mut prev = 0;
        for k in 0..=100 {
            let l = luma(epoch_colour(f64::from(k) / 100.0));
            assert!(l >= prev, "luma drops at t = {k}/100");
            prev = l;
        }
    }

    #[test]
    fn epoch_fraction_is_log_scaled_and_guarded() {
        assert_eq!(epoch_fraction(0, 7999), 0.0);
        assert_eq!(epoch_fraction(7999, 7999), 1.0);
        assert_eq!(epoch_fraction(9000, 7999), 1.0);
        assert_eq!(epoch_fraction(3, 0), 0.0);
        // ln(1 + 99) / ln(1 + 9999) = 1/2.
        assert!((epoch_fraction(99, 9999) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn colour_bar_ticks_are_real_epochs_and_spaced() {
        let px = |e: u32| 500 - (epoch_fraction(e, 7999) * 500.0).round() as i32;
        let ticks = colour_bar_ticks(7999, px);
        assert_eq!(ticks.first(), Some(&0));
        assert_eq!(ticks.last(), Some(&7999));
        for w in ticks.windows(2) {
            assert!(w[0] < w[1]);
            assert!(px(w[0]).abs_diff(px(w[1])) >= BAR_TICK_GAP);
        }
        for t in [1, 10, 100, 1000] {
            assert!(ticks.contains(&t), "{t} missing from {ticks:?}");
        }
        assert_eq!(colour_bar_ticks(0, |_| 0), vec![0]);
    }

    #[test]
    fn empty_input_gives_axes_only() {
        let svg = plane_svg("", &[], 0).unwrap();
        assert!(svg.contains("I(X;T) (bits)"));
        assert!(svg.contains("I(T;Y) (bits)"));
        assert_eq!(count(&svg, "<circle"), 0);
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn non_finite_points_are_skipped() {
        let mut points = synthetic(&[0, 1], 3);
        let clean = plane_svg("x", &points, 1).unwrap();
        points.push(PlotPoint {
            epoch: 0,
            layer: 4,
            i_xt: f64::NAN,
            i_ty: 0.5,
        });
        points.push(PlotPoint {
            epoch: 1,
            layer: 4,
            i_xt: 0.5,
            i_ty: f64::INFINITY,
        });
        points.push(PlotPoint {
            epoch: 1,
            layer: 5,
            i_xt: f64::NEG_INFINITY,
            i_ty: f64::NAN,
        });
        points.push(PlotPoint {
            epoch: 2,
            layer: 1,
            i_xt: f64::NAN,
            i_ty: f64::NAN,
        });
        let svg = plane_svg("x", &points, 1).unwrap();
        assert_eq!(svg, clean);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn layers_are_joined_in_layer_order() {
        let mut points = synthetic(&[0], 3);
        points.reverse();
        let svg = plane_svg("x", &points, 0).unwrap();
        let ordered = plane_svg("x", &synthetic(&[0], 3), 0).unwrap();
        assert_eq!(svg, ordered);
    }

    #[test]
    fn axes_cover_data_and_at_least_one_bit() {
        assert_eq!(axis_range([0.2, 0.3].into_iter()).unwrap(), 0.0..1.0);
        let r = axis_range([11.0, 3.0].into_iter()).unwrap();
        assert_eq!(r.start, 0.0);
        assert!(r.end > 11.0 && r.end < 12.0);
        let r = axis_range([-0.1, 0.5].into_iter()).unwrap();
        assert!(r.start < -0.1);
        assert!(axis_range([f64::MAX].into_iter()).is_err());
    }

    #[test]
    fn huge_or_single_points_do_not_panic() {
        let one = [PlotPoint {
            epoch: 3,
            layer: 1,
            i_xt: 0.5,
            i_ty: 0.5,
        }];
        let svg = plane_svg("x", &one, 3).unwrap();
        assert_eq!(count(&svg, "<circle"), 1);
        let huge = [PlotPoint {
            epoch: 0,
            layer: 1,
            i_xt: f64::MAX,
            i_ty: 1.0,
        }];
        assert!(plane_svg("x", &huge, 0).is_err());
        let big = [PlotPoint {
            epoch: 0,
            layer: 1,
            i_xt: 1e300,
            i_ty: -1e300,
        }];
        assert!(plane_svg("x", &big, 0).is_ok());
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(-0.0001), "0");
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(1.25), "1.25");
        assert_eq!(tick_label(12.0), "12");
    }

    #[test]
    fn error_displays_its_message() {
        let e = PlotError("boom".to_owned());
        assert_eq!(e.to_string(), "cannot draw the information plane: boom");
    }
}
