/*
 * stream_edf.c - stream EEG windows through a causal qssm model with the C API.
 *
 *   stream_edf MODEL.safetensors WINDOWS.f32 [CHUNK]
 *
 * WINDOWS.f32 holds N windows of C channels x T samples, channel-major, little-endian float32,
 * in microvolts (bindings-c/examples/c_inputs.rs writes it from data/eegmmidb/S001/S001R04.edf;
 * C and T are the model's). The example plays each window back as a live amplifier would:
 * sample-major (interleaved) chunks of CHUNK samples (default 16) in microvolts, into a stream
 * whose state lives in memory this program allocates. The stream predicts every T samples
 * (hop = T) and is reset at the start of each window, so its prediction covers exactly one
 * window.
 *
 * Output: comment lines starting with '#', then one line per window:
 *   index class logit_0 .. logit_{K-1} p_0 .. p_{K-1}
 * with nine significant digits (run-c-tests.sh compares them with the Rust engine's).
 */
#include "qssm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Calls a qssm function; on failure prints the status name and last error, jumps to cleanup. */
#define CHECK(call)                                                                        \
    do {                                                                                   \
        QssmStatus st_ = (call);                                                           \
        if (st_ != QSSM_STATUS_OK) {                                                       \
            fprintf(stderr, "stream_edf: %s failed: %s: %s\n", #call, qssm_status_name(st_), \
                    qssm_last_error());                                                    \
            goto cleanup;                                                                  \
        }                                                                                  \
    } while (0)

/* Reads a whole file; returns NULL on failure. */
static unsigned char *read_file(const char *path, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(len > 0 ? (size_t)len : 1);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    if (buf) *out_len = (size_t)len;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.safetensors WINDOWS.f32 [CHUNK]\n", argv[0]);
        return 2;
    }
    const uint32_t one = 1;
    if (*(const unsigned char *)&one != 1) {
        fprintf(stderr, "stream_edf: WINDOWS.f32 is little-endian; this host is not\n");
        return 2;
    }
    size_t chunk = argc == 4 ? (size_t)strtoul(argv[3], NULL, 10) : 16;
    if (chunk == 0) chunk = 1;

    int rc = 1;
    QssmModel *model = NULL;
    QssmStream *stream = NULL;
    void *state = NULL, *scratch = NULL;
    float *windows = NULL, *interleaved = NULL, *logits = NULL, *probs = NULL;
    size_t file_len = 0;

    printf("# qssm %s (ABI %d)\n", qssm_version(), QSSM_ABI_VERSION);
    CHECK(qssm_model_load_file(argv[1], &model));

    size_t c = 0, t = 0, k = 0, state_bytes = 0, scratch_bytes = 0;
    double sfreq = 0.0;
    bool can_stream = false;
    const char *id = NULL, *first = NULL, *last = NULL;
    QssmUnit unit = 0;
    CHECK(qssm_model_n_channels(model, &c));
    CHECK(qssm_model_n_times(model, &t));
    CHECK(qssm_model_n_classes(model, &k));
    CHECK(qssm_model_sfreq(model, &sfreq));
    CHECK(qssm_model_id(model, &id));
    CHECK(qssm_model_input_unit(model, &unit));
    CHECK(qssm_model_channel_name(model, 0, &first));
    CHECK(qssm_model_channel_name(model, c - 1, &last));
    CHECK(qssm_model_can_stream(model, &can_stream));
    printf("# model %s: C = %zu channels (%s .. %s), T = %zu samples at %g Hz, K = %zu classes, "
           "unit code %u\n",
           id, c, first, last, t, sfreq, k, (unsigned)unit);
    if (!can_stream) {
        fprintf(stderr, "stream_edf: model %s cannot stream (not causal)\n", id);
        goto cleanup;
    }

    /* The stream's memory is ours: sizes are known right after loading. */
    CHECK(qssm_model_required_state_bytes(model, &state_bytes));
    CHECK(qssm_model_required_scratch_bytes(model, &scratch_bytes));
    printf("# stream memory: state %zu bytes, scratch %zu bytes (caller-allocated)\n", state_bytes,
           scratch_bytes);
    state = malloc(state_bytes);
    scratch = malloc(scratch_bytes);
    if (!state || !scratch) goto cleanup;
    CHECK(qssm_stream_new_in(model, t, state, state_bytes, scratch, scratch_bytes, &stream));

    windows = (float *)read_file(argv[2], &file_len);
    if (!windows) {
        fprintf(stderr, "stream_edf: cannot read %s\n", argv[2]);
        goto cleanup;
    }
    const size_t window_floats = c * t;
    if (file_len % (window_floats * sizeof(float)) != 0) {
        fprintf(stderr, "stream_edf: %s has %zu bytes, not a multiple of C*T*4 = %zu\n", argv[2],
                file_len, window_floats * sizeof(float));
        goto cleanup;
    }
    const size_t n_windows = file_len / (window_floats * sizeof(float));
    printf("# %zu windows, pushed sample-major in chunks of %zu samples, microvolts, hop = T\n",
           n_windows, chunk);

    interleaved = malloc(window_floats * sizeof(float));
    logits = malloc(k * sizeof(float));
    probs = malloc(k * sizeof(float));
    if (!interleaved || !logits || !probs) goto cleanup;

    for (size_t w = 0; w < n_windows; w++) {
        const float *x = windows + w * window_floats; /* (C, T) channel-major */
        for (size_t ch = 0; ch < c; ch++)             /* -> (T, C) as an amplifier sends it */
            for (size_t i = 0; i < t; i++) interleaved[i * c + ch] = x[ch * t + i];

        CHECK(qssm_stream_reset(stream));
        size_t predictions = 0;
        for (size_t i0 = 0; i0 < t; i0 += chunk) {
            size_t n = t - i0 < chunk ? t - i0 : chunk, made = 0;
            CHECK(qssm_stream_push(stream, interleaved + i0 * c, n * c, c,
                                   QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT, &made));
            predictions += made;
        }
        size_t cls = 0;
        uint64_t seen = 0;
        CHECK(qssm_stream_latest(stream, logits, probs, k, &cls, &seen));
        if (predictions != 1 || seen != t) {
            fprintf(stderr, "stream_edf: window %zu: %zu predictions covering %llu samples\n", w,
                    predictions, (unsigned long long)seen);
            goto cleanup;
        }
        printf("%zu %zu", w, cls);
        for (size_t j = 0; j < k; j++) printf(" %.8e", logits[j]);
        for (size_t j = 0; j < k; j++) printf(" %.8e", probs[j]);
        printf("\n");
    }
    rc = 0;

cleanup:
    qssm_stream_free(&stream); /* before the memory it borrows */
    qssm_model_free(&model);
    free(state);
    free(scratch);
    free(windows);
    free(interleaved);
    free(logits);
    free(probs);
    return rc;
}
