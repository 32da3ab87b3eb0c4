/* A C host of the fixloop API: generates a short stereo mix and writes it as a WAV file,
 * analyses it twice — the file, and the same samples pushed block by block through a live
 * analysis as an audio thread would — then loads a profile, scores the mix, proposes fixes,
 * records one fix's lifecycle in a feedback log (applied, accepted, outcome, session
 * saved), flushes, reads the feedback summary and refines the profile; then keeps the
 * profile's lineage in a home as the plugin does: adopts it, runs the learning step, reads
 * the history and reverts to the original.
 *
 * Usage: host PROFILE.json FEEDBACK_DIR HOME_DIR MIX.wav
 * Build: cc -std=c11 -Iinclude examples/c/host.c target/release/libfixloop.a -lpthread -ldl -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixloop.h"

static int fail(const char *what, fixloop_status status) {
    char message[512];
    size_t len = 0;
    fixloop_last_error(message, sizeof message, &len);
    fprintf(stderr, "%s failed: %s (%u): %s\n", what, fixloop_status_message(status),
            (unsigned)status, message);
    return 1;
}

enum { RATE = 48000, SECONDS = 4, FRAMES = RATE * SECONDS, BLOCK = 512 };

/* A small mix: a 55 Hz bass (centred), a detuned saw-ish pad (wide), off-beat noise hats. */
static void render_mix(float *left, float *right) {
    const double two_pi = 6.283185307179586;
    uint32_t noise = 12345u;
    for (size_t i = 0; i < FRAMES; i++) {
        double t = (double)i / RATE;
        double beat = fmod(t * 2.25, 1.0); /* 135 bpm quarter notes */
        double bass = 0.35 * sin(two_pi * 55.0 * t) * (beat < 0.5 ? 1.0 : 0.6);
        double pad_l = 0.08 * (sin(two_pi * 220.0 * t) + 0.5 * sin(two_pi * 440.7 * t));
        double pad_r = 0.08 * (sin(two_pi * 220.9 * t) + 0.5 * sin(two_pi * 439.2 * t));
        noise = noise * 1664525u + 1013904223u;
        double white = (double)(noise >> 8) / 8388608.0 - 1.0;
        double hats = (beat > 0.5 && beat < 0.56) ? 0.05 * white : 0.0;
        left[i] = (float)(bass + pad_l + hats);
        right[i] = (float)(bass + pad_r + hats);
    }
}

static void put_u32(FILE *f, uint32_t v) {
    unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    fwrite(b, 1, 4, f);
}

static void put_u16(FILE *f, uint16_t v) {
    unsigned char b[2] = {v & 0xff, (v >> 8) & 0xff};
    fwrite(b, 1, 2, f);
}

/* A 32-bit float stereo WAV (little-endian IEEE floats assumed, as on every host fixloop
 * builds for). */
