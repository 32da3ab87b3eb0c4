// A C++17 host over the fixloop C API: RAII wrappers own the handles, errors become
// exceptions carrying fixloop_last_error().
//
// Renders a short bass-heavy mix and writes it as a WAV file, analyses the file (a Track),
// loads a profile, scores the track, proposes fixes for it, records a fix lifecycle through
// a Collector (applied, modified, outcome, bounce), flushes, reads the summary, refines,
// and runs the learning step on the profile's Lineage in a home, then reverts it.
//
// Usage: host PROFILE.json FEEDBACK_DIR HOME_DIR MIX.wav
// Build: c++ -std=c++17 -Iinclude examples/cpp/host.cpp target/release/libfixloop.a -lpthread -ldl -lm
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fixloop.h"

namespace fixloop {

class Error : public std::runtime_error {
  public:
    Error(const char *call, fixloop_status status)
        : std::runtime_error(std::string(call) + ": " + fixloop_status_message(status) + ": " +
                             last_error()),
          status_(status) {}
    fixloop_status status() const { return status_; }

  private:
    static std::string last_error() {
        size_t len = 0;
        fixloop_last_error(nullptr, 0, &len);
        std::string text(len + 1, '\0');
        fixloop_last_error(text.data(), text.size(), nullptr);
        text.resize(len);
        return text;
    }
    fixloop_status status_;
};

inline void check(const char *call, fixloop_status status) {
    if (status != FIXLOOP_OK) throw Error(call, status);
}

struct ProfileDeleter {
    void operator()(fixloop_profile *p) const { fixloop_profile_free(p); }
};
struct FixListDeleter {
    void operator()(fixloop_fix_list *l) const { fixloop_fix_list_free(l); }
};

class FixList {
  public:
    explicit FixList(fixloop_fix_list *list) : list_(list) {}
    size_t size() const {
        size_t n = 0;
        check("fixloop_fix_list_len", fixloop_fix_list_len(list_.get(), &n));
        return n;
    }
    fixloop_fix at(size_t i) const {
        fixloop_fix fix;
        check("fixloop_fix_list_get", fixloop_fix_list_get(list_.get(), i, &fix));
        return fix;
    }
    std::string describe(size_t i) const {
        size_t len = 0;
        fixloop_fix_list_describe(list_.get(), i, nullptr, 0, &len);
        std::string text(len + 1, '\0');
        check("fixloop_fix_list_describe",
              fixloop_fix_list_describe(list_.get(), i, text.data(), text.size(), nullptr));
        text.resize(len);
        return text;
    }

  private:
    std::unique_ptr<fixloop_fix_list, FixListDeleter> list_;
};

// Owns a string the library returned (`char **out`).
struct StringDeleter {
    void operator()(char *s) const { fixloop_string_free(s); }
};
using OwnedString = std::unique_ptr<char, StringDeleter>;

class Collector {
  public:
    explicit Collector(const std::string &dir) {
        fixloop_collector *c = nullptr;
        check("fixloop_collector_open", fixloop_collector_open(dir.c_str(), &c));
        handle_.reset(c);
    }
    void start_session(const std::string &track, const std::string &session,
                       const std::string &profile_version) {
        check("fixloop_collector_start_session",
              fixloop_collector_start_session(handle_.get(), track.c_str(), session.c_str(),
                                              profile_version.c_str(), nullptr, nullptr, 0));
    }
    // Real-time safe: may be called from the audio thread.
    fixloop_event_id fix_applied(const fixloop_fix &fix) {
        fixloop_event_id id;
        check("fixloop_collector_fix_applied",
              fixloop_collector_fix_applied(handle_.get(), &fix, &id));
        return id;
    }
    void modified(fixloop_event_id id, double value) {
        check("fixloop_collector_user_action",
              fixloop_collector_user_action(handle_.get(), id, FIXLOOP_ACTION_MODIFY, value));
    }
    void outcome(fixloop_event_id id, double gap_after) {
        check("fixloop_collector_outcome", fixloop_collector_outcome(handle_.get(), id, gap_after));
    }
    void bounced() {
        check("fixloop_collector_track_bounced", fixloop_collector_track_bounced(handle_.get()));
    }
    void flush() { check("fixloop_collector_flush", fixloop_collector_flush(handle_.get())); }
    fixloop_collector_stats stats() const {
        fixloop_collector_stats s;
        check("fixloop_collector_get_stats", fixloop_collector_get_stats(handle_.get(), &s));
        return s;
    }

  private:
    struct Closer {
        void operator()(fixloop_collector *c) const { fixloop_collector_close(c); }
    };
    std::unique_ptr<fixloop_collector, Closer> handle_;
};

// An analysed track: its features and spectrum, from an audio file.
class Track {
  public:
    static Track analyze(const std::string &path) {
        fixloop_track *t = nullptr;
        check("fixloop_analyze_file", fixloop_analyze_file(path.c_str(), &t));
        return Track(t);
    }
    // The measured features (absent ones left out).
    std::vector<fixloop_feature_value> features() const {
        std::vector<fixloop_feature_value> values(FIXLOOP_FEATURE_COUNT);
        size_t n = 0;
        check("fixloop_track_features",
              fixloop_track_features(handle_.get(), values.data(), values.size(), &n));
        values.resize(n);
        return values;
    }
    const fixloop_track *get() const { return handle_.get(); }

