//! The speed layer against the crates it stands beside, measured in the same run (issue
//! rule: hand-written code stays only where it is at least 1.5× faster on the path that
//! needs it, and says so with the number in its doc comment).
//!
//! - **crc32c**: `store::frame::crc32c_append` (a plain SSE 4.2 loop up to 128 bytes,
//!   the crate beyond) against `crc32c::crc32c_append` on frames of 48–128 bytes (the
//!   log's outcome, action and fix records), 1 KiB and 64 KiB.
//! - **timestamp**: `feedback::Timestamp::parse` (exact-form fast path) against chrono's
//!   `DateTime::parse_from_rfc3339` on the RFC 3339 and Python `isoformat()` forms.
//! - **msgpack_decode**: the reader's payload decoder (`store::frame::decode_payload`)
//!   against `rmp_serde` (`decode_payload_serde`), per record kind and on a typical mix
//!   (one session start per 20 fixes, each fix with an action and an outcome); and for
//!   imported whole events (`fixloop import`), decoded in place with borrowed strings.
//!
//! Each case decodes or encodes 1000 records per iteration; results are checked equal
//! before timing. Run with `cargo bench --bench speed -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fixloop::feedback::records::{
    EventId, FixApplied, FixId, Outcome, Record, SessionStart, UserActionRecord,
};
use fixloop::feedback::{Arm, Timestamp, UserAction};
use fixloop::store::frame::{
    crc32c_append, decode_event_ref, decode_event_ref_serde, decode_payload, decode_payload_serde,
    encode_payload,
};
use std::collections::BTreeMap;
use std::hint::black_box;

fn fix(serial: u32) -> Record {
    Record::FixApplied(FixApplied {
        event: EventId {
            collector: 0x9f3c_0a1b_2c3d_4e5f,
            serial,
        },
        session: 3,
        fix_id: FixId::new(&format!("bass_level.eq_band_cut.{serial:08x}")).unwrap(),
        feature: 5,
        fix_type: 1,
        original_value: -3.2 - f64::from(serial) * 1e-3,
        target_value: -6.0,
        applied_value: -4.6,
        gap_before: 2.1,
        was_applied: true,
    })
}

fn action(serial: u32) -> Record {
    Record::UserAction(UserActionRecord {
        event: EventId {
            collector: 0x9f3c_0a1b_2c3d_4e5f,
            serial,
        },
        action: if serial.is_multiple_of(4) {
            UserAction::Modify
        } else {
            UserAction::Accept
        },
        modified_value: serial.is_multiple_of(4).then_some(-5.5),
    })
}

fn outcome(serial: u32) -> Record {
    Record::Outcome(Outcome {
        event: EventId {
            collector: 0x9f3c_0a1b_2c3d_4e5f,
            serial,
        },
        gap_after: 0.4 + f64::from(serial) * 1e-4,
    })
}

fn start(session: u32) -> Record {
    Record::SessionStart(Box::new(SessionStart {
        session,
        track_path: format!("/projects/anthem_{}.als", session % 7).into(),
        session_id: format!("clap-1764299006-{session:016x}").into(),
        profile_version: "trance_v1".into(),
        ab: BTreeMap::from([("targeting_strategy_001".into(), Arm::Treatment)]),
        start_mean_abs_z: None,
    }))
}

/// Payloads of `records` as the writer encodes them.
fn payloads(records: &[Record]) -> Vec<Vec<u8>> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut b = Vec::new();
            assert!(encode_payload(
                &mut b,
                i as u64 + 1,
                1_764_299_006_000_000 + i as i64,
                7,
                r
            ));
            b
        })
        .collect()
}

fn mix(n: u32) -> Vec<Record> {
    let mut out = Vec::new();
    let mut serial = 0;
    while out.len() < n as usize {
        out.push(start(serial / 20 + 1));
        for _ in 0..20 {
            serial += 1;
            out.extend([fix(serial), action(serial), outcome(serial)]);
        }
    }
    out.truncate(n as usize);
    out
}

fn crc(c: &mut Criterion) {
    let mut g = c.benchmark_group("crc32c");
    for (name, len) in [
        ("frame_48B", 48usize),
        ("frame_100B", 100),
        ("frame_128B", 128),
        ("frame_1KiB", 1024),
        ("buffer_64KiB", 64 << 10),
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        assert_eq!(
            crc32c_append(0, &data),
            crc32c::crc32c_append(0, &data),
            "same checksum"
        );
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("{name}/fixloop_sse42_loop"), |b| {
            b.iter(|| crc32c_append(0, black_box(&data)))
        });
        g.bench_function(format!("{name}/crc32c_crate"), |b| {
            b.iter(|| crc32c::crc32c_append(0, black_box(&data)))
        });
    }
    g.finish();
}

