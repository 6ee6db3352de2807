//! One colour per configuration, the same in every view and every export: the Graphs and
//! Segmentation tabs, the Runs overlay and the lab report all ask here. The colour follows what
//! the configuration is (its model, skips on or off), read from its name as the labs write it
//! ("GCN cora seed 3", "U-Net shapes skips off seed 0"); any other configuration gets a colour
//! derived from its config key, so it too keeps one colour wherever it is drawn.

use super::PALETTE;

/// Palette slots by what a configuration's name says, first match wins.
const KNOWN: [(&str, usize); 5] = [
    ("skips on", 0),
    ("skips off", 1),
    ("GCN", 0),
    ("GAT", 1),
    ("MLP", 7),
];

/// Slots left for configurations [`KNOWN`] does not name.
const OTHER_SLOTS: [usize; 5] = [2, 3, 4, 5, 6];

/// The palette slot of a configuration named `name` (a run's name with or without its seed)
/// with config key `key`.
pub fn identity_slot(name: &str, key: &str) -> usize {
    let words: Vec<&str> = name.split_whitespace().collect();
    for (pattern, slot) in KNOWN {
        let pw: Vec<&str> = pattern.split_whitespace().collect();
        if words.windows(pw.len()).any(|w| w == pw.as_slice()) {
            return slot;
        }
    }
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    OTHER_SLOTS[(h % OTHER_SLOTS.len() as u64) as usize]
}

/// The colour of that configuration.
pub fn identity_color(name: &str, key: &str) -> [u8; 3] {
    PALETTE[identity_slot(name, key)]
}

/// Colours for configurations drawn together, by identity; when two of them would share one
/// (GCN on two datasets), the later one takes the next free slot so they stay apart.
pub fn identity_colors<'a>(configs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<[u8; 3]> {
    let mut used: Vec<usize> = Vec::new();
    configs
        .into_iter()
        .map(|(name, key)| {
            let mut slot = identity_slot(name, key);
            if used.contains(&slot)
                && let Some(free) = (0..PALETTE.len())
                    .map(|k| (slot + k) % PALETTE.len())
                    .find(|s| !used.contains(s))
            {
                slot = free;
            }
            used.push(slot);
            PALETTE[slot]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_skips_keep_their_colour_whatever_else_the_name_says() {
        assert_eq!(identity_slot("GCN cora seed 3", "a"), 0);
        assert_eq!(identity_slot("GCN synthetic", "b"), 0);
        assert_eq!(identity_slot("GAT on cora", "c"), 1);
        assert_eq!(identity_slot("MLP cora", "d"), 7);
        assert_eq!(identity_slot("U-Net shapes skips on seed 0", "e"), 0);
        assert_eq!(identity_slot("U-Net isbi skips off", "f"), 1);
        // Words, not substrings: "GCNX" is not GCN.
        let other = identity_slot("GCNX thing", "k1");
        assert!(OTHER_SLOTS.contains(&other));
        assert_eq!(other, identity_slot("renamed", "k1"), "by config key");
    }

    #[test]
    fn configurations_drawn_together_never_share_a_colour() {
        let c = identity_colors([("GCN cora", "a"), ("GAT cora", "b"), ("GCN synthetic", "c")]);
        assert_eq!(c[0], PALETTE[0]);
        assert_eq!(c[1], PALETTE[1]);
        assert_eq!(c[2], PALETTE[2]);
        // Order does not change who gets the identity colour when there is no clash.
        let d = identity_colors([("GAT cora", "b"), ("GCN cora", "a")]);
        assert_eq!(d, vec![PALETTE[1], PALETTE[0]]);
    }
}