  private:
    explicit Track(fixloop_track *t) : handle_(t) {}
    struct Deleter {
        void operator()(fixloop_track *t) const { fixloop_track_free(t); }
    };
    std::unique_ptr<fixloop_track, Deleter> handle_;
};

class Profile {
  public:
    static Profile load(const std::string &path) {
        fixloop_profile *p = nullptr;
        check("fixloop_profile_load", fixloop_profile_load(path.c_str(), &p));
        return Profile(p);
    }
    std::string version() const {
        char buf[128];
        check("fixloop_profile_version",
              fixloop_profile_version(handle_.get(), buf, sizeof buf, nullptr));
        return buf;
    }
    fixloop_score score(const std::vector<fixloop_feature_value> &values) const {
        fixloop_score s;
        check("fixloop_score_track", fixloop_score_track(handle_.get(), values.data(),
                                                         values.size(), &s, nullptr, 0, nullptr));
        return s;
    }
    FixList fixes(const std::vector<fixloop_feature_value> &values,
                  const fixloop_policy &policy) const {
        fixloop_fix_list *list = nullptr;
        check("fixloop_propose_fixes", fixloop_propose_fixes(handle_.get(), values.data(),
                                                             values.size(), &policy, &list));
        return FixList(list);
    }
    // The fixes `fixloop analyze` proposes for the track's audio.
    FixList fixes(const Track &track, const fixloop_policy &policy) const {
        fixloop_fix_list *list = nullptr;
        check("fixloop_track_propose_fixes",
              fixloop_track_propose_fixes(handle_.get(), track.get(), &policy, &list));
        return FixList(list);
    }
    const fixloop_profile *get() const { return handle_.get(); }
    // The target learned from the producer's decisions for `feature`, if any.
    bool learned_target(uint32_t feature, fixloop_learned_target &out) const {
        fixloop_status s = fixloop_profile_learned_target(handle_.get(), feature, &out);
        if (s == FIXLOOP_ERR_NOT_FOUND) return false;
        check("fixloop_profile_learned_target", s);
        return true;
    }
    Profile refine(const std::string &feedback, uint64_t min_events) const {
        fixloop_profile *p = nullptr;
        check("fixloop_refine_profile",
              fixloop_refine_profile(handle_.get(), feedback.c_str(), min_events, &p, nullptr));
        return Profile(p);
    }

  private:
    friend class Lineage;
    explicit Profile(fixloop_profile *p) : handle_(p) {}
    std::unique_ptr<fixloop_profile, ProfileDeleter> handle_;
};

struct LineageDeleter {
    void operator()(fixloop_lineage *l) const { fixloop_lineage_close(l); }
};

// A profile's versions and history in a home: what the plugin learns by itself.
class Lineage {
  public:
    Lineage(const std::string &home, const std::string &name) {
        fixloop_lineage *l = nullptr;
        check("fixloop_lineage_open", fixloop_lineage_open(home.c_str(), name.c_str(), &l));
        handle_.reset(l);
    }
    // Makes `profile` part of the lineage; returns the profile in force.
    Profile adopt(const Profile &profile) const {
        fixloop_profile *p = nullptr;
        check("fixloop_lineage_adopt", fixloop_lineage_adopt(handle_.get(), profile.get(), &p));
        return Profile(p);
    }
    // One learning step (run at session start and end); true when a refined version is now
    // in force.
    bool learn(const std::string &feedback, uint64_t min_events) const {
        uint32_t result = 0;
        check("fixloop_lineage_learn", fixloop_lineage_learn(handle_.get(), feedback.c_str(),
                                                             min_events, &result, nullptr));
        return result == FIXLOOP_LEARNED_REFINED;
    }
    Profile current() const {
        fixloop_profile *p = nullptr;
        check("fixloop_lineage_current", fixloop_lineage_current(handle_.get(), &p));
        return Profile(p);
    }
    void revert(const std::string &version) const {
        check("fixloop_lineage_revert", fixloop_lineage_revert(handle_.get(), version.c_str()));
    }

  private:
    std::unique_ptr<fixloop_lineage, LineageDeleter> handle_;
};

inline uint32_t feature(const char *name) {
    uint32_t id = 0;
    check("fixloop_feature_from_name", fixloop_feature_from_name(name, &id));
    return id;
}

}  // namespace fixloop

