// classify_edf.cpp - classify EEG windows with the C++ wrapper (qssm.hpp).
//
//   classify_edf MODEL.safetensors WINDOWS.f32 [--stream]
//
// WINDOWS.f32: N windows of C channels x T samples, channel-major, little-endian float32, in
// microvolts (bindings-c/examples/c_inputs.rs writes it from data/eegmmidb/S001/S001R04.edf).
// Default: each window is classified whole (Model::classify_window). With --stream: each window
// is pushed channel-major, in one chunk, into a stream (hop = T) reset before every window.
//
// Output: '#' comment lines, then one line per window:
//   index class logit_0 .. logit_{K-1} p_0 .. p_{K-1}
// with nine significant digits (run-c-tests.sh compares them with the Rust engine's).
#include "qssm.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<float> read_floats(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.size() % sizeof(float) != 0)
        throw std::runtime_error(path + " is not a whole number of float32 values");
    const std::uint32_t one = 1;
    unsigned char first = 0;
    std::memcpy(&first, &one, 1);
    if (first != 1) throw std::runtime_error(path + " is little-endian; this host is not");
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

void print(std::size_t index, const qssm::Prediction &p) {
    std::printf("%zu %zu", index, p.cls);
    for (float v : p.logits) std::printf(" %.8e", v);
    for (float v : p.probabilities) std::printf(" %.8e", v);
    std::printf("\n");
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4 || (argc == 4 && std::string(argv[3]) != "--stream")) {
        std::cerr << "usage: " << argv[0] << " MODEL.safetensors WINDOWS.f32 [--stream]\n";
        return 2;
    }
    const bool streaming = argc == 4;
    try {
        const qssm::Model model = qssm::Model::load_file(argv[1]);
        const std::size_t c = model.n_channels(), t = model.n_times();
        const std::vector<std::string> channels = model.channels();
        std::printf("# qssm %s: model %s, %zu channels (%s .. %s), T = %zu at %g Hz, %zu classes\n",
                    qssm_version(), model.id().c_str(), c, channels.front().c_str(),
                    channels.back().c_str(), t, model.sfreq(), model.n_classes());

        const std::vector<float> all = read_floats(argv[2]);
        if (all.size() % (c * t) != 0)
            throw std::runtime_error("window file does not hold whole (C, T) windows");
        const std::size_t n = all.size() / (c * t);
        std::printf("# %zu windows, %s, microvolts\n", n,
                    streaming ? "streamed channel-major (hop = T)" : "classified whole");

        std::optional<qssm::Stream> stream;
        if (streaming) stream.emplace(model.stream(t));
        for (std::size_t w = 0; w < n; w++) {
            const std::vector<float> window(all.begin() + w * c * t, all.begin() + (w + 1) * c * t);
            if (!streaming) {
                print(w, model.classify_window(window, qssm::Unit::Microvolt));
                continue;
            }
            stream->reset();
            stream->push(window, qssm::Layout::ChannelMajor, qssm::Unit::Microvolt);
            const std::optional<qssm::Prediction> p = stream->latest();
            if (!p || p->samples_seen != t) throw std::runtime_error("no prediction after T samples");
            print(w, *p);
        }
        // Misuse is reported as an exception carrying the status and the library's message.
        try {
            model.classify_window(all.data(), c * t - 1, qssm::Unit::Microvolt);
            std::cerr << "classify_edf: a short window was accepted\n";
            return 1;
        } catch (const qssm::Error &e) {
            if (e.status() != QSSM_STATUS_WRONG_LENGTH) throw;
            std::printf("# short window rejected as expected: %s\n", e.what());
        }
    } catch (const std::exception &e) {
        std::cerr << "classify_edf: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
