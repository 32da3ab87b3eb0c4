//! Helpers shared by the store tests.
#![allow(dead_code)]

use fixloop::features::{Feature, FixType};
use fixloop::feedback::records::FixId;
use fixloop::store::AppliedFix;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!(
            "fixloop-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fix whose id is `id` and whose values are derived from `n`.
pub fn fix(id: &str, n: u64) -> AppliedFix {
    AppliedFix {
        fix_id: FixId::new(id).unwrap(),
        feature: Feature::BassLevel,
        fix_type: FixType::EqBandCut,
        original_value: -3.0 - n as f64 * 0.001,
        target_value: -6.0,
        applied_value: -4.5,
        gap_before: 1.5,
    }
}

/// Segment files of a directory, sorted.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| fixloop::store::is_segment_name(p))
        .collect();
    v.sort();
    v
}

/// A tiny xorshift generator for reproducible "random" choices in tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
