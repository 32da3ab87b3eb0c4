//! Known-answer tests of the streaming analyser. Every expected value names its source.

mod common;

use common::*;
use fixloop::features::{Absent, Analyser, Feature, FeatureVector, Measurement};

fn value(v: &FeatureVector, f: Feature) -> f64 {
    v.value(f)
        .unwrap_or_else(|| panic!("{f} is absent: {:?}", v.get(f)))
}

fn stereo_sine_loudness(segments: &[(f64, f64)]) -> FeatureVector {
    // (seconds, peak dBFS) segments of a 1 kHz sine, identical in L and R.
    let parts: Vec<Vec<f32>> = segments
        .iter()
        .map(|&(s, db)| sine(RATE, 1000.0, db, s, 0.0))
        .collect();
    let x = concat(&parts);
    analyse(RATE, &x, &x)
}

// EBU Tech 3341 (2016), table 1: the expected integrated loudness of each synthetic case
// is −23.0 ± 0.1 LUFS (case 2: −33.0). The SPEC's measured note puts ebur128's histogram
// quantisation at up to 0.05 LU of that budget.
#[test]
fn tech_3341_case_1_sine_at_minus_23() {
    let v = stereo_sine_loudness(&[(20.0, -23.0)]);
    let l = value(&v, Feature::Loudness);
    assert!((l + 23.0).abs() <= 0.1, "{l}");
}

#[test]
fn tech_3341_case_2_sine_at_minus_33() {
    let v = stereo_sine_loudness(&[(20.0, -33.0)]);
    let l = value(&v, Feature::Loudness);
    assert!((l + 33.0).abs() <= 0.1, "{l}");
}

#[test]
fn tech_3341_case_3_relative_gate() {
    let v = stereo_sine_loudness(&[(10.0, -36.0), (60.0, -23.0), (10.0, -36.0)]);
    let l = value(&v, Feature::Loudness);
    assert!((l + 23.0).abs() <= 0.1, "{l}");
}

#[test]
fn tech_3341_case_4_absolute_and_relative_gates() {
    let v = stereo_sine_loudness(&[
        (10.0, -72.0),
        (10.0, -36.0),
        (60.0, -23.0),
        (10.0, -36.0),
        (10.0, -72.0),
    ]);
    let l = value(&v, Feature::Loudness);
    assert!((l + 23.0).abs() <= 0.1, "{l}");
}

#[test]
fn tech_3341_case_5_louder_middle_section() {
    let v = stereo_sine_loudness(&[(20.0, -26.0), (20.1, -20.0), (20.0, -26.0)]);
    let l = value(&v, Feature::Loudness);
    assert!((l + 23.0).abs() <= 0.1, "{l}");
}

// EBU Tech 3342 (2016), table 1, cases 1–3: a 1 kHz stereo sine, 20 s at one level then
// 20 s at another; the expected LRA is the level difference ± 1 LU.
#[test]
fn tech_3342_stepped_sines_loudness_range() {
    for (a, b, expected) in [
        (-20.0, -30.0, 10.0),
        (-20.0, -15.0, 5.0),
        (-40.0, -20.0, 20.0),
    ] {
        let v = stereo_sine_loudness(&[(20.0, a), (20.0, b)]);
        let lra = value(&v, Feature::LoudnessRange);
        assert!((lra - expected).abs() <= 1.0, "{a}/{b}: {lra}");
    }
}

// A sine at fs/4 starting at 45° has every sample at ±0.7071 of its peak, so the sample
// peak is 3.01 dB under the true peak; the true peak is the sine's amplitude, here −6.02 dBFS.
// The tolerance +0.2/−0.4 dB is BS.1770-4 Annex 2's for 4× oversampling (EBU Tech 3341 cases 15–23).
#[test]
fn true_peak_of_inter_sample_peak_sine() {
    let x = sine(
        RATE,
        RATE as f64 / 4.0,
        -6.0206,
        5.0,
        std::f64::consts::FRAC_PI_4,
    );
    let sample_peak = x.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!((20.0 * (sample_peak as f64).log10() + 9.03).abs() < 0.01);
    let v = analyse(RATE, &x, &x);
    let tp = value(&v, Feature::TruePeak);
    assert!((-6.0206 - 0.4..=-6.0206 + 0.2).contains(&tp), "{tp}");
    let plr = value(&v, Feature::Plr);
    assert!((plr - (tp - value(&v, Feature::Loudness))).abs() < 1e-12);
}