// Four seconds of a 48 kHz stereo mix with too much bass, as a 16-bit WAV file.
static void write_mix(const std::string &path) {
    const int rate = 48000, frames = rate * 4;
    const double two_pi = 6.283185307179586;
    std::vector<int16_t> samples;
    samples.reserve(2 * frames);
    uint32_t noise = 2024u;
    for (int i = 0; i < frames; i++) {
        double t = double(i) / rate;
        double beat = std::fmod(t * 2.25, 1.0);  // 135 bpm quarter notes
        // A loud two-note bass, a bright saw lead a little wider than mono, noise hats.
        double bass = 0.45 * std::sin(two_pi * 82.4 * t) + 0.2 * std::sin(two_pi * 164.8 * t);
        double saw_l = 0.0, saw_r = 0.0;
        for (int k = 1; k <= 24; k++) {
            saw_l += std::sin(two_pi * 440.0 * k * t) / k;
            saw_r += std::sin(two_pi * 441.5 * k * t) / k;
        }
        noise = noise * 1664525u + 1013904223u;
        double hats = (beat > 0.5 && beat < 0.56) ? 0.06 * ((noise >> 8) / 8388608.0 - 1.0) : 0.0;
        samples.push_back(int16_t(std::lround(32767.0 * 0.7 * (bass + 0.05 * saw_l + hats))));
        samples.push_back(int16_t(std::lround(32767.0 * 0.7 * (bass + 0.05 * saw_r + hats))));
    }
    auto u32 = [](std::ofstream &f, uint32_t v) {
        for (int k = 0; k < 4; k++) f.put(char((v >> (8 * k)) & 0xff));
    };
    auto u16 = [](std::ofstream &f, uint16_t v) {
        f.put(char(v & 0xff));
        f.put(char(v >> 8));
    };
    std::ofstream f(path, std::ios::binary);
    uint32_t data = uint32_t(samples.size() * 2);
    f.write("RIFF", 4);
    u32(f, 36 + data);
    f.write("WAVEfmt ", 8);
    u32(f, 16);
    u16(f, 1);  // PCM
    u16(f, 2);
    u32(f, rate);
    u32(f, rate * 4);
    u16(f, 4);
    u16(f, 16);
    f.write("data", 4);
    u32(f, data);
    for (int16_t v : samples) u16(f, uint16_t(v));
    if (!f) throw std::runtime_error("cannot write " + path);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s PROFILE.json FEEDBACK_DIR HOME_DIR MIX.wav\n", argv[0]);
        return 2;
    }
    try {
        auto profile = fixloop::Profile::load(argv[1]);
        std::printf("profile %s\n", profile.version().c_str());
        write_mix(argv[4]);
        auto analysed = fixloop::Track::analyze(argv[4]);
        auto track = analysed.features();
        std::printf("analysed %zu features\n", track.size());
        auto score = profile.score(track);
        std::printf("score %.1f (%u of %u in range)\n", score.score, score.in_range_count,
                    score.gap_count);
        fixloop_policy policy;
        fixloop::check("fixloop_policy_default", fixloop_policy_default(&policy));
        policy.target_strategy = FIXLOOP_TARGET_MEAN;
        auto fixes = profile.fixes(analysed, policy);
        for (size_t i = 0; i < fixes.size(); i++) {
            auto fix = fixes.at(i);
            std::printf("fix %s: %s\n", fixloop_feature_name(fix.gap_feature),
                        fixes.describe(i).c_str());
        }
        {
            fixloop::Collector collector(argv[2]);
            collector.start_session(argv[4], "session-cpp-1", profile.version());
            auto fix = fixes.at(0);
            auto event = collector.fix_applied(fix);
            collector.modified(event, (fix.current_value + fix.new_value) / 2);
            collector.outcome(event, fix.z_score / 2);
            collector.bounced();
            collector.flush();
            auto stats = collector.stats();
            std::printf("collector pushed=%llu durable=%llu\n",
                        static_cast<unsigned long long>(stats.pushed),
                        static_cast<unsigned long long>(stats.durable));
        }  // closed (and flushed) here
        char *raw = nullptr;
        fixloop::check("fixloop_summary_json", fixloop_summary_json(argv[2], nullptr, &raw));
        fixloop::OwnedString summary(raw);
        std::printf("summary %.40s\n", summary.get());
        auto refined = profile.refine(argv[2], 1);
        std::printf("refined %s\n", refined.version().c_str());
        fixloop::Lineage lineage(argv[3], "trance");
        lineage.adopt(profile);
        bool learned = lineage.learn(argv[2], 1);
        std::printf("lineage %s: in force %s\n", learned ? "refined" : "unchanged",
                    lineage.current().version().c_str());
        // The modify said where the producer wants the value: the learned target.
        fixloop_learned_target target;
        if (lineage.current().learned_target(fixes.at(0).gap_feature, target)) {
            std::printf("learned target %s: %.2f (90 %% %.2f..%.2f, weight %.2f) from %llu "
                        "decision(s)\n",
                        fixloop_feature_name(fixes.at(0).gap_feature), target.target,
                        target.interval_low, target.interval_high, target.weight,
                        static_cast<unsigned long long>(target.decisions));
        }
        lineage.revert(profile.version());
        std::printf("reverted: in force %s\n", lineage.current().version().c_str());
        // Errors surface as exceptions with the library's message.
        try {
            fixloop::Profile::load("/nonexistent/profile.json");
        } catch (const fixloop::Error &e) {
            std::printf("expected error: %s\n", e.what());
        }
        std::printf("ok\n");
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