static int write_wav(const char *path, const float *left, const float *right) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    uint32_t data = FRAMES * 2 * 4;
    fwrite("RIFF", 1, 4, f);
    put_u32(f, 36 + data);
    fwrite("WAVEfmt ", 1, 8, f);
    put_u32(f, 16);
    put_u16(f, 3); /* IEEE float */
    put_u16(f, 2);
    put_u32(f, RATE);
    put_u32(f, RATE * 2 * 4);
    put_u16(f, 2 * 4);
    put_u16(f, 32);
    fwrite("data", 1, 4, f);
    put_u32(f, data);
    for (size_t i = 0; i < FRAMES; i++) {
        fwrite(&left[i], 4, 1, f);
        fwrite(&right[i], 4, 1, f);
    }
    return fclose(f) == 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s PROFILE.json FEEDBACK_DIR HOME_DIR MIX.wav\n", argv[0]);
        return 2;
    }
    if (fixloop_abi_version() != FIXLOOP_ABI_VERSION) {
        fprintf(stderr, "library ABI %u, header ABI %u\n", fixloop_abi_version(),
                (unsigned)FIXLOOP_ABI_VERSION);
        return 1;
    }

    /* The mix, written as a file. */
    float *left = malloc(FRAMES * sizeof *left);
    float *right = malloc(FRAMES * sizeof *right);
    if (!left || !right) return 1;
    render_mix(left, right);
    if (!write_wav(argv[4], left, right)) {
        fprintf(stderr, "cannot write %s\n", argv[4]);
        return 1;
    }

    /* Analysis of the file. */
    fixloop_track *track = NULL;
    fixloop_status s = fixloop_analyze_file(argv[4], &track);
    if (s != FIXLOOP_OK) return fail("fixloop_analyze_file", s);
    fixloop_feature_value values[FIXLOOP_FEATURE_COUNT];
    size_t n = 0;
    s = fixloop_track_features(track, values, FIXLOOP_FEATURE_COUNT, &n);
    if (s != FIXLOOP_OK) return fail("fixloop_track_features", s);
    double seconds = 0.0;
    fixloop_track_seconds(track, &seconds);
    printf("analysed %.1f s: %zu features\n", seconds, n);

    /* The same samples through a live analysis: the audio thread pushes blocks (real-time
     * safe), another thread pumps and reads. One thread plays both parts here. */
    fixloop_live_feed *feed = NULL;
    fixloop_live_analyser *live = NULL;
    s = fixloop_live_new(RATE, RATE, &feed, &live);
    if (s != FIXLOOP_OK) return fail("fixloop_live_new", s);
    for (size_t start = 0; start < FRAMES; start += BLOCK) {
        size_t frames = FRAMES - start < BLOCK ? FRAMES - start : BLOCK;
        s = fixloop_live_push_planar(feed, left + start, right + start, frames, NULL);
        if (s != FIXLOOP_OK) return fail("fixloop_live_push_planar", s);
        if ((start / BLOCK) % 32 == 31) fixloop_live_pump(live, NULL); /* a timer's tick */
    }
    fixloop_live_pump(live, NULL);
    uint64_t live_frames = 0, dropped = 0;
    fixloop_live_dropped(live, &live_frames, &dropped);
    fixloop_track *live_track = NULL;
    s = fixloop_live_track(live, &live_track);
    if (s != FIXLOOP_OK) return fail("fixloop_live_track", s);
    fixloop_feature_value live_values[FIXLOOP_FEATURE_COUNT];
    size_t live_n = 0;
    fixloop_track_features(live_track, live_values, FIXLOOP_FEATURE_COUNT, &live_n);
    int same = live_n == n;
    for (size_t i = 0; same && i < n; i++) {
        same = live_values[i].feature == values[i].feature &&
               live_values[i].value == values[i].value;
    }
    printf("live: %llu frames, %llu dropped, features %s the file's\n",
           (unsigned long long)live_frames, (unsigned long long)dropped,
           same ? "equal" : "differ from");
    fixloop_track_free(live_track);
    fixloop_live_feed_free(feed);
    fixloop_live_analyser_free(live);
    free(left);
    free(right);

    fixloop_profile *profile = NULL;
    s = fixloop_profile_load(argv[1], &profile);
    if (s != FIXLOOP_OK) return fail("fixloop_profile_load", s);

    char version[64];
    s = fixloop_profile_version(profile, version, sizeof version, NULL);
    if (s != FIXLOOP_OK) return fail("fixloop_profile_version", s);
    printf("profile %s\n", version);

    fixloop_score score;
    fixloop_gap gaps[FIXLOOP_FEATURE_COUNT];
    size_t gap_count = 0;
    s = fixloop_score_track(profile, values, n, &score, gaps, FIXLOOP_FEATURE_COUNT, &gap_count);
    if (s != FIXLOOP_OK) return fail("fixloop_score_track", s);
    printf("score %.1f (%u of %u in range)\n", score.score, score.in_range_count,
           score.gap_count);
    for (size_t i = 0; i < gap_count; i++) {
        if (!gaps[i].in_range) {
            printf("gap %s z=%+.2f\n", fixloop_feature_name(gaps[i].feature), gaps[i].z);
        }
    }

    fixloop_policy policy;
    fixloop_policy_default(&policy);
    policy.amount = 0.5;
    fixloop_fix_list *fixes = NULL;
    /* From the analysed track: the fixes `fixloop analyze` proposes for the same audio. */
    s = fixloop_track_propose_fixes(profile, track, &policy, &fixes);
    if (s != FIXLOOP_OK) return fail("fixloop_track_propose_fixes", s);
    fixloop_track_free(track);
    size_t fix_count = 0;
    fixloop_fix_list_len(fixes, &fix_count);
    for (size_t i = 0; i < fix_count; i++) {
        fixloop_fix fix;
        char text[256];
        fixloop_fix_list_get(fixes, i, &fix);
        fixloop_fix_list_describe(fixes, i, text, sizeof text, NULL);
        printf("fix %s %s: %.2f -> %.2f (confidence %.2f): %s\n", fix.fix_id,
               fixloop_feature_name(fix.gap_feature), fix.current_value, fix.new_value,
               fix.confidence, text);
    }

    /* Record the lifecycle of the most confident fix. */
    fixloop_collector *collector = NULL;
    s = fixloop_collector_open(argv[2], &collector);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_open", s);
    const char *tests[] = {"targeting_strategy_001"};
    uint32_t arm = 0;
    s = fixloop_ab_assign(tests[0], "session-c-1", 0.5, &arm);
    if (s != FIXLOOP_OK) return fail("fixloop_ab_assign", s);
    s = fixloop_collector_start_session(collector, argv[4], "session-c-1", version,
                                        tests, &arm, 1);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_start_session", s);
    fixloop_fix first;
    fixloop_fix_list_get(fixes, 0, &first);
    /* The fix model both ways: the control of the fix stage the fix moves (from neutral
     * controls) and the feature value that setting aims for. */
    double controls[FIXLOOP_CONTROL_COUNT] = {0};
    controls[FIXLOOP_CONTROL_WIDTH] = 1.0;
    fixloop_control_move move;
    bool applies = false;
    s = fixloop_fix_list_control_move(fixes, 0, controls, NAN, &move, &applies);
    if (s != FIXLOOP_OK) return fail("fixloop_fix_list_control_move", s);
    double aimed = 0.0;
    s = fixloop_fix_list_aimed_value(fixes, 0, applies ? move.setting : first.setting_value,
                                     &aimed);
    if (s != FIXLOOP_OK) return fail("fixloop_fix_list_aimed_value", s);
    if (applies) {
        printf("control %u: %.4f -> %.4f aims %s at %.4f\n", move.control, move.previous,
               move.applied, fixloop_feature_name(first.gap_feature), aimed);
    }
    fixloop_event_id event;
    /* The record functions are real-time safe: an audio thread may call them. */
    s = fixloop_collector_fix_applied(collector, &first, &event);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_fix_applied", s);
    s = fixloop_collector_user_action(collector, event, FIXLOOP_ACTION_ACCEPT, NAN);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_user_action", s);
    s = fixloop_collector_outcome(collector, event, first.z_score * 0.25);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_outcome", s);
    s = fixloop_collector_session_saved(collector);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_session_saved", s);
    s = fixloop_collector_flush(collector);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_flush", s);
    fixloop_collector_stats stats;
    fixloop_collector_get_stats(collector, &stats);
    printf("collector pushed=%llu durable=%llu dropped=%llu\n", (unsigned long long)stats.pushed,
           (unsigned long long)stats.durable, (unsigned long long)stats.dropped);
    s = fixloop_collector_close(collector);
    if (s != FIXLOOP_OK) return fail("fixloop_collector_close", s);

    /* Read the summary back, as JSON. */
    char *summary = NULL;
    s = fixloop_summary_json(argv[2], NULL, &summary);
    if (s != FIXLOOP_OK) return fail("fixloop_summary_json", s);
    printf("summary %.60s\n", summary);
    fixloop_string_free(summary);

    /* Refine the profile from that feedback (one event suffices for the example). */
    fixloop_profile *refined = NULL;
    char *report = NULL;
    s = fixloop_refine_profile(profile, argv[2], 1, &refined, &report);
    if (s != FIXLOOP_OK) return fail("fixloop_refine_profile", s);
    char refined_version[128];
    fixloop_profile_version(refined, refined_version, sizeof refined_version, NULL);
    printf("refined %s\n", refined_version);
    fixloop_string_free(report);
    fixloop_profile_free(refined);

    /* The same refinement, kept as the plugin keeps it: the profile's lineage in a home.
     * A host runs the learning step at session start and after a session ends; it refines
     * once a feature has enough events for the version in force (1 here, 20 by default). */
    char name[64];
    s = fixloop_profile_name(profile, name, sizeof name, NULL);
    if (s != FIXLOOP_OK) return fail("fixloop_profile_name", s);
    fixloop_lineage *lineage = NULL;
    s = fixloop_lineage_open(argv[3], name, &lineage);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_open", s);
    s = fixloop_lineage_adopt(lineage, profile, NULL);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_adopt", s);
    uint32_t learned = 0;
    s = fixloop_lineage_learn(lineage, argv[2], 1, &learned, NULL);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_learn", s);
    fixloop_profile *in_force = NULL;
    s = fixloop_lineage_current(lineage, &in_force);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_current", s);
    fixloop_profile_version(in_force, refined_version, sizeof refined_version, NULL);
    fixloop_profile_free(in_force);
    printf("learned %s: in force %s\n",
           learned == FIXLOOP_LEARNED_REFINED ? "refined" : "nothing", refined_version);
    char *history = NULL;
    s = fixloop_lineage_history_json(lineage, &history);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_history_json", s);
    printf("history %.48s\n", history);
    fixloop_string_free(history);
    s = fixloop_lineage_revert(lineage, version);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_revert", s);
    s = fixloop_lineage_current(lineage, &in_force);
    if (s != FIXLOOP_OK) return fail("fixloop_lineage_current", s);
    fixloop_profile_version(in_force, refined_version, sizeof refined_version, NULL);
    fixloop_profile_free(in_force);
    printf("reverted: in force %s\n", refined_version);
    fixloop_lineage_close(lineage);

    fixloop_fix_list_free(fixes);
    fixloop_profile_free(profile);
    printf("ok\n");
    return 0;
}
