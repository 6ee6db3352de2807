//! Segmentation scores at threshold 0.5: IoU of each class, their mean (mIoU) and pixel accuracy.

use serde::{Deserialize, Serialize};

/// Pixel counts of a binary confusion matrix (class 1 = positive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl Confusion {
    pub fn add(&mut self, probs: &[f32], target: &[u8]) {
        for (&p, &t) in probs.iter().zip(target) {
            match (p > 0.5, t == 1) {
                (true, true) => self.tp += 1,
                (true, false) => self.fp += 1,
                (false, true) => self.fn_ += 1,
                (false, false) => self.tn += 1,
            }
        }
    }

    fn ratio(num: u64, den: u64) -> f64 {
        // A class absent from both prediction and target was segmented perfectly.
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    }

    /// IoU of class 0 and class 1.
    pub fn iou(&self) -> [f64; 2] {
        [
            Self::ratio(self.tn, self.tn + self.fp + self.fn_),
            Self::ratio(self.tp, self.tp + self.fp + self.fn_),
        ]
    }

    pub fn miou(&self) -> f64 {
        let [a, b] = self.iou();
        (a + b) / 2.0
    }

    pub fn pixel_acc(&self) -> f64 {
        Self::ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_on_hand_made_masks() {
        // target:     prediction:
        // 1 1 0 0     1 0 0 0
        // 1 1 0 0     1 1 1 0
        let target = [1, 1, 0, 0, 1, 1, 0, 0];
        let pred = [0.9, 0.1, 0.2, 0.0, 0.8, 0.7, 0.6, 0.4];
        let mut c = Confusion::default();
        c.add(&pred, &target);
        assert_eq!(
            c,
            Confusion {
                tp: 3,
                fp: 1,
                fn_: 1,
                tn: 3
            }
        );
        let [i0, i1] = c.iou();
        assert!((i1 - 3.0 / 5.0).abs() < 1e-12);
        assert!((i0 - 3.0 / 5.0).abs() < 1e-12);
        assert!((c.pixel_acc() - 6.0 / 8.0).abs() < 1e-12);
        // Asymmetric case: everything predicted as class 1.
        let mut c = Confusion::default();
        c.add(&[1.0; 4], &[1, 0, 0, 0]);
        assert_eq!(c.iou(), [0.0, 0.25]);
        assert!((c.miou() - 0.125).abs() < 1e-12);
        // Exactly 0.5 is not class 1.
        let mut c = Confusion::default();
        c.add(&[0.5], &[0]);
        assert_eq!(c.tn, 1);
    }

    #[test]
    fn perfect_prediction_of_an_empty_class_scores_one() {
        let mut c = Confusion::default();
        c.add(&[0.0, 0.1], &[0, 0]);
        assert_eq!(c.iou(), [1.0, 1.0]);
    }
}
