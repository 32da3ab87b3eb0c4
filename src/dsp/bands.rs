//! The seven analysis bands of SPEC §1 and the full range they tile: the band levels
//! the analyser measures and the band filters the fix stage runs are both built on
//! this one table.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A frequency band with edges in Hz, lower edge inclusive, upper edge exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Lower edge in Hz.
    pub low_hz: f64,
    /// Upper edge in Hz.
    pub high_hz: f64,
}

impl Band {
    /// The whole analysed range, 20 Hz–20 kHz: the reference of every band level.
    pub const FULL: Band = Band {
        low_hz: 20.0,
        high_hz: 20_000.0,
    };

    /// Whether `hz` lies in the band.
    pub fn contains(self, hz: f64) -> bool {
        hz >= self.low_hz && hz < self.high_hz
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn hz(v: f64) -> String {
            if v >= 1000.0 {
                format!("{}k", v / 1000.0)
            } else {
                format!("{v}")
            }
        }
        write!(f, "{}–{} Hz", hz(self.low_hz), hz(self.high_hz))
    }
}

/// The analysis bands, low to high: sub 20–60 Hz, bass 60–250 Hz, low mid 250–500 Hz,
/// mid 500 Hz–2 kHz, high mid 2–6 kHz, high 6–12 kHz, air 12–20 kHz (SPEC §1); they tile
/// [`Band::FULL`]. The band-level features name them in this order
/// ([`crate::features::Feature::BANDS`]).
pub const BANDS: [Band; BAND_COUNT] = [
    Band {
        low_hz: 20.0,
        high_hz: 60.0,
    },
    Band {
        low_hz: 60.0,
        high_hz: 250.0,
    },
    Band {
        low_hz: 250.0,
        high_hz: 500.0,
    },
    Band {
        low_hz: 500.0,
        high_hz: 2_000.0,
    },
    Band {
        low_hz: 2_000.0,
        high_hz: 6_000.0,
    },
    Band {
        low_hz: 6_000.0,
        high_hz: 12_000.0,
    },
    Band {
        low_hz: 12_000.0,
        high_hz: 20_000.0,
    },
];

/// Number of analysis bands.
pub const BAND_COUNT: usize = 7;
