//! The response model: how every feature of *this* track moves when the fix stage's
//! controls (output gain, the seven band gains, width) and the advisory actions (dynamics,
//! pumping) move. Built from the track's own measurements; the plan ([`super::plan`])
//! chooses the moves with it, and a test renders audio through the fix stage and checks
//! its predictions against re-analysis.
//!
//! **The spectrum.** With the analyser's [`SpectrumProfile`] (sixth-octave parts of the
//! long-term spectrum, each with its side-signal share `σ`), the model's grid is two points
//! per part, each with half its share of the L+R energy `d` and its `σ`. Without one (a
//! features file), the band levels give each band's share `r_b = 10^(L_b/10)` (bands not measured share
//! what the measured ones leave, by octave width), spread over
//! 24 points per band with a density per octave interpolated log-linearly between the band
//! centres, and `σ = W²/(1 + W²)` from the width (from the low-end width below 150 Hz).
//!
//! **Band gains** act through the fix stage's own filters ([`crate::dsp::BandLayout`],
//! RBJ biquads at the model's sample rate): the power gain at grid point `f` is
//! `P(f) = Π_k |H_k(f)|²`. Then, with `d(f)` the grid densities:
//!
//! - band level `L'_b = 10·log10(Σ_{f∈b} d P / Σ_f d P)`: a boost raises its own band by
//!   less than its gain (the total rises too) and lowers every other band;
//! - spectral centroid `C' = C · (Σ f d P / Σ d P) / (Σ f d)` (the model's centroid
//!   ratio applied to the measured one);
//! - loudness `+ 10·log10(Σ d K P / Σ d K)` with `K(f)` the power response of the
//!   BS.1770 K-weighting filter (its 48 kHz coefficients);
//! - true peak `+ 10·log10(Σ d P)`: an estimate (peaks scale with the broadband level),
//!   exact for the output gain, rough for EQ and width on limited masters, where the
//!   filters' phase shifts and the mixing of L and R move peaks that the limiter had
//!   aligned (measured: a 6 dB sub cut raised a loop's true peak by 2.9 dB, narrowing it
//!   to 0.7 raised it by 0.2 dB). For the true-peak ceiling the plan uses
//!   [`ResponseModel::peak_bound_db`] instead, a bound that cannot be exceeded:
//!   `|y| ≤ ‖h‖₁·max|x|` for the EQ's impulse response `h`, which oversampling (a linear
//!   filter too) keeps, times `max(1, w)` for the width (`L' = ((1 + w)L + (1 − w)R)/2`).
//!
//! The L+R energy of a grid point is `d·(1 − σ + w²σ)` under a width `w` (mid kept, side
//! scaled), so all of the above use `d·P·(1 − σ + w²σ)`.
//!
//! **Output gain** `g` adds `g` to loudness and true peak and leaves the peak-to-loudness
//! ratio, the band levels and everything else alone.
//!
//! **Width** scales the side signal by `w` (the fix stage is full-band mid/side, so the low
//! end widens too). With `ΔS = Σ d σ P w² / Σ d σ` and `ΔM = Σ d (1 − σ) P / Σ d (1 − σ)`
//! the side and mid energy ratios (EQ moves them too where side and mid spectra differ):
//! `stereo_width' = W·√(ΔS/ΔM)`; `low_end_width'` the same with every point weighted by
//! the analyser's 150 Hz Linkwitz–Riley low-pass, `1/(1 + (f/150)⁴)²`; the correlation,
//! through the width of an uncorrelated mid/side pair with that correlation
//! `W_ρ = √((1 − ρ)/(1 + ρ))` scaled by `√(ΔS/ΔM)`, becomes `(1 − W'²)/(1 + W'²)`.
//!
//! **Dynamics** (advisory: compression or limiting, `d` dB of peak-to-loudness ratio,
//! negative = harder) at a held true peak, the way a master limiter's ceiling is held:
//! loudness `− d`, PLR `+ d`, and the loudness range in proportion,
//! `LRA' = LRA · (PLR + d)/PLR`.
//!
//! **Pumping** (advisory, `p` dB): modulation depth `+ p`.
//!
//! Effects are summed in dB, so the model is exact for each move alone in the ideal cases
//! the unit tests check, and an approximation for combinations (a band move also changes
//! how much a width move weighs, and so on); the audio test bounds its error.

