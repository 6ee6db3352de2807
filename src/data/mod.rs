//! Loaders and generators of datasets. Nothing here imports egui.

pub mod catalog;
pub mod download;
pub mod graph;
pub mod seg;
pub mod folder;
