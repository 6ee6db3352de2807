//! Where and with what a report was made, and the labs that draw its runs.

/// Where and with what the report was made.
#[derive(Clone, Debug, Default)]
pub struct ReportMeta {
    pub date: String,
    pub version: String,
    pub commit: Option<String>,
    pub machine: String,
    /// The labs this build knows, as their descriptors: how each lab's runs are drawn.
    pub labs: Vec<&'static crate::core::descriptor::LabDescriptor>,
}