use crate::dsp::{BandLayout, Coefficients, BANDS, BAND_COUNT};
use crate::features::{Feature, FeatureVector, SpectrumProfile};

/// Grid points per band.
const POINTS_PER_BAND: usize = 24;

/// The moves of a plan: the fix stage's controls and the advisory actions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moves {
    /// Output gain, dB.
    pub gain_db: f64,
    /// Band gains, dB, sub … air.
    pub band_db: [f64; BAND_COUNT],
    /// Side gain ratio (1 = unchanged).
    pub width: f64,
    /// Change of the peak-to-loudness ratio by compression or limiting at a held true
    /// peak, dB (negative = harder).
    pub dynamics_db: f64,
    /// Change of the pumping (modulation) depth, dB.
    pub pumping_db: f64,
}

impl Moves {
    /// No move at all.
    pub const NONE: Moves = Moves {
        gain_db: 0.0,
        band_db: [0.0; BAND_COUNT],
        width: 1.0,
        dynamics_db: 0.0,
        pumping_db: 0.0,
    };
}

impl Moves {
    /// The fix stage's settings for these moves (the advisory dynamics and pumping have no
    /// control and are left out).
    pub fn fix_settings(&self) -> crate::dsp::FixSettings {
        let mut band_gain_db = [0.0f32; BAND_COUNT];
        for (s, g) in band_gain_db.iter_mut().zip(&self.band_db) {
            *s = *g as f32;
        }
        crate::dsp::FixSettings {
            output_gain_db: self.gain_db as f32,
            band_gain_db,
            width_ratio: self.width as f32,
        }
    }

    /// The moves one fix asks for, its parts' included (`None` for the fixes the model has
    /// no move for: a loudness-range change, added content or width). A tilt is the seven
    /// band gains it amounts to.
    pub fn of_fix(fix: &super::Fix) -> Option<Moves> {
        let mut m = Moves::NONE;
        m.add(fix.gap_feature, &fix.setting)?;
        for part in &fix.parts {
            m.add(part.feature, &part.setting)?;
        }
        Some(m)
    }

    /// Adds the move of `setting` (for `feature`); `None` for a setting the model has no
    /// move for.
    fn add(&mut self, feature: Feature, setting: &super::FixSetting) -> Option<()> {
        use super::FixSetting as S;
        let m = self;
        match *setting {
            S::Gain { gain_db } => m.gain_db = gain_db,
            S::EqBand {
                low_hz,
                high_hz,
                gain_db,
            } => m.band_db[BandLayout::index_of(low_hz, high_hz)?] = gain_db,
            S::Width { width_ratio } => m.width = width_ratio,
            S::Dynamics { change_db } if feature != Feature::LoudnessRange => {
                m.dynamics_db = change_db
            }
            S::Pumping { change_db } => m.pumping_db = change_db,
            // A tilt as the seven band gains it amounts to: the slope times each band's
            // geometric centre's octaves from the pivot.
            S::EqTilt {
                pivot_hz,
                slope_db_per_octave,
            } => {
                for (g, b) in m.band_db.iter_mut().zip(BANDS) {
                    let centre = (b.low_hz * b.high_hz).sqrt();
                    *g += slope_db_per_octave * (centre / pivot_hz).log2();
                }
            }
            _ => return None,
        }
        Some(())
    }

