//! A [`Figure`] as a PNG: its SVG rasterised by resvg with a font built into the binary, so the
//! picture is the same on every machine and needs no system fonts.

use std::sync::{Arc, OnceLock};

use super::{ExportSize, Figure, to_svg};

/// The font database: egui's own Ubuntu Light, which every gradlab binary already carries.
fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
        // Any family the SVG asks for ends on the embedded face.
        let family = db
            .faces()
            .next()
            .and_then(|f| f.families.first())
            .map(|f| f.0.clone());
        if let Some(name) = family {
            db.set_sans_serif_family(name.clone());
            db.set_serif_family(name.clone());
            db.set_monospace_family(name);
        }
        Arc::new(db)
    })
    .clone()
}

/// Renders `fig` to PNG bytes of exactly `size.width` x `size.height` pixels.
pub fn to_png(fig: &Figure, size: ExportSize) -> anyhow::Result<Vec<u8>> {
    let svg = to_svg(fig, size);
    let opt = resvg::usvg::Options {
        fontdb: fonts(),
        font_family: "Ubuntu".into(),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(&svg, &opt)?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width, size.height)
        .ok_or_else(|| anyhow::anyhow!("cannot make a {} x {} picture", size.width, size.height))?;
    let sx = size.width as f32 / tree.size().width();
    let sy = size.height as f32 / tree.size().height();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(sx, sy),
        &mut pixmap.as_mut(),
    );
    Ok(pixmap.encode_png()?)
}
