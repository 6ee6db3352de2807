//! Loaders and generators of datasets. Nothing here imports egui.

pub mod catalog;
pub mod download;
pub mod folder;
pub mod graph;
pub mod seg;