    /// A fraction `k` of these moves: every dB move times `k`, the width ratio to the
    /// power `k` (a producer setting a fix part way).
    pub fn scaled(&self, k: f64) -> Moves {
        let mut band_db = self.band_db;
        for g in &mut band_db {
            *g *= k;
        }
        Moves {
            gain_db: self.gain_db * k,
            band_db,
            width: self.width.max(0.0).powf(k),
            dynamics_db: self.dynamics_db * k,
            pumping_db: self.pumping_db * k,
        }
    }

    /// These moves without the advisory actions: what the fix stage itself does.
    pub fn controls_only(&self) -> Moves {
        Moves {
            dynamics_db: 0.0,
            pumping_db: 0.0,
            ..*self
        }
    }

    /// Whether any control of the fix stage moves (not only the advisory actions).
    pub fn moves_a_control(&self) -> bool {
        self.gain_db != 0.0 || self.moves_eq_or_width()
    }

    /// Whether a band or the width moves (where a true-peak estimate is only an estimate).
    pub fn moves_eq_or_width(&self) -> bool {
        self.width != 1.0 || self.band_db.iter().any(|&g| g != 0.0)
    }
}

impl Default for Moves {
    fn default() -> Self {
        Moves::NONE
    }
}

/// The response model of one track (see the module doc).
#[derive(Clone, Debug)]
pub struct ResponseModel {
    current: FeatureVector,
    sample_rate_hz: f64,
    layout: [BandLayout; BAND_COUNT],
    /// Grid frequencies, their energy shares (sum 1), K-weighting power gains, bands.
    freq_hz: Vec<f64>,
    density: Vec<f64>,
    k_weight: Vec<f64>,
    band_of: Vec<usize>,
    /// Side share of each grid point's L+R energy, and its weight in the low-end width.
    side: Vec<f64>,
    /// Level imbalance of each grid point, `(L² − R²)/(L² + R²)`.
    balance: Vec<f64>,
    low_pass: Vec<f64>,
    /// Σ f·d over the grid (the model's own centroid of the unmodified track).
    centroid0: f64,
    /// Σ d·K (the K-weighted energy of the unmodified track).
    k_energy0: f64,
    /// Each band's share of the grid's energy (what its measured level is anchored to).
    band_energy0: [f64; BAND_COUNT],
}

/// A model grid: frequencies, energy shares, bands, side shares, level imbalances.
type Grid = (Vec<f64>, Vec<f64>, Vec<usize>, Vec<f64>, Vec<f64>);

/// BS.1770-4 K-weighting (pre-filter and RLB high-pass) at 48 kHz.
fn k_weighting_power(freq_hz: f64) -> f64 {
    let stage = |b: [f64; 3], a: [f64; 2]| Coefficients {
        b0: b[0],
        b1: b[1],
        b2: b[2],
        a1: a[0],
        a2: a[1],
    };
    let pre = stage(
        [
            1.535_124_859_586_97,
            -2.691_696_189_406_38,
            1.198_392_810_852_85,
        ],
        [-1.690_659_293_182_41, 0.732_480_774_215_85],
    );
    let rlb = stage(
        [1.0, -2.0, 1.0],
        [-1.990_047_454_833_98, 0.990_072_250_366_21],
    );
    let db = pre.magnitude_db(freq_hz, 48_000.0) + rlb.magnitude_db(freq_hz, 48_000.0);
    10f64.powf(db / 10.0)
}