// A sine at each band's geometric centre: ≥ 99 % of the energy in that band, i.e. a level
// ≥ 10·log10(0.99) = −0.044 dB, every other band far below.
#[test]
fn sine_in_each_band_stays_in_that_band() {
    for band_feature in Feature::BANDS {
        let band = band_feature.band().unwrap();
        let f = (band.low_hz * band.high_hz).sqrt();
        let x = sine(RATE, f, -12.0, 3.0, 0.0);
        let v = analyse(RATE, &x, &x);
        let level = value(&v, band_feature);
        assert!(
            level >= 10.0 * 0.99f64.log10(),
            "{band_feature} at {f:.1} Hz: {level}"
        );
        for other in Feature::BANDS {
            if other != band_feature {
                assert!(value(&v, other) < -20.0, "{other} for a {f:.1} Hz sine");
            }
        }
    }
}

// White noise has a flat power density, so a band's share is its bandwidth over the
// 19 980 Hz of 20 Hz–20 kHz: level = 10·log10(bandwidth / 19980), ± 0.5 dB.
#[test]
fn white_noise_band_levels_follow_bandwidth() {
    let mut rng = Rng::new(7);
    let n = RATE as usize * 20;
    let l = noise(&mut rng, n, 0.1);
    let r = noise(&mut rng, n, 0.1);
    let v = analyse(RATE, &l, &r);
    for f in Feature::BANDS {
        let band = f.band().unwrap();
        let expected = 10.0 * ((band.high_hz - band.low_hz) / 19_980.0).log10();
        let got = value(&v, f);
        assert!((got - expected).abs() <= 0.5, "{f}: {got} vs {expected}");
    }
    // The centroid of flat noise over 20 Hz–20 kHz is the band's midpoint, 10 010 Hz.
    let c = value(&v, Feature::SpectralCentroid);
    assert!((c - 10_010.0).abs() < 100.0, "{c}");
}

#[test]
fn spectral_centroid_of_a_sine_is_its_frequency() {
    for f in [50.0, 440.0, 1000.0, 5000.0, 15_000.0] {
        let x = sine(RATE, f, -6.0, 2.0, 0.0);
        let v = analyse(RATE, &x, &x);
        let c = value(&v, Feature::SpectralCentroid);
        assert!((c - f).abs() <= 0.01 * f, "{f}: {c}");
    }
}

#[test]
fn mono_is_width_zero_and_correlation_one() {
    let mut rng = Rng::new(3);
    let x = noise(&mut rng, RATE as usize * 2, 0.1);
    let v = analyse(RATE, &x, &x);
    assert_eq!(value(&v, Feature::StereoWidth), 0.0);
    assert_eq!(value(&v, Feature::LowEndWidth), 0.0);
    assert!((value(&v, Feature::StereoCorrelation) - 1.0).abs() < 1e-9);
}

#[test]
fn opposite_polarity_is_correlation_minus_one_and_width_capped() {
    let mut rng = Rng::new(4);
    let x = noise(&mut rng, RATE as usize * 2, 0.1);
    let y: Vec<f32> = x.iter().map(|s| -s).collect();
    let v = analyse(RATE, &x, &y);
    assert!((value(&v, Feature::StereoCorrelation) + 1.0).abs() < 1e-9);
    assert_eq!(value(&v, Feature::StereoWidth), 10.0);
}

