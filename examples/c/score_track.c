/* Scores a work-in-progress track against the example trance profile through the C API
 * and prints the gaps and the proposed fixes.
 *
 * Usage: score_track PROFILE.json
 * Build: cc -std=c11 -Iinclude examples/c/score_track.c target/release/libfixloop.a -lpthread -ldl -lm
 */
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
    if (argc != 2) {
        fprintf(stderr, "usage: %s PROFILE.json\n", argv[0]);
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

    fixloop_fix_list_free(fixes);
    fixloop_profile_free(profile);
    printf("ok\n");
    return 0;
}
