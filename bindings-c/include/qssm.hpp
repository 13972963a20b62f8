// qssm.hpp - a small C++17 RAII wrapper over the qssm C API (qssm.h). Header-only; link
// libqssm as for C.
//
//   qssm::Model model = qssm::Model::load_file("model.safetensors");
//   qssm::Prediction p = model.classify_window(window, qssm::Unit::Microvolt);  // (C, T)
//   qssm::Stream s = model.stream(/*hop=*/1);
//   s.push(chunk, model.n_channels(), qssm::Layout::SampleMajor, qssm::Unit::Microvolt);
//   if (auto q = s.latest()) use(q->cls, q->probabilities);
//
// Ownership: Model and Stream own their handle (move-only; the destructor frees it). A Stream
// keeps its model alive, so it may outlive the Model object. Errors: every failing call throws
// qssm::Error, which carries the QssmStatus and the library's message; "no prediction yet" is
// not an error (Stream::latest returns std::nullopt). Shapes: C channels, T samples per window,
// K classes; windows are channel-major (x[c*T + t]).
//
// SPDX-License-Identifier: MIT OR Apache-2.0
#ifndef QSSM_HPP
#define QSSM_HPP

#include "qssm.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace qssm {

// Unit of signal values (see QSSM_UNIT_*).
enum class Unit : QssmUnit {
    Microvolt = QSSM_UNIT_MICROVOLT,
    Millivolt = QSSM_UNIT_MILLIVOLT,
    Volt = QSSM_UNIT_VOLT,
    // no physical unit (a model whose card's input unit is `none`, e.g. qt-cnn's pixels)
    Unitless = QSSM_UNIT_NONE,
};

// Memory order of a pushed chunk (see QSSM_LAYOUT_*).
enum class Layout : QssmLayout {
    SampleMajor = QSSM_LAYOUT_SAMPLE_MAJOR,
    ChannelMajor = QSSM_LAYOUT_CHANNEL_MAJOR,
};

// A failed qssm call: its status code and the library's one-line message.
class Error : public std::runtime_error {
  public:
    Error(QssmStatus status, const std::string &what)
        : std::runtime_error(std::string(qssm_status_name(status)) + ": " + what),
          status_(status) {}
    QssmStatus status() const noexcept { return status_; }

  private:
    QssmStatus status_;
};

namespace detail {
// Throws qssm::Error unless `status` is QSSM_STATUS_OK (reads the thread's last error now,
// before any other qssm call can replace it).
inline void check(QssmStatus status) {
    if (status != QSSM_STATUS_OK) throw Error(status, qssm_last_error());
}
}  // namespace detail

// One prediction: K logits, K softmax probabilities, the most likely class, and (streams
// only) the number of samples it covers since the last reset.
struct Prediction {
    std::vector<float> logits;
    std::vector<float> probabilities;
    std::size_t cls = 0;
    std::uint64_t samples_seen = 0;
};

class Stream;

// An immutable loaded model (wraps QssmModel*). Thread-safe for concurrent const use.
class Model {
  public:
    // Loads the model file at `path` (UTF-8).
    static Model load_file(const std::string &path) {
        QssmModel *m = nullptr;
        detail::check(qssm_model_load_file(path.c_str(), &m));
        return Model(m);
    }
    // Loads a model file held in memory (copied; the buffer may be freed afterwards).
    static Model load(const void *bytes, std::size_t len) {
        QssmModel *m = nullptr;
        detail::check(qssm_model_load(static_cast<const std::uint8_t *>(bytes), len, &m));
        return Model(m);
    }

    Model(Model &&other) noexcept : m_(std::exchange(other.m_, nullptr)) {}
    Model &operator=(Model &&other) noexcept {
        if (this != &other) {
            qssm_model_free(&m_);
            m_ = std::exchange(other.m_, nullptr);
        }
        return *this;
    }
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;
    ~Model() { qssm_model_free(&m_); }

    std::size_t n_channels() const { return get_size(qssm_model_n_channels); }
    std::size_t n_times() const { return get_size(qssm_model_n_times); }
    std::size_t n_classes() const { return get_size(qssm_model_n_classes); }
    std::size_t required_state_bytes() const { return get_size(qssm_model_required_state_bytes); }
    std::size_t required_scratch_bytes() const {
        return get_size(qssm_model_required_scratch_bytes);
    }
    double sfreq() const {
        double hz = 0.0;
        detail::check(qssm_model_sfreq(m_, &hz));
        return hz;
    }
    std::string id() const {
        const char *s = nullptr;
        detail::check(qssm_model_id(m_, &s));
        return s;
    }
    std::string channel_name(std::size_t index) const {
        const char *s = nullptr;
        detail::check(qssm_model_channel_name(m_, index, &s));
        return s;
    }
    // The C channel names in input order: map your device's channels by name.
    std::vector<std::string> channels() const {
        std::vector<std::string> names;
        for (std::size_t i = 0, c = n_channels(); i < c; i++) names.push_back(channel_name(i));
        return names;
    }
    bool is_causal() const {
        bool b = false;
        detail::check(qssm_model_is_causal(m_, &b));
        return b;
    }
    bool can_stream() const {
        bool b = false;
        detail::check(qssm_model_can_stream(m_, &b));
        return b;
    }
    Unit input_unit() const {
        QssmUnit u = 0;
        detail::check(qssm_model_input_unit(m_, &u));
        return static_cast<Unit>(u);
    }

