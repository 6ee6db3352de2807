//! One description of a figure (series, seed bands, titles, axes, legend) that every front end
//! draws: the on-screen plot, the SVG and PNG exports, the CSV beside them and the lab report.
//! Nothing here knows about egui.

mod csv;
mod figure;
mod identity;
mod png;
mod svg;
mod ticks;

pub use csv::{csv_field, to_csv};
pub use figure::*;
pub use identity::{identity_color, identity_colors, identity_slot};
pub use png::to_png;
pub use svg::{quiet_corner, to_svg};
pub use ticks::format_number;