impl ResponseModel {
    /// The model of a track with features `current` and, when known, its spectrum profile
    /// (much more accurate: see the module doc), for a fix stage running at
    /// `sample_rate_hz`. Bands without a level (absent) hold no energy.
    pub fn new(
        current: &FeatureVector,
        spectrum: Option<&SpectrumProfile>,
        sample_rate_hz: f64,
    ) -> ResponseModel {
        let (freq_hz, density, band_of, side, balance) =
            match spectrum.filter(|s| !s.parts.is_empty()) {
                Some(s) => Self::grid_of_profile(s),
                None => Self::grid_of_bands(current),
            };
        let k_weight: Vec<f64> = freq_hz.iter().map(|&f| k_weighting_power(f)).collect();
        let low_pass: Vec<f64> = freq_hz
            .iter()
            .map(|&f| 1.0 / (1.0 + (f / 150.0).powi(4)).powi(2))
            .collect();
        let in_band = |i: usize| band_of[i] < BAND_COUNT;
        let centroid0 = (0..freq_hz.len())
            .filter(|&i| in_band(i))
            .map(|i| freq_hz[i] * density[i])
            .sum();
        let k_energy0 = density.iter().zip(&k_weight).map(|(d, k)| d * k).sum();
        let mut band_energy0 = [0.0; BAND_COUNT];
        for (d, &b) in density.iter().zip(&band_of) {
            if b < BAND_COUNT {
                band_energy0[b] += d;
            }
        }
        let rate = if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 {
            sample_rate_hz
        } else {
            48_000.0
        };
        ResponseModel {
            current: *current,
            sample_rate_hz: rate,
            layout: BandLayout::all(),
            freq_hz,
            density,
            k_weight,
            band_of,
            side,
            balance,
            low_pass,
            centroid0,
            k_energy0,
            band_energy0,
        }
    }

    /// Two points per part of the profile.
    fn grid_of_profile(s: &SpectrumProfile) -> Grid {
        let mut grid: Grid = Default::default();
        for p in &s.parts {
            for t in [0.25, 0.75] {
                grid.0.push(p.low_hz * (p.high_hz / p.low_hz).powf(t));
                grid.1.push(0.5 * p.power_share);
                grid.2.push(p.band.min(BAND_COUNT));
                grid.3.push(p.side_share);
                grid.4.push(p.balance);
            }
        }
        grid
    }

