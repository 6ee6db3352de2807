//! The Datasets panel: the catalog, downloads and checks of the dataset folders.

pub mod cli;
pub mod download_job;
pub mod ui;