// Independent equal-power noises: E[mid²] = E[side²] = σ²/2, so width → 1 and
// correlation → 0; with 480 000 samples the estimates are within ~0.005 of that.
#[test]
fn independent_noise_is_width_one_correlation_zero() {
    let mut rng = Rng::new(5);
    let n = RATE as usize * 10;
    let l = noise(&mut rng, n, 0.1);
    let r = noise(&mut rng, n, 0.1);
    let v = analyse(RATE, &l, &r);
    assert!((value(&v, Feature::StereoWidth) - 1.0).abs() < 0.02);
    assert!(value(&v, Feature::StereoCorrelation).abs() < 0.02);
    assert!((value(&v, Feature::LowEndWidth) - 1.0).abs() < 0.1);
}

// Low end: 50 Hz with R at a third of L, so mid = 2a/3 and side = a/3, width 0.5. High end:
// a 3 kHz pure-side tone (L = −R), which the 150 Hz LR4 low-pass attenuates by 104 dB.
// low_end_width must read the low end's 0.5; stereo_width is dominated by the side tone.
#[test]
fn low_end_width_sees_only_content_below_150_hz() {
    let seconds = 4.0;
    let low_l = sine(RATE, 50.0, -12.0, seconds, 0.0);
    let high = sine(RATE, 3000.0, -12.0, seconds, 0.0);
    let l: Vec<f32> = low_l.iter().zip(&high).map(|(a, h)| a + h).collect();
    let r: Vec<f32> = low_l.iter().zip(&high).map(|(a, h)| a / 3.0 - h).collect();
    let v = analyse(RATE, &l, &r);
    let low = value(&v, Feature::LowEndWidth);
    assert!((low - 0.5).abs() < 0.01, "{low}");
    assert!(value(&v, Feature::StereoWidth) > 1.0);

    // Nothing below 150 Hz: the LR4 leakage of a loud 3 kHz tone (−104 dB) is not a low end.
    let top = analyse(RATE, &high, &high.iter().map(|h| -h).collect::<Vec<_>>());
    assert_eq!(
        top.get(Feature::LowEndWidth),
        Measurement::Absent(Absent::Silence)
    );

    // And the reverse: a mono low end under a wide top reads as mono low end.
    let r2: Vec<f32> = low_l.iter().zip(&high).map(|(a, h)| a - h).collect();
    let v2 = analyse(RATE, &l, &r2);
    assert!(value(&v2, Feature::LowEndWidth) < 0.01);
}

/// The analytic depth of a sinusoidal envelope `1 + m·sin(2π·t)` (1 Hz, so each 1 s window
/// holds one period). The 10 ms block levels sample the envelope at 100 uniformly spaced
/// phases; for a uniformly distributed phase P(sin θ ≤ s) = ½ + asin(s)/π, so the 95th
/// percentile of sin θ is s95 = sin(0.45π) = 0.98769 and the 5th is −s95 (for the 100
/// block centres at (j + ½)·3.6° the type-7 percentiles land exactly on these values).
/// The depth is then 20·log10((1 + m·s95) / (1 − m·s95)) dB.
fn analytic_depth_db(m: f64) -> f64 {
    let s95 = (0.45 * std::f64::consts::PI).sin();
    20.0 * ((1.0 + m * s95) / (1.0 - m * s95)).log10()
}

/// A random-phase multisine with a 10 ms period (the harmonics of 100 Hz up to 20 kHz,
/// random phases): spectrally flat like white noise, but every 10 ms block holds exactly
/// the same energy, so block levels follow the envelope without estimation noise.
fn periodic_noise(rng: &mut Rng, n: usize) -> Vec<f32> {
    let period = (RATE / 100) as usize;
    let phases: Vec<f64> = (0..200)
        .map(|_| rng.uniform() * 2.0 * std::f64::consts::PI)
        .collect();
    let one: Vec<f64> = (0..period)
        .map(|i| {
            phases
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    (2.0 * std::f64::consts::PI * (k + 1) as f64 * i as f64 / period as f64 + p)
                        .sin()
                })
                .sum::<f64>()
        })
        .collect();
    let rms = (one.iter().map(|x| x * x).sum::<f64>() / period as f64).sqrt();
    (0..n)
        .map(|i| (0.1 * one[i % period] / rms) as f32)
        .collect()
}