    /// The band levels spread over 24 points per band (see the module doc).
    fn grid_of_bands(current: &FeatureVector) -> Grid {
        let known: Vec<Option<f64>> = Feature::BANDS
            .iter()
            .map(|&f| current.value(f).map(|l| 10f64.powf(l.min(0.0) / 10.0)))
            .collect();
        // Bands not measured share what the measured ones leave, by their octave widths.
        let rest = (1.0 - known.iter().flatten().sum::<f64>()).max(0.0);
        let unknown_octaves: f64 = BANDS
            .iter()
            .zip(&known)
            .filter(|(_, k)| k.is_none())
            .map(|(b, _)| (b.high_hz / b.low_hz).log2())
            .sum();
        let shares: Vec<f64> = BANDS
            .iter()
            .zip(&known)
            .map(|(b, k)| {
                k.unwrap_or_else(|| {
                    if unknown_octaves > 0.0 {
                        rest * (b.high_hz / b.low_hz).log2() / unknown_octaves
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let total: f64 = shares.iter().sum::<f64>().max(1e-300);
        let shares: Vec<f64> = shares.iter().map(|r| r / total).collect();
        // Density per octave at each band's log-centre, floored for the logarithm.
        let centre: Vec<f64> = BANDS
            .iter()
            .map(|b| (b.low_hz * b.high_hz).sqrt().log2())
            .collect();
        let log_density: Vec<f64> = BANDS
            .iter()
            .zip(&shares)
            .map(|(b, r)| (r / (b.high_hz / b.low_hz).log2()).max(1e-30).ln())
            .collect();
        let interpolate = |x: f64| -> f64 {
            if x <= centre[0] {
                return log_density[0];
            }
            for i in 1..BAND_COUNT {
                if x <= centre[i] {
                    let t = (x - centre[i - 1]) / (centre[i] - centre[i - 1]);
                    return log_density[i - 1] + t * (log_density[i] - log_density[i - 1]);
                }
            }
            log_density[BAND_COUNT - 1]
        };
        let mut freq_hz = Vec::with_capacity(BAND_COUNT * POINTS_PER_BAND);
        let mut density = Vec::with_capacity(freq_hz.capacity());
        let mut band_of = Vec::with_capacity(freq_hz.capacity());
        for (b, band) in BANDS.iter().enumerate() {
            let (lo, hi) = (band.low_hz.log2(), band.high_hz.log2());
            let step = (hi - lo) / POINTS_PER_BAND as f64;
            let xs: Vec<f64> = (0..POINTS_PER_BAND)
                .map(|i| lo + (i as f64 + 0.5) * step)
                .collect();
            let raw: Vec<f64> = xs.iter().map(|&x| interpolate(x).exp()).collect();
            let sum: f64 = raw.iter().sum::<f64>().max(1e-300);
            for (x, d) in xs.iter().zip(raw) {
                freq_hz.push(x.exp2());
                density.push(shares[b] * d / sum);
                band_of.push(b);
            }
        }
        let side_of = |w: f64| w * w / (1.0 + w * w);
        let wide = side_of(current.value(Feature::StereoWidth).unwrap_or(0.0));
        let low = current.value(Feature::LowEndWidth).map_or(wide, side_of);
        let side = freq_hz
            .iter()
            .map(|&f| if f < 150.0 { low } else { wide })
            .collect();
        let balance = vec![0.0; freq_hz.len()];
        (freq_hz, density, band_of, side, balance)
    }

    /// The track's measured features.
    pub fn current(&self) -> &FeatureVector {
        &self.current
    }

    /// The power gain of the band filters at every grid point.
    pub(crate) fn band_power(&self, band_db: &[f64; BAND_COUNT]) -> Vec<f64> {
        let mut p = vec![1.0; self.freq_hz.len()];
        for (k, &g) in band_db.iter().enumerate() {
            if g != 0.0 {
                for (pi, r) in p.iter_mut().zip(self.one_band_power(k, g)) {
                    *pi *= r;
                }
            }
        }
        p
    }

    /// The power gain of band filter `k` at `gain_db` at every grid point.
    pub(crate) fn one_band_power(&self, k: usize, gain_db: f64) -> Vec<f64> {
        if gain_db == 0.0 {
            return vec![1.0; self.freq_hz.len()];
        }
        let l = self.layout[k];
        let c = Coefficients::design(l.shape, l.freq_hz, l.q, gain_db, self.sample_rate_hz);
        self.freq_hz
            .iter()
            .map(|&f| {
                if f < 0.5 * self.sample_rate_hz {
                    10f64.powf(c.magnitude_db(f, self.sample_rate_hz) / 10.0)
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// An upper bound of the true peak after `moves`, dBTP: the measured true peak plus
    /// the output gain, `20·log10 ‖h‖₁` of the band filters' cascade (its impulse
    /// response over 2¹⁵ samples) and `20·log10 max(1, w)`. A limiter's or dynamics move
    /// holds the peak. `None` without a measured true peak.
    pub fn peak_bound_db(&self, moves: &Moves) -> Option<f64> {
        let tp = self.current.value(Feature::TruePeak)?;
        let mut filters: Vec<crate::dsp::Biquad> = Vec::new();
        for (k, &g) in moves.band_db.iter().enumerate() {
            if g != 0.0 {
                let l = self.layout[k];
                let mut f = crate::dsp::Biquad::default();
                f.set_coefficients(Coefficients::design(
                    l.shape,
                    l.freq_hz,
                    l.q,
                    g,
                    self.sample_rate_hz,
                ));
                filters.push(f);
            }
        }
        let mut l1 = 0.0;
        if filters.is_empty() {
            l1 = 1.0;
        } else {
            for n in 0..(1 << 15) {
                let mut x = if n == 0 { 1.0 } else { 0.0 };
                for f in &mut filters {
                    x = f.process(x);
                }
                l1 += x.abs();
            }
        }
        let width_db = 20.0 * moves.width.max(1.0).log10();
        Some(tp + moves.gain_db + 20.0 * f64::log10(l1) + width_db)
    }

    /// The features predicted after `moves`; a feature the track does not have stays
    /// absent.
    pub fn predict(&self, moves: &Moves) -> FeatureVector {
        self.predict_with_eq(moves, &self.band_power(&moves.band_db))
    }

    /// [`predict`](Self::predict) with the band filters' power gain `eq` at every grid
    /// point already known (the plan's search reuses it).
    pub(crate) fn predict_with_eq(&self, moves: &Moves, eq: &[f64]) -> FeatureVector {
        let v = |f: Feature| self.current.value(f);
        let w2 = moves.width.max(0.0).powi(2);
        // L+R power gain of each grid point: EQ times the width's share.
        let p: Vec<f64> = eq
            .iter()
            .zip(&self.side)
            .map(|(e, s)| e * (1.0 - s + w2 * s))
            .collect();
        let sum = |weight: &dyn Fn(usize) -> f64| -> f64 {
            (0..self.density.len())
                .map(|i| weight(i) * self.density[i])
                .sum()
        };
        let energy = sum(&|i| p[i]).max(1e-300);
        // The bands' reference: 20 Hz–20 kHz only (as the analyser's band levels).
        let in_band = |i: usize| self.band_of[i] < BAND_COUNT;
        let band_energy = sum(&|i| if in_band(i) { p[i] } else { 0.0 }).max(1e-300);
        let band_energy0 = self.band_energy0.iter().sum::<f64>().max(1e-300);
        let k_energy = sum(&|i| p[i] * self.k_weight[i]);
        let loudness_db = 10.0 * (k_energy.max(1e-300) / self.k_energy0.max(1e-300)).log10();
        let energy0 = sum(&|_| 1.0).max(1e-300);
        let peak_db = 10.0 * (energy / energy0).log10();
        // Side and mid energy ratios, full band and under the 150 Hz low-pass.
        let ratio = |lp: bool| -> Option<f64> {
            let wt = |i: usize| if lp { self.low_pass[i] } else { 1.0 };
            let s0 = sum(&|i| wt(i) * self.side[i]);
            let m0 = sum(&|i| wt(i) * (1.0 - self.side[i]));
            let s1 = sum(&|i| wt(i) * self.side[i] * eq[i] * w2);
            let m1 = sum(&|i| wt(i) * (1.0 - self.side[i]) * eq[i]);
            (s0 > 1e-300 && m0 > 1e-300 && m1 > 1e-300).then(|| ((s1 / s0) / (m1 / m0)).sqrt())
        };
        let plain = moves.width.max(0.0);
        let width_ratio = ratio(false).unwrap_or(plain);
        let low_ratio = ratio(true).unwrap_or(plain);

        let mut out = self.current;
        let mut set = |f: Feature, x: Option<f64>| {
            if let Some(x) = x.filter(|x| x.is_finite()) {
                let _ = out.set(f, x);
            }
        };
        set(
            Feature::Loudness,
            v(Feature::Loudness).map(|l| l + moves.gain_db + loudness_db - moves.dynamics_db),
        );
        set(
            Feature::TruePeak,
            v(Feature::TruePeak).map(|t| t + moves.gain_db + peak_db),
        );
        // PLR: the measured one plus the peak's change minus the loudness's.
        let plr0 = v(Feature::Plr);
        set(
            Feature::Plr,
            plr0.map(|x| x + peak_db - loudness_db + moves.dynamics_db),
        );
        if let (Some(lra), Some(p0)) = (v(Feature::LoudnessRange), plr0) {
            if p0 > 0.1 {
                set(
                    Feature::LoudnessRange,
                    Some((lra * (p0 + moves.dynamics_db) / p0).max(0.0)),
                );
            }
        }
        for (b, &f) in Feature::BANDS.iter().enumerate() {
            let Some(level) = v(f) else {
                continue;
            };
            if self.band_energy0[b] <= 0.0 {
                continue;
            }
            let e = sum(&|i| if self.band_of[i] == b { p[i] } else { 0.0 });
            // The measured level, moved by the band's own gain less the total's.
            let moved = level + 10.0 * (e.max(1e-300) / self.band_energy0[b]).log10()
                - 10.0 * (band_energy / band_energy0).log10();
            set(f, Some(moved.max(crate::features::BAND_FLOOR_DB)));
        }
        if let Some(c) = v(Feature::SpectralCentroid) {
            let moved = sum(&|i| {
                if in_band(i) {
                    self.freq_hz[i] * p[i]
                } else {
                    0.0
                }
            }) / band_energy;
            set(
                Feature::SpectralCentroid,
                Some(c * moved / self.centroid0.max(1e-300)),
            );
        }
        set(
            Feature::StereoWidth,
            v(Feature::StereoWidth).map(|x| x * width_ratio),
        );
        set(
            Feature::LowEndWidth,
            v(Feature::LowEndWidth).map(|x| x * low_ratio),
        );
        // Pearson correlation from mid, side and their cross term (L = M + S, R = M − S:
        // LR = M² − S², L² R² = (M² + S²)² − 4(MS)², MS = (L² − R²)/4), each point's
        // moved by the EQ (P) and the side gain (w), before and after; the measured
        // correlation moves by the difference.
        let correlation = |eq: &dyn Fn(usize) -> f64, w: f64| -> Option<f64> {
            let m = sum(&|i| 0.5 * (1.0 - self.side[i]) * eq(i));
            let s = sum(&|i| 0.5 * self.side[i] * eq(i) * w * w);
            let ms = sum(&|i| 0.25 * self.balance[i] * eq(i) * w);
            let den = ((m + s).powi(2) - 4.0 * ms * ms).max(0.0).sqrt();
            (den > 1e-300).then(|| (m - s) / den)
        };
        let rho_after = correlation(&|i| eq[i], moves.width.max(0.0));
        let rho_before = correlation(&|_| 1.0, 1.0);
        set(
            Feature::StereoCorrelation,
            v(Feature::StereoCorrelation).map(|rho| match (rho_after, rho_before) {
                (Some(after), Some(before)) => (rho + after - before).clamp(-1.0, 1.0),
                _ => rho,
            }),
        );
        set(
            Feature::ModulationDepth,
            v(Feature::ModulationDepth).map(|m| (m + moves.pumping_db).max(0.0)),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track() -> FeatureVector {
        FeatureVector::from_pairs([
            ("loudness", -10.0),
            ("true_peak", -1.0),
            ("plr", 9.0),
            ("loudness_range", 6.0),
            ("sub_level", -8.0),
            ("bass_level", -3.0),
            ("low_mid_level", -9.0),
            ("mid_level", -10.0),
            ("high_mid_level", -16.0),
            ("high_level", -22.0),
            ("air_level", -30.0),
            ("spectral_centroid", 900.0),
            ("stereo_width", 0.5),
            ("stereo_correlation", 0.6),
            ("low_end_width", 0.1),
            ("modulation_depth", 4.0),
        ])
        .unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn no_move_predicts_the_track() {
        let m = ResponseModel::new(&track(), None, 48_000.0);
        let p = m.predict(&Moves::NONE);
        for f in Feature::ALL {
            let (a, b) = (p.value(f).unwrap(), track().value(f).unwrap());
            assert!(close(a, b, 1e-9), "{f}: {a} vs {b}");
        }
    }

    #[test]
    fn output_gain_moves_loudness_and_peak_one_for_one_and_nothing_else() {
        let m = ResponseModel::new(&track(), None, 48_000.0);
        let base = m.predict(&Moves::NONE);
        let p = m.predict(&Moves {
            gain_db: 2.5,
            ..Moves::NONE
        });
        for f in Feature::ALL {
            let d = p.value(f).unwrap() - base.value(f).unwrap();
            let want = if matches!(f, Feature::Loudness | Feature::TruePeak) {
                2.5
            } else {
                0.0
            };
            assert!(close(d, want, 1e-9), "{f}: {d}");
        }
    }

    #[test]
    fn a_band_boost_raises_its_band_by_less_than_its_gain_and_lowers_the_others() {
        let m = ResponseModel::new(&track(), None, 48_000.0);
        let base = m.predict(&Moves::NONE);
        let mut band_db = [0.0; BAND_COUNT];
        band_db[3] = 3.0; // mid
        let p = m.predict(&Moves {
            band_db,
            ..Moves::NONE
        });
        let d = |f: Feature| p.value(f).unwrap() - base.value(f).unwrap();
        assert!(d(Feature::MidLevel) > 1.0 && d(Feature::MidLevel) < 3.0);
        for f in [Feature::SubLevel, Feature::BassLevel, Feature::AirLevel] {
            assert!(d(f) < 0.0, "{f}: {}", d(f));
        }
        // Closed form with an ideal band of the peak's average gain g over the band and
        // share r: ΔL = 10·log10(g) − 10·log10(1 − r + g·r) for that band.
        let r = 10f64.powf(base.value(Feature::MidLevel).unwrap() / 10.0);
        let g = 10f64
            .powf((d(Feature::MidLevel) + 10.0 * (1.0 - r + 10f64.powf(0.3) * r).log10()) / 10.0);
        assert!(g > 1.0 && g < 2.0, "{g}");
        assert!(d(Feature::Plr).abs() < 0.5, "EQ barely moves the PLR");
        assert!(d(Feature::SpectralCentroid) > 0.0);
    }

    #[test]
    fn width_follows_its_closed_forms() {
        // The same side share everywhere (low-end width = width), so the closed forms of a
        // uniform image hold exactly.
        let mut t = track();
        t.set(Feature::LowEndWidth, 0.5).unwrap();
        let m = ResponseModel::new(&t, None, 48_000.0);
        let p = m.predict(&Moves {
            width: 0.8,
            ..Moves::NONE
        });
        assert!(close(p.value(Feature::StereoWidth).unwrap(), 0.4, 1e-9));
        assert!(close(p.value(Feature::LowEndWidth).unwrap(), 0.4, 1e-9));
        // Balanced channels with W = 0.5: ρ_model = (1 − 0.25)/(1 + 0.25) = 0.6, and with
        // w² W² = 0.16, (1 − 0.16)/(1 + 0.16); the measured 0.6 moves by the difference.
        assert!(close(
            p.value(Feature::StereoCorrelation).unwrap(),
            0.6 + 0.84 / 1.16 - 0.6,
            1e-9
        ));
        // Energy (1 + 0.16)/(1 + 0.25) of L+R.
        let db = 10.0 * (1.16f64 / 1.25).log10();
        assert!(close(p.value(Feature::Loudness).unwrap(), -10.0 + db, 1e-9));
        assert!(close(p.value(Feature::Plr).unwrap(), 9.0, 1e-9));
    }

    #[test]
    fn dynamics_hold_the_peak_and_trade_plr_for_loudness() {
        let m = ResponseModel::new(&track(), None, 48_000.0);
        let p = m.predict(&Moves {
            dynamics_db: -3.0,
            ..Moves::NONE
        });
        assert!(close(p.value(Feature::TruePeak).unwrap(), -1.0, 1e-9));
        assert!(close(p.value(Feature::Loudness).unwrap(), -7.0, 1e-9));
        assert!(close(p.value(Feature::Plr).unwrap(), 6.0, 1e-9));
        assert!(close(p.value(Feature::LoudnessRange).unwrap(), 4.0, 1e-9));
    }
}
