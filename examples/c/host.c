/* A C host of the fixloop API: loads a profile, scores a work-in-progress track, proposes
 * fixes, records one fix's lifecycle in a feedback log (applied, accepted, outcome,
 * session saved), flushes, reads the feedback summary and refines the profile; then keeps
 * the profile's lineage in a home as the plugin does: adopts it, runs the learning step,
 * reads the history and reverts to the original.
 *
 * Usage: host PROFILE.json FEEDBACK_DIR HOME_DIR
 * Build: cc -std=c11 -Iinclude examples/c/host.c target/release/libfixloop.a -lpthread -ldl -lm
 */
#include <math.h>
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

/* The work-in-progress mix, by feature name. */
static const struct {
    const char *name;
    double value;
} WIP[] = {
    {"loudness", -10.9},       {"loudness_range", 7.9},    {"true_peak", -1.6},
    {"plr", 9.3},              {"sub_level", -4.1},        {"bass_level", -1.9},
    {"low_mid_level", -11.0},  {"mid_level", -13.4},       {"high_mid_level", -20.9},
    {"high_level", -26.7},     {"air_level", -33.9},       {"spectral_centroid", 780.0},
    {"stereo_width", 0.52},    {"stereo_correlation", 0.58}, {"low_end_width", 0.19},
    {"modulation_depth", 4.1},
};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PROFILE.json FEEDBACK_DIR HOME_DIR\n", argv[0]);
        return 2;
    }
    if (fixloop_abi_version() != FIXLOOP_ABI_VERSION) {
        fprintf(stderr, "library ABI %u, header ABI %u\n", fixloop_abi_version(),
                (unsigned)FIXLOOP_ABI_VERSION);
        return 1;
    }

    fixloop_profile *profile = NULL;
    fixloop_status s = fixloop_profile_load(argv[1], &profile);
    if (s != FIXLOOP_OK) return fail("fixloop_profile_load", s);

    char version[64];
    s = fixloop_profile_version(profile, version, sizeof version, NULL);
    if (s != FIXLOOP_OK) return fail("fixloop_profile_version", s);
    printf("profile %s\n", version);

    size_t n = sizeof WIP / sizeof WIP[0];
    fixloop_feature_value values[FIXLOOP_FEATURE_COUNT];
    for (size_t i = 0; i < n; i++) {
        s = fixloop_feature_from_name(WIP[i].name, &values[i].feature);
        if (s != FIXLOOP_OK) return fail("fixloop_feature_from_name", s);
        values[i].value = WIP[i].value;
    }

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
    s = fixloop_propose_fixes(profile, values, n, &policy, &fixes);
    if (s != FIXLOOP_OK) return fail("fixloop_propose_fixes", s);
    size_t fix_count = 0;
    fixloop_fix_list_len(fixes, &fix_count);
    for (size_t i = 0; i < fix_count; i++) {
        fixloop_fix fix;
        char text[128];
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
    s = fixloop_collector_start_session(collector, "wip_anthem_v3.wav", "session-c-1", version,
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
