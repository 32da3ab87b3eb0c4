//! The closed loop learns: seeded simulations of producers with a hidden taste, the
//! feature-level outcome model checked against re-analysed audio, the A/A false-positive
//! rate, and `fixloop demo` end to end.

use fixloop::features::Feature;
use fixloop::fixes::{setting, FixSetting, Policy, TargetStrategy};
use fixloop::learn::Targets;
use fixloop::sim::ab_sim::{simulate_ab, AbSimConfig};
use fixloop::sim::closed_loop::{
    render_features, run_loop, LoopConfig, LoopRun, TasteKind, World, WorldConfig,
};
use fixloop::sim::synth::MixParams;

fn world(taste: TasteKind, seed: u64) -> World {
    World::build(
        &WorldConfig {
            taste,
            ..WorldConfig::default()
        },
        seed,
    )
    .unwrap()
}

fn run(world: &World, rounds: usize) -> LoopRun {
    run_with(world, rounds, LoopConfig::default().policy)
}

fn run_with(world: &World, rounds: usize, policy: Policy) -> LoopRun {
    let dir = std::env::temp_dir().join(format!(
        "fixloop-sim-{}-{}-{}",
        std::process::id(),
        world.producer.name,
        world.seed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let r = run_loop(
        world,
        &LoopConfig {
            rounds,
            policy,
            ..LoopConfig::default()
        },
        &dir,
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// Round 0 (original profile) against the last round (refined three times through the
/// profile's lineage), three seeds, under the response outcome (the producer hears each
/// fix's whole change), the loop's confidence threshold 0.3 with confidence per (fix type,
/// feature). Measured (seeds 1–3, 48 sessions × 4 rounds): accept rate +16.1, +11.4, +14.3
/// points; refused fixes 109 → 65, 131 → 83, 127 → 70; mean |gap to taste| −0.010,
/// −0.017, −0.047 tolerances. Required on every seed: +10 points, at least 20 % fewer
/// refusals, the gap no more than 0.02 worse (the producer's refusals already keep fixes
/// that hurt out of the mix; the same threshold with confidence per type only moved the
/// gap +0.355, +0.118, +0.143).
///
/// The seed's refinement alone: fixes aim at the references' statistics
/// (`targets: references`); learned targets are checked below.
#[test]
fn refinement_beats_the_original_profile_on_every_seed() {
    let policy = Policy {
        targets: Targets::References,
        ..LoopConfig::default().policy
    };
    for seed in 1..=3 {
        let r = run_with(&world(TasteKind::Shifted, seed), 4, policy);
        let (first, last) = (&r.rounds[0], r.rounds.last().unwrap());
        assert!(
            last.accept_rate >= first.accept_rate + 0.10,
            "seed {seed}: accept rate {:.3} → {:.3}",
            first.accept_rate,
            last.accept_rate
        );
        assert!(
            last.rejected as f64 <= 0.8 * first.rejected as f64,
            "seed {seed}: refused {} → {}",
            first.rejected,
            last.rejected
        );
        assert!(
            last.gap_after <= first.gap_after + 0.02,
            "seed {seed}: gap {:.3} → {:.3}",
            first.gap_after,
            last.gap_after
        );
        // The gain comes from widening the ranges the producer disagrees with (measured:
        // every widening, 6, 5 and 6 of them, is on a shifted feature; at least three in
        // four is required, since a width or dynamics fix moves other features with them).
        let widened: Vec<&str> = r
            .refinements
            .iter()
            .flat_map(|rep| rep.adjustments.iter())
            .filter(|a| a.decision == fixloop::learn::Decision::Widen)
            .map(|a| a.feature.as_str())
            .collect();
        let shifted = ["bass_level", "stereo_width", "high_level"];
        let on_taste = widened.iter().filter(|f| shifted.contains(f)).count();
        assert!(
            on_taste >= 3 * (widened.len() - on_taste),
            "seed {seed}: widened {widened:?}"
        );
        assert!(widened.contains(&"bass_level"), "seed {seed}: {widened:?}");
    }
}

/// A producer whose taste is the profile: refinement never moves a range's centre by more
/// than 0.1 standard deviation (widening and narrowing are symmetric; only the floor and
/// p50 can shift it), widens at most one feature, and the accept rate moves by at most 5
/// points. Measured (response outcome, threshold 0.3, per-feature confidence): accept
/// 77.0 % → 76.6 %, gap 0.687 → 0.622; stereo_correlation widened twice (18 of 36, then
/// 12 of 26 of its fixes refused): its fixes move the width, which this producer wants
/// where the references have it, so the two ranges are not both reachable and the
/// correlation's gives way. Every other range stays inside the original.
#[test]
fn matching_taste_does_not_drift() {
    let w = world(TasteKind::MatchesProfile, 1);
    let r = run(&w, 4);
    let (first, last) = (&r.rounds[0], r.rounds.last().unwrap());
    assert!(
        (last.accept_rate - first.accept_rate).abs() <= 0.05,
        "accept {:.3} → {:.3}, modified {}/{} → {}/{}, gap {:.3} → {:.3}",
        first.accept_rate,
        last.accept_rate,
        first.modified,
        first.proposed,
        last.modified,
        last.proposed,
        first.gap_after,
        last.gap_after
    );
    assert!(last.gap_after <= first.gap_after + 0.01);
    let final_profile = r.profiles.last().unwrap();
    let mut widened = Vec::new();
    for (name, st) in &w.profile.features {
        let new = &final_profile.features[name];
        let mid = |r: [f64; 2]| (r[0] + r[1]) / 2.0;
        assert!(
            (mid(new.acceptable_range) - mid(st.acceptable_range)).abs() <= 0.1 * st.std,
            "{name}: {:?} → {:?}",
            st.acceptable_range,
            new.acceptable_range
        );
        if new.acceptable_range[0] < st.acceptable_range[0] - 1e-12
            || new.acceptable_range[1] > st.acceptable_range[1] + 1e-12
        {
            widened.push(name.as_str());
        }
    }
    assert!(widened.len() <= 1, "{widened:?}");
}

/// A/A: the same policy in both arms, 200 simulated tests of 120 sessions, 5 looks each.
/// The share of tests with `adopt_treatment` at any look must be at most 5 % plus two
/// binomial standard errors at 5 % (√(0.05·0.95/200) = 1.54 points): ≤ 8.1 %.
#[test]
fn aa_false_positive_rate_is_at_most_five_percent() {
    let w = world(TasteKind::MatchesProfile, 7);
    let policy = Policy {
        target_strategy: TargetStrategy::Conservative,
        amount: 1.0,
        min_confidence: 0.3,
        ..Policy::default()
    };
    let r = simulate_ab(&w, policy, policy, &AbSimConfig::default(), 11).unwrap();
    let fpr = r.rate(r.adopt);
    println!(
        "A/A: adopt {fpr:.3}, anytime {:.3}, naive any look {:.3}, naive last {:.3}",
        r.rate(r.anytime),
        r.rate(r.naive_any_look),
        r.rate(r.naive_final)
    );
    assert_eq!(r.runs, 200);
    assert!(fpr <= 0.05 + 2.0 * (0.05f64 * 0.95 / 200.0).sqrt(), "{fpr}");
    assert!(r.mean_events_per_arm >= 50.0);
}

fn value(fv: &fixloop::features::FeatureVector, f: Feature) -> f64 {
    fv.value(f).unwrap()
}

/// The outcome model (a fix moves its feature to new_value) against re-rendered,
/// re-analysed audio: the mix change equivalent to the fix's setting (master gain for a
/// volume fix, the pad's side gain for a width fix) is applied to the synthesiser and the
/// feature measured again.
#[test]
fn outcome_model_agrees_with_reanalysed_audio() {
    // Master 10 dB down keeps the soft clipper in its nearly linear region, where a gain
    // is a gain; driven hard, it compresses (measured at the default master: −2 dB of gain
    // moved loudness by −1.49 LU).
    let base = MixParams {
        master_db: -10.0,
        ..MixParams::default()
    };
    let before = render_features(&base).unwrap();

    // Volume: master gain by the fix's gain.
    let cur = value(&before, Feature::Loudness);
    let new = cur - 2.0;
    let FixSetting::Gain { gain_db } = setting(Feature::Loudness, cur, new) else {
        panic!("volume fix without a gain")
    };
    let after = render_features(&MixParams {
        master_db: base.master_db + gain_db,
        ..base
    })
    .unwrap();
    let got = value(&after, Feature::Loudness);
    println!("loudness {cur:.3} → model {new:.3}, audio {got:.3}");
    assert!(
        (got - new).abs() <= TOL_LOUDNESS_LU,
        "loudness {got} vs {new}"
    );

    // Band levels are not checked here: the synthesiser has no band EQ, and changing the
    // kick and bass voices by the band gain moved bass_level from −4.60 to −4.73 dB where
    // the model says −6.10 (those voices also fill 20–60 Hz and most of the total energy,
    // and a band level is relative to the total). See DEMO_NOTES / the module docs.

    // Width: the pad's side gain by the fix's width ratio.
    let cur = value(&before, Feature::StereoWidth);
    let new = cur * 1.25;
    let FixSetting::Width { width_ratio } = setting(Feature::StereoWidth, cur, new) else {
        panic!("width fix without a ratio")
    };
    let after = render_features(&MixParams {
        width: base.width * width_ratio,
        ..base
    })
    .unwrap();
    let got = value(&after, Feature::StereoWidth);
    println!("stereo_width {cur:.4} → model {new:.4}, audio {got:.4}");
    assert!(
        (got - new).abs() <= TOL_WIDTH_REL * new,
        "stereo_width {got} vs {new}"
    );
}

/// Measured: −17.785 LUFS against the model's −17.857 (0.07 LU; ebur128's histogram mode
/// alone costs up to 0.05 LU).
const TOL_LOUDNESS_LU: f64 = 0.2;
/// Measured: 0.3451 against 0.3451 (the side signal is the pad's alone).
const TOL_WIDTH_REL: f64 = 0.01;

#[test]
fn demo_command_writes_the_html_report() {
    let out = std::env::temp_dir().join(format!("fixloop-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_fixloop"))
        .args([
            "demo",
            "--seeds",
            "1",
            "--rounds",
            "2",
            "--ab-runs",
            "10",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let report = out.join("report.html");
    assert!(stdout.contains(&report.display().to_string()), "{stdout}");
    assert!(stdout.contains("Learning curve"));
    // The curve against its floor: the oracle's gap, and the share learning closed.
    let floor = stdout
        .lines()
        .find(|l| {
            l.starts_with("floor (a profile that already knows the taste), round 0: gap after ")
        })
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        floor.contains("% of the distance from round 0 to it by round 1"),
        "{floor}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_oracle_profile_is_centred_on_the_taste_and_off_centre_tastes_stay_in_range() {
    for kind in [TasteKind::Shifted, TasteKind::OffCentre] {
        let w = world(kind, 2);
        let oracle = w.oracle();
        // The oracle knows every target; fixes are proposed against the profile moved
        // to them.
        let aimed = oracle.profile.aimed(Targets::Learned);
        for (f, target) in &w.producer.taste.target {
            let (Some(o), Some(s)) = (aimed.stats(*f), w.profile.stats(*f)) else {
                continue;
            };
            assert!(oracle.profile.learned_target(*f).unwrap().known(), "{f:?}");
            // The mean moves to the taste (exact up to the addition's rounding), the spread
            // and the range's width stay.
            assert!((o.mean - target).abs() < 1e-9, "{f:?}");
            assert_eq!(o.std, s.std, "{f:?}");
            let width = |r: [f64; 2]| r[1] - r[0];
            assert!(
                (width(o.acceptable_range) - width(s.acceptable_range)).abs() < 1e-9,
                "{f:?}"
            );
            assert!(o.acceptable_range[0] <= *target && *target <= o.acceptable_range[1]);
            if kind == TasteKind::OffCentre {
                // Off-centre: inside the references' own range, not on its centre for the
                // three features it moves.
                assert!(
                    s.acceptable_range[0] < *target && *target < s.acceptable_range[1],
                    "{f:?}"
                );
            }
        }
        let moved = kind
            .shift_z()
            .iter()
            .filter(|(f, _)| {
                let (o, s) = (aimed.stats(*f).unwrap(), w.profile.stats(*f).unwrap());
                (o.mean - s.mean).abs() > 0.5 * s.std
            })
            .count();
        assert_eq!(moved, 3, "{kind:?}");
    }
}

/// Learned targets, under the default policy (joint plan, `targets: learned`): producers
/// whose taste is shifted 2 standard deviations from the references on three features, 3
/// seeds × 48 sessions × 4 rounds. By round 3 the mean gap to taste must have closed at
/// least 70 % of the distance from round 0 to the gap the oracle reaches in round 0 (a
/// profile that already knows the taste, [`World::oracle`]), with at least 85 % of fixes
/// accepted; the same loop aiming at the references' statistics must close less. Measured
/// (the same seeds, this test's build): round 0 0.752, round 3 0.615, oracle 0.611 (97 %
/// closed), accept 88.8 %; with `targets: references` round 3 ends at 0.869.
#[test]
fn learned_targets_close_most_of_the_gap_to_the_oracle() {
    let policy = Policy::default();
    let references = Policy {
        targets: Targets::References,
        ..policy
    };
    let (mut first, mut last, mut floor, mut accept, mut by_references) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for seed in 1..=3 {
        let w = world(TasteKind::Shifted, seed);
        let r = run_with(&w, 4, policy);
        first += r.rounds[0].gap_after / 3.0;
        last += r.rounds[3].gap_after / 3.0;
        accept += r.rounds[3].accept_rate / 3.0;
        floor += run_with(&w.oracle(), 1, policy).rounds[0].gap_after / 3.0;
        by_references += run_with(&w, 4, references).rounds[3].gap_after / 3.0;
        // The learned version says what it learned, in words.
        let learned = r.profiles.last().unwrap();
        let bass = learned
            .learned_target(Feature::BassLevel)
            .expect("bass is learned");
        assert!(bass.offset() > 0.0, "seed {seed}: {bass:?}");
    }
    let closed = (first - last) / (first - floor);
    eprintln!(
        "gap {first:.3} → {last:.3}, oracle {floor:.3}, accept {accept:.3}, references' {by_references:.3}"
    );
    assert!(
        closed >= 0.7 && accept >= 0.85 && by_references > last,
        "gap {first:.3} → {last:.3}, oracle {floor:.3}: {:.0} % closed, accept {:.1} %, \
         references' targets {by_references:.3}",
        100.0 * closed,
        100.0 * accept
    );
}

/// A/B test of learned targets against the references' targets, in the plugin's A/B
/// machinery: a shifted producer's profile after three learning steps (default policy),
/// then 100 simulated tests of 120 sessions (5 looks, accept rate the primary metric),
/// control `targets: references`, treatment `targets: learned`. The treatment must be
/// adopted in at least 80 % of tests; A/A on the same profile (learned in both arms) at
/// most 5 % plus two binomial standard errors over its 100 tests (≤ 9.4 %). Measured:
/// adopted in 100 of 100 tests, A/A 0 of 100.
#[test]
fn an_ab_test_adopts_learned_targets_for_a_shifted_producer() {
    let w = world(TasteKind::Shifted, 1);
    let learned = run_with(&w, 4, Policy::default());
    let world = World {
        profile: learned.profiles.last().unwrap().clone(),
        ..w
    };
    assert!(world.profile.taste.is_some());
    let treatment = Policy::default();
    let control = Policy {
        targets: Targets::References,
        ..treatment
    };
    let config = AbSimConfig {
        runs: 100,
        ..AbSimConfig::default()
    };
    let ab = simulate_ab(&world, control, treatment, &config, 21).unwrap();
    let aa = simulate_ab(&world, treatment, treatment, &config, 22).unwrap();
    let (power, fpr) = (ab.rate(ab.adopt), aa.rate(aa.adopt));
    eprintln!("learned vs references: adopted {power:.3}; A/A {fpr:.3}");
    assert!(power >= 0.8, "adopted in {power:.3} of tests");
    assert!(
        fpr <= 0.05 + 2.0 * (0.05f64 * 0.95 / 100.0).sqrt(),
        "A/A {fpr:.3}"
    );
}
