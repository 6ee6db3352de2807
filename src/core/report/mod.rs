//! `gradlab report`: a lab report drawn from recorded runs, as `report.html` (self-contained),
//! `report.md` and `figures/` (SVG, PNG, CSV of every figure, PNG of every picture).

mod build;
mod doc;
mod from_store;
mod meta;
mod model;
mod write;

pub use build::blocks;
pub use build::sanitize;
pub use doc::{Block, Cell, to_html, to_markdown};
pub use from_store::{Selection, meta_now, parse_ids, report_run, select, utc_datetime};
pub use meta::ReportMeta;
pub use model::ReportRun;
pub use write::{ReportFiles, write_blocks, write_report};