fn modulated(x: &[f32], m: f64) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, s)| {
            let t = i as f64 / RATE as f64;
            (*s as f64 * (1.0 + m * (2.0 * std::f64::consts::PI * t).sin())) as f32
        })
        .collect()
}

#[test]
fn modulation_depth_of_am_noise_matches_analytic_depth() {
    let mut rng = Rng::new(11);
    let carrier = periodic_noise(&mut rng, RATE as usize * 9);
    for m in [0.1, 0.3, 0.5, 0.8] {
        let x = modulated(&carrier, m);
        let v = analyse(RATE, &x, &x);
        let depth = value(&v, Feature::ModulationDepth);
        let expected = analytic_depth_db(m);
        assert!(
            (depth - expected).abs() <= 1.0,
            "m={m}: {depth} vs {expected}"
        );
    }
}

// With white Gaussian noise the 10 ms RMS itself fluctuates (480 samples: relative std of
// the mean square √(2/480) = 6.5 %, 0.28 dB), which widens the 5–95 % spread slightly;
// for depths of several dB the result still lies within 1 dB of the envelope's depth.
#[test]
fn modulation_depth_of_am_white_noise_is_within_1_db() {
    let mut rng = Rng::new(12);
    let carrier = noise(&mut rng, RATE as usize * 9, 0.1);
    for m in [0.5, 0.8] {
        let x = modulated(&carrier, m);
        let v = analyse(RATE, &x, &x);
        let depth = value(&v, Feature::ModulationDepth);
        let expected = analytic_depth_db(m);
        assert!(
            (depth - expected).abs() <= 1.0,
            "m={m}: {depth} vs {expected}"
        );
    }
}

fn assert_same(a: &FeatureVector, b: &FeatureVector, what: &str) {
    for f in Feature::ALL {
        match (a.get(f), b.get(f)) {
            (Measurement::Value(x), Measurement::Value(y)) => {
                assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    "{what}: {f} {x} vs {y}"
                )
            }
            (x, y) => assert_eq!(x, y, "{what}: {f}"),
        }
    }
}

/// A signal with everything in it: stereo noise, a bass tone, a pumping envelope.
pub fn mixed_signal(seconds: f64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(21);
    let n = (seconds * RATE as f64) as usize;
    let bass = sine(RATE, 55.0, -10.0, seconds, 0.0);
    let l0 = noise(&mut rng, n, 0.05);
    let r0 = noise(&mut rng, n, 0.05);
    let env = |i: usize| 1.0 - 0.5 * ((i as f64 / RATE as f64 * 2.0).fract());
    let l = (0..n)
        .map(|i| ((l0[i] + bass[i]) as f64 * env(i)) as f32)
        .collect();
    let r = (0..n)
        .map(|i| ((r0[i] + 0.8 * bass[i]) as f64 * env(i)) as f32)
        .collect();
    (l, r)
}

#[test]
fn block_size_does_not_change_the_result() {
    let (l, r) = mixed_signal(4.5);
    let reference = analyse_blocks(RATE, &l, &r, 4096);
    for f in Feature::ALL {
        assert!(reference.value(f).is_some(), "{f} absent");
    }
    for block in [1, 7, 64, 512, 1000] {
        let v = analyse_blocks(RATE, &l, &r, block);
        assert_same(&reference, &v, &format!("block {block}"));
    }
    // Uneven blocks, and interleaved input.
    let mut a = Analyser::new(RATE, 2, 64).unwrap();
    let inter = interleave(&l, &r);
    let mut start = 0;
    let mut size = 1;
    while start < l.len() {
        let end = (start + size).min(l.len());
        a.process_interleaved(&inter[2 * start..2 * end]);
        start = end;
        size = size * 3 % 5000 + 1;
    }
    assert_same(&reference, &a.features(), "uneven interleaved blocks");
}

#[test]
fn reset_forgets_everything() {
    let (l, r) = mixed_signal(4.0);
    let mut a = Analyser::new(RATE, 2, 512).unwrap();
    let silence = vec![0.0f32; RATE as usize];
    a.process(&silence, &l[..RATE as usize]);
    a.reset();
    a.process(&l, &r);
    assert_same(&analyse(RATE, &l, &r), &a.features(), "after reset");
}

