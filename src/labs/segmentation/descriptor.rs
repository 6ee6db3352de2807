//! The Segmentation lab described once: its names, metric keys, main figure and the homework's
//! figures it is compared with.

use super::keys::{self, metric};
use crate::core::descriptor::{LabDescriptor, Metric, Reference, XAxis};

pub const DESCRIPTOR: LabDescriptor = LabDescriptor {
    id: keys::ID,
    title: "Segmentation",
    report_title: "Segmentation: U-Net",
    cli_aliases: &["seg"],
    summary: &[
        Metric::higher(metric::VAL_MIOU, XAxis::None),
        Metric::higher(metric::PIXEL_ACC, XAxis::None),
        Metric::lower(metric::TRAIN_LOSS, XAxis::None),
        Metric::neither(metric::SECONDS, XAxis::None),
        Metric::neither(metric::MS_PER_STEP, XAxis::None),
    ],
    curves: &[
        Metric::higher(metric::VAL_MIOU, XAxis::Epoch),
        Metric::lower(metric::TRAIN_LOSS, XAxis::Epoch),
        Metric::higher(metric::PIXEL_ACC, XAxis::Epoch),
        Metric::lower(metric::TRAIN_LOSS_STEP, XAxis::Step),
    ],
    references: &[
        Reference {
            tag: "skips on",
            datasets: &[],
            when: &[],
            what: "U-Net validation mIoU with skip connections",
            value: "about 0.78",
            source: "the homework",
        },
        Reference {
            tag: "skips off",
            datasets: &[],
            when: &[],
            what: "U-Net validation mIoU without skip connections",
            value: "about 0.68",
            source: "the homework",
        },
    ],
    report: None,
    config: Some(super::cli::print_config),
    sweep: Some(super::cli::SWEEP),
};