fn timestamps(c: &mut Criterion) {
    let mut g = c.benchmark_group("timestamp");
    let rfc: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "2026-10-{:02}T12:{:02}:07.{:06}Z",
                1 + i % 28,
                i % 60,
                i * 997
            )
        })
        .collect();
    let python: Vec<String> = rfc.iter().map(|t| t.trim_end_matches('Z').into()).collect();
    let chrono_micros = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp_micros())
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|n| n.and_utc().timestamp_micros())
            })
            .unwrap()
    };
    for t in rfc.iter().chain(&python) {
        assert_eq!(Timestamp::parse(t).unwrap().as_micros(), chrono_micros(t));
    }
    for (name, texts) in [("rfc3339", &rfc), ("python_isoformat", &python)] {
        g.throughput(Throughput::Elements(texts.len() as u64));
        g.bench_function(format!("{name}/fixloop"), |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| Timestamp::parse(black_box(t)).unwrap().as_micros())
                    .sum::<i64>()
            })
        });
        g.bench_function(format!("{name}/chrono"), |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| chrono_micros(black_box(t)))
                    .sum::<i64>()
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("msgpack_decode");
    let cases: [(&str, Vec<Record>); 5] = [
        ("fix_applied", (1..=1000).map(fix).collect()),
        ("user_action", (1..=1000).map(action).collect()),
        ("outcome", (1..=1000).map(outcome).collect()),
        ("session_start", (1..=1000).map(start).collect()),
        ("typical_mix", mix(1000)),
    ];
    let imported: Vec<Record> = (0..1000u32)
        .map(|i| {
            let mut e = fixloop::feedback::FeedbackEvent {
                event_id: format!("evt-{i:08}").into(),
                timestamp: Timestamp::from_micros(1_790_000_000_000_000 + i64::from(i)),
                fix_id: format!("fix_bass_level_{:03}", i % 997).into(),
                fix_type: fixloop::features::FixType::EqBandCut,
                feature_name: "bass_level".into(),
                track_path: format!("/projects/track{}.als", i / 500).into(),
                session_id: format!("session{}", i / 20).into(),
                profile_version: "trance_v1".into(),
                original_value: -4.0,
                target_value: -6.0,
                applied_value: -6.0,
                user_action: Some(UserAction::Accept),
                was_applied: true,
                was_undone: false,
                gap_before: 2.0,
                gap_after: Some(0.5),
                improvement_ratio: Some(0.75),
                user_modified_value: None,
                session_saved_after: i % 3 == 0,
                track_bounced_after: false,
                notes: None,
                ab: BTreeMap::new(),
                session_start_mean_abs_z: None,
            };
            if i % 2 == 0 {
                e.ab.insert("targeting_strategy_001".into(), Arm::Control);
            }
            Record::Event(Box::new(e))
        })
        .collect();
    let ps = payloads(&imported);
    for p in &ps {
        let (a, b) = (
            decode_event_ref(p).unwrap(),
            decode_event_ref_serde(p).unwrap(),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    g.throughput(Throughput::Elements(ps.len() as u64));
    g.bench_function("imported_event_in_place/fixloop", |b| {
        b.iter(|| {
            ps.iter()
                .map(|p| decode_event_ref(black_box(p)).unwrap().event_id().len())
                .sum::<usize>()
        })
    });
    g.bench_function("imported_event_in_place/rmp_serde", |b| {
        b.iter(|| {
            ps.iter()
                .map(|p| {
                    decode_event_ref_serde(black_box(p))
                        .unwrap()
                        .event_id()
                        .len()
                })
                .sum::<usize>()
        })
    });
    for (name, recs) in cases {
        let ps = payloads(&recs);
        for p in &ps {
            assert_eq!(
                decode_payload(1, p).unwrap(),
                decode_payload_serde(1, p).unwrap()
            );
        }
        g.throughput(Throughput::Elements(ps.len() as u64));
        g.bench_function(format!("{name}/fixloop"), |b| {
            b.iter(|| {
                ps.iter()
                    .map(|p| decode_payload(1, black_box(p)).unwrap().seq)
                    .sum::<u64>()
            })
        });
        g.bench_function(format!("{name}/rmp_serde"), |b| {
            b.iter(|| {
                ps.iter()
                    .map(|p| decode_payload_serde(1, black_box(p)).unwrap().seq)
                    .sum::<u64>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, crc, timestamps, decode);
criterion_main!(benches);