#[test]
fn silence_is_absent_with_reasons_and_never_nan() {
    let zeros = vec![0.0f32; RATE as usize * 5];
    let v = analyse(RATE, &zeros, &zeros);
    assert_eq!(
        v.get(Feature::Loudness),
        Measurement::Absent(Absent::Silence)
    );
    assert_eq!(
        v.get(Feature::LoudnessRange),
        Measurement::Absent(Absent::Silence)
    );
    assert_eq!(
        v.get(Feature::TruePeak),
        Measurement::Absent(Absent::Silence)
    );
    assert_eq!(
        v.get(Feature::StereoCorrelation),
        Measurement::Absent(Absent::Silence)
    );
    assert_eq!(
        v.get(Feature::ModulationDepth),
        Measurement::Absent(Absent::Silence)
    );
    for f in Feature::ALL {
        assert!(matches!(v.get(f), Measurement::Absent(_)), "{f}");
    }
    // Nothing at all, and a fraction of a second.
    let empty = Analyser::new(RATE, 2, 64).unwrap().features();
    assert!(Feature::ALL
        .iter()
        .all(|&f| empty.get(f) == Measurement::Absent(Absent::TooShort)));
    let x = sine(RATE, 1000.0, -20.0, 0.2, 0.0);
    let short = analyse(RATE, &x, &x);
    assert_eq!(
        short.get(Feature::Loudness),
        Measurement::Absent(Absent::TooShort)
    );
    assert!(short.value(Feature::TruePeak).is_some());
}

#[test]
fn a_silent_channel_has_no_correlation() {
    let x = sine(RATE, 440.0, -10.0, 2.0, 0.0);
    let zeros = vec![0.0f32; x.len()];
    let v = analyse(RATE, &x, &zeros);
    assert_eq!(
        v.get(Feature::StereoCorrelation),
        Measurement::Absent(Absent::SilentChannel)
    );
    assert!((value(&v, Feature::StereoWidth) - 1.0).abs() < 1e-9);
    assert!(v.iter_values().all(|(_, x)| x.is_finite()));
}

#[test]
fn non_finite_input_is_treated_as_silence() {
    let mut x = sine(RATE, 1000.0, -20.0, 2.0, 0.0);
    x[100] = f32::NAN;
    x[200] = f32::INFINITY;
    let v = analyse(RATE, &x, &x);
    for (f, value) in v.iter_values() {
        assert!(value.is_finite(), "{f}");
    }
    assert!(v.value(Feature::Loudness).is_some());
}

#[test]
fn mono_input_is_centred_stereo() {
    let (l, _) = mixed_signal(3.5);
    let mut a = Analyser::new(RATE, 1, 256).unwrap();
    a.process_interleaved(&l);
    assert_same(&analyse(RATE, &l, &l), &a.features(), "mono");
}

#[test]
fn bad_construction_is_an_error_not_a_panic() {
    assert!(Analyser::new(1000, 2, 512).is_err());
    assert!(Analyser::new(48_000, 3, 512).is_err());
    assert!(Analyser::new(48_000, 0, 512).is_err());
    // A zero block size is taken as 1.
    let mut a = Analyser::new(44_100, 2, 0).unwrap();
    a.process(&[0.1, 0.2], &[0.1, 0.2]);
    assert_eq!(a.frames(), 2);
}

#[test]
fn low_sample_rates_leave_bands_above_nyquist_unmeasured() {
    let rate = 22_050;
    let mut rng = Rng::new(9);
    let x = noise(&mut rng, rate as usize * 4, 0.1);
    let y = noise(&mut rng, rate as usize * 4, 0.1);
    let v = analyse(rate, &x, &y);
    assert_eq!(
        v.get(Feature::AirLevel),
        Measurement::Absent(Absent::NotMeasured)
    );
    assert!(v.value(Feature::HighLevel).is_some());
}