    // Classifies one (C, T) channel-major window of `len` = C*T floats in `unit`.
    Prediction classify_window(const float *window, std::size_t len, Unit unit) const {
        Prediction p;
        const std::size_t k = n_classes();
        p.logits.resize(k);
        p.probabilities.resize(k);
        detail::check(qssm_model_classify_window(m_, window, len, static_cast<QssmUnit>(unit),
                                                 p.logits.data(), p.probabilities.data(), k,
                                                 &p.cls));
        return p;
    }
    Prediction classify_window(const std::vector<float> &window, Unit unit) const {
        return classify_window(window.data(), window.size(), unit);
    }

    // A stream over this model with library-allocated state (see Stream).
    Stream stream(std::size_t hop) const;

    // The C handle, for calls this wrapper does not cover (still owned by this object).
    const QssmModel *get() const noexcept { return m_; }

  private:
    explicit Model(QssmModel *m) : m_(m) {}
    std::size_t get_size(QssmStatus (*f)(const QssmModel *, std::size_t *)) const {
        std::size_t n = 0;
        detail::check(f(m_, &n));
        return n;
    }
    QssmModel *m_ = nullptr;
};

// The streaming state of a causal model (wraps QssmStream*). Not for concurrent use.
class Stream {
  public:
    Stream(Stream &&other) noexcept
        : s_(std::exchange(other.s_, nullptr)), k_(other.k_), c_(other.c_),
          state_bytes_(other.state_bytes_) {}
    Stream &operator=(Stream &&other) noexcept {
        if (this != &other) {
            qssm_stream_free(&s_);
            s_ = std::exchange(other.s_, nullptr);
            k_ = other.k_;
            c_ = other.c_;
            state_bytes_ = other.state_bytes_;
        }
        return *this;
    }
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;
    ~Stream() { qssm_stream_free(&s_); }

    // Pushes `len` = n * n_channels floats in `layout` and `unit`; returns the number of
    // predictions made (one per hop boundary crossed).
    std::size_t push(const float *data, std::size_t len, std::size_t n_channels, Layout layout,
                     Unit unit) {
        std::size_t made = 0;
        detail::check(qssm_stream_push(s_, data, len, n_channels,
                                       static_cast<QssmLayout>(layout),
                                       static_cast<QssmUnit>(unit), &made));
        return made;
    }
    std::size_t push(const std::vector<float> &data, Layout layout, Unit unit) {
        return push(data.data(), data.size(), c_, layout, unit);
    }

    // The latest prediction, or std::nullopt before the first hop boundary since creation,
    // reset or restore.
    std::optional<Prediction> latest() const {
        Prediction p;
        p.logits.resize(k_);
        p.probabilities.resize(k_);
        QssmStatus st = qssm_stream_latest(s_, p.logits.data(), p.probabilities.data(), k_,
                                           &p.cls, &p.samples_seen);
        if (st == QSSM_STATUS_NO_PREDICTION) return std::nullopt;
        detail::check(st);
        return p;
    }

    void reset() { detail::check(qssm_stream_reset(s_)); }
    std::uint64_t samples_seen() const {
        std::uint64_t n = 0;
        detail::check(qssm_stream_samples_seen(s_, &n));
        return n;
    }
    // A copy of the state (restore it into a stream over the same model to continue).
    std::vector<float> snapshot() const {
        std::vector<float> out((state_bytes_ + sizeof(float) - 1) / sizeof(float));
        std::size_t written = 0;
        detail::check(
            qssm_stream_snapshot(s_, out.data(), out.size() * sizeof(float), &written));
        out.resize(written / sizeof(float));
        return out;
    }
    void restore(const std::vector<float> &snapshot) {
        detail::check(qssm_stream_restore(s_, snapshot.data(), snapshot.size() * sizeof(float)));
    }

    QssmStream *get() noexcept { return s_; }

  private:
    friend class Model;
    Stream(QssmStream *s, std::size_t k, std::size_t c, std::size_t state_bytes)
        : s_(s), k_(k), c_(c), state_bytes_(state_bytes) {}
    QssmStream *s_ = nullptr;
    std::size_t k_ = 0;
    std::size_t c_ = 0;
    std::size_t state_bytes_ = 0;
};

inline Stream Model::stream(std::size_t hop) const {
    const std::size_t k = n_classes(), c = n_channels();
    QssmStream *s = nullptr;
    detail::check(qssm_stream_new(m_, hop, &s));
    Stream stream(s, k, c, 0);  // owns s from here on, even if the next call throws
    stream.state_bytes_ = required_state_bytes();
    return stream;
}

}  // namespace qssm

#endif  // QSSM_HPP
