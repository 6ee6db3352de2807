//! Exported figures: the SVG is well-formed XML with its title, axis labels, legend entries and
//! one path per series; the same figure gives the same bytes (golden files); the PNG has the
//! chosen size and is not blank.
//!
//! `GRADLAB_UPDATE_GOLDEN=1 cargo test --test figures` rewrites the golden files after an
//! intended change of the drawing.

use std::path::PathBuf;

use gradlab::core::figures::{
    ExportSize, Figure, Legend, PALETTE, Series, Stroke, seed_group, to_csv, to_png, to_svg,
};

/// A figure with a seed group (band + thin seed lines), a dashed curve and a log axis case.
fn sample() -> Figure {
    let curve = |a: f64, k: usize| -> Vec<[f64; 2]> {
        (0..60)
            .map(|i| {
                let x = i as f64;
                [
                    x,
                    a * (1.0 - (-x / 12.0).exp()) + 0.01 * ((i * 7 + k * 5) % 9) as f64,
                ]
            })
            .collect()
    };
    let mut f = Figure::new("Validation accuracy on Cora", "epoch", "accuracy");
    let seeds: Vec<(String, Vec<[f64; 2]>)> =
        (0..3).map(|k| (format!("r{k}"), curve(0.8, k))).collect();
    f.series.extend(seed_group("GCN", PALETTE[0], &seeds));
    f.series.push(Series {
        name: "MLP".into(),
        color: PALETTE[1],
        points: curve(0.55, 9),
        stroke: Stroke::Dashed,
        ..Default::default()
    });
    f
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn check_golden(name: &str, bytes: &[u8]) {
    let path = golden(name);
    if std::env::var_os("GRADLAB_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (GRADLAB_UPDATE_GOLDEN=1 writes it)",
            path.display()
        )
    });
    assert!(
        want == bytes,
        "{} differs from the golden file (GRADLAB_UPDATE_GOLDEN=1 after an intended change)",
        path.display()
    );
}

#[test]
fn svg_has_title_axis_labels_legend_and_one_path_per_series() {
    let f = sample();
    let svg = to_svg(&f, ExportSize::DEFAULT);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("width"), Some("1800"));
    assert_eq!(root.attribute("height"), Some("1000"));
    let text_of = |class: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .filter_map(|n| n.text().map(str::to_string))
            .collect()
    };
    assert_eq!(text_of("title"), ["Validation accuracy on Cora"]);
    assert_eq!(text_of("xlabel"), ["epoch"]);
    assert_eq!(text_of("ylabel"), ["accuracy"]);
    // Seeds stay out of the legend: one entry for the group (with n), one for MLP.
    assert_eq!(text_of("legend-entry"), ["GCN (mean ± std, n = 3)", "MLP"]);
    let paths: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .collect();
    assert_eq!(paths.len(), f.series.len());
    for (p, s) in paths.iter().zip(&f.series) {
        assert_eq!(p.attribute("data-series"), Some(s.name.as_str()));
        let d = p.attribute("d").unwrap();
        assert_eq!(
            d.matches('M').count(),
            1,
            "one unbroken path for {}",
            s.name
        );
        assert_eq!(d.matches('L').count(), s.points.len() - 1);
    }
    assert_eq!(
        doc.descendants()
            .filter(|n| n.attribute("class") == Some("band"))
            .count(),
        1
    );
}

#[test]
fn same_figure_gives_the_same_svg_and_csv_bytes_as_the_golden_files() {
    let f = sample();
    check_golden("figure.svg", to_svg(&f, ExportSize::DEFAULT).as_bytes());
    check_golden("figure.csv", to_csv(&f).as_bytes());
    let mut log = sample();
    log.y.log = true;
    log.legend = Legend::Outside;
    check_golden(
        "figure_log_outside.svg",
        to_svg(&log, ExportSize::ONE_COLUMN).as_bytes(),
    );
}

#[test]
fn png_has_the_chosen_size_is_not_blank_and_is_deterministic() {
    let f = sample();
    for (_, size) in ExportSize::PRESETS {
        let png = to_png(&f, size).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (size.width, size.height));
        let non_white = img.pixels().filter(|p| p.0[..3] != [255, 255, 255]).count();
        let frac = non_white as f64 / (size.width * size.height) as f64;
        assert!(frac > 0.01 && frac < 0.5, "ink covers {frac}");
        // Text is drawn: the title row (top 6 %) has dark pixels.
        let title_rows = (size.height as f64 * 0.06) as u32;
        let dark_in_title = (0..title_rows)
            .flat_map(|y| (0..size.width).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
            .count();
        assert!(
            dark_in_title > 50,
            "no title text drawn ({dark_in_title} dark pixels)"
        );
        assert_eq!(png, to_png(&f, size).unwrap(), "same input, same bytes");
    }
}
