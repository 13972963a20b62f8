/*
 * misuse.c - the C API under misuse: every case must return its status code with a non-empty
 * message (qssm_last_error), leave out-parameters untouched, and never crash. Run it under
 * valgrind too (run-c-tests.sh does).
 *
 *   misuse MODEL_3B.safetensors [NONCAUSAL_1B.safetensors]
 *
 * Prints one "ok"/"FAIL" line per check (TAP-like) and exits non-zero if any check failed.
 */
#include "qssm.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0, checks = 0;

/* Checks that `got` is `want` and, for anything but OK, that a message was stored. */
static void expect_status(QssmStatus got, QssmStatus want, const char *what) {
    checks++;
    const char *msg = qssm_last_error();
    int ok = got == want && (want == QSSM_STATUS_OK || (msg != NULL && msg[0] != '\0'));
    printf("%s - %s: %s%s%s\n", ok ? "ok" : "FAIL", what, qssm_status_name(got),
           want == QSSM_STATUS_OK ? "" : " -- ", want == QSSM_STATUS_OK ? "" : msg);
    if (!ok) {
        printf("  expected %s\n", qssm_status_name(want));
        failures++;
    }
}

static void expect_true(int cond, const char *what) {
    checks++;
    printf("%s - %s\n", cond ? "ok" : "FAIL", what);
    if (!cond) failures++;
}

#define EXPECT(call, want) expect_status((call), (want), #call)

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL_3B.safetensors [NONCAUSAL_1B.safetensors]\n", argv[0]);
        return 2;
    }
    expect_true(qssm_version() != NULL && qssm_version()[0] != '\0', "qssm_version() is set");
    expect_true(strcmp(qssm_status_name(QSSM_STATUS_WRONG_LENGTH), "QSSM_STATUS_WRONG_LENGTH") == 0,
                "status names match the header");
    expect_true(strcmp(qssm_status_name(4242), "QSSM_STATUS_UNKNOWN") == 0,
                "an unknown status has a name too");

    /* --- loading ------------------------------------------------------------------------- */
    QssmModel *const SENTINEL_MODEL = (QssmModel *)(uintptr_t)0x10;
    QssmModel *model = SENTINEL_MODEL;
    EXPECT(qssm_model_load_file(NULL, &model), QSSM_STATUS_NULL_ARGUMENT);
    EXPECT(qssm_model_load_file(argv[1], NULL), QSSM_STATUS_NULL_ARGUMENT);
    EXPECT(qssm_model_load_file("/nonexistent/qssm/model.safetensors", &model), QSSM_STATUS_IO);
    EXPECT(qssm_model_load_file("bad\xff\xfe.safetensors", &model), QSSM_STATUS_INVALID_UTF8);
    const uint8_t garbage[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    EXPECT(qssm_model_load(garbage, sizeof garbage, &model), QSSM_STATUS_INVALID_MODEL);
    EXPECT(qssm_model_load(NULL, 16, &model), QSSM_STATUS_NULL_ARGUMENT);
    expect_true(model == SENTINEL_MODEL, "out_model untouched by failed loads");
    model = NULL;
    EXPECT(qssm_model_load_file(argv[1], &model), QSSM_STATUS_OK);
    if (!model) {
        printf("FAIL - cannot continue without the model\n");
        return 1;
    }
    expect_true(qssm_last_error()[0] == '\0', "success clears the last error");

    size_t c = 0, t = 0, k = 0;
    EXPECT(qssm_model_n_channels(model, &c), QSSM_STATUS_OK);
    EXPECT(qssm_model_n_times(model, &t), QSSM_STATUS_OK);
    EXPECT(qssm_model_n_classes(model, &k), QSSM_STATUS_OK);

    /* --- NULL handles and out-parameters --------------------------------------------------- */
    size_t n = 12345;
    EXPECT(qssm_model_n_channels(NULL, &n), QSSM_STATUS_NULL_ARGUMENT);
    expect_true(n == 12345, "out-parameter untouched on error");
    EXPECT(qssm_model_n_channels(model, NULL), QSSM_STATUS_NULL_ARGUMENT);
    EXPECT(qssm_model_sfreq(NULL, NULL), QSSM_STATUS_NULL_ARGUMENT);
    EXPECT(qssm_stream_new(NULL, 1, NULL), QSSM_STATUS_NULL_ARGUMENT);
    EXPECT(qssm_stream_reset(NULL), QSSM_STATUS_NULL_ARGUMENT);
    uint64_t seen = 99;
    EXPECT(qssm_stream_samples_seen(NULL, &seen), QSSM_STATUS_NULL_ARGUMENT);
    size_t made = 99;
    float one_sample[1] = {0.0f};
    EXPECT(qssm_stream_push(NULL, one_sample, 1, 1, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT,
                            &made),
           QSSM_STATUS_NULL_ARGUMENT);
    const char *name = "untouched";
    EXPECT(qssm_model_channel_name(model, c, &name), QSSM_STATUS_INDEX_OUT_OF_RANGE);
    expect_true(strcmp(name, "untouched") == 0, "channel name untouched on error");

    /* --- windows: wrong length, unknown unit, non-finite, buffer too small ------------------ */
    float *window = calloc(c * t, sizeof(float));
    float *logits = malloc(k * sizeof(float)), *probs = malloc(k * sizeof(float));
    size_t cls = 777;
    EXPECT(qssm_model_classify_window(model, window, c * t - 1, QSSM_UNIT_MICROVOLT, logits, probs,
                                      k, &cls),
           QSSM_STATUS_WRONG_LENGTH);
    EXPECT(qssm_model_classify_window(model, window, c * t + 1, QSSM_UNIT_MICROVOLT, logits, probs,
                                      k, &cls),
           QSSM_STATUS_WRONG_LENGTH);
    EXPECT(qssm_model_classify_window(model, window, c * t, 0, logits, probs, k, &cls),
           QSSM_STATUS_UNKNOWN_UNIT);
    EXPECT(qssm_model_classify_window(model, window, c * t, 99, logits, probs, k, &cls),
           QSSM_STATUS_UNKNOWN_UNIT);
    EXPECT(qssm_model_classify_window(model, window, c * t, QSSM_UNIT_MICROVOLT, logits, probs,
                                      k - 1, &cls),
           QSSM_STATUS_BUFFER_TOO_SMALL);
    EXPECT(qssm_model_classify_window(model, window, c * t, QSSM_UNIT_MICROVOLT, logits, probs, k,
                                      NULL),
           QSSM_STATUS_NULL_ARGUMENT);
    window[3 * t + 7] = NAN;
    EXPECT(qssm_model_classify_window(model, window, c * t, QSSM_UNIT_MICROVOLT, logits, probs, k,
                                      &cls),
           QSSM_STATUS_NON_FINITE_INPUT);
    expect_true(strstr(qssm_last_error(), "channel 3, sample 7") != NULL,
                "non-finite message names channel and sample");
    window[3 * t + 7] = INFINITY;
    EXPECT(qssm_model_classify_window(model, window, c * t, QSSM_UNIT_VOLT, NULL, NULL, 0, &cls),
           QSSM_STATUS_NON_FINITE_INPUT);
    expect_true(cls == 777, "class untouched by failed classifications");
    window[3 * t + 7] = 0.0f;
    EXPECT(qssm_model_classify_window(model, window, c * t, QSSM_UNIT_MICROVOLT, NULL, probs, k,
                                      &cls),
           QSSM_STATUS_OK);
    expect_true(cls < k, "a valid window classifies");

    /* --- streams: wrong channel count, wrong length, unknown unit/layout, no prediction ----- */
    QssmStream *stream = NULL;
    EXPECT(qssm_stream_new(model, 0, &stream), QSSM_STATUS_INVALID_HOP);
    expect_true(stream == NULL, "no stream on error");
    EXPECT(qssm_stream_new(model, 2, &stream), QSSM_STATUS_OK);
    float *chunk = calloc(c * 4, sizeof(float)); /* 4 samples */
    EXPECT(qssm_stream_latest(stream, logits, probs, k, &cls, &seen), QSSM_STATUS_NO_PREDICTION);
    EXPECT(qssm_stream_push(stream, chunk, c * 4, c - 1, QSSM_LAYOUT_SAMPLE_MAJOR,
                            QSSM_UNIT_MICROVOLT, &made),
           QSSM_STATUS_WRONG_CHANNEL_COUNT);
    EXPECT(qssm_stream_push(stream, chunk, c * 4 - 1, c, QSSM_LAYOUT_SAMPLE_MAJOR,
                            QSSM_UNIT_MICROVOLT, &made),
           QSSM_STATUS_WRONG_LENGTH);
    EXPECT(qssm_stream_push(stream, chunk, c * 4, c, QSSM_LAYOUT_SAMPLE_MAJOR, 42, &made),
           QSSM_STATUS_UNKNOWN_UNIT);
    EXPECT(qssm_stream_push(stream, chunk, c * 4, c, 0, QSSM_UNIT_MICROVOLT, &made),
           QSSM_STATUS_UNKNOWN_LAYOUT);
    chunk[2 * c + 1] = NAN;
    EXPECT(qssm_stream_push(stream, chunk, c * 4, c, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT,
                            &made),
           QSSM_STATUS_NON_FINITE_INPUT);
    chunk[2 * c + 1] = 0.0f;
    expect_true(made == 99, "out_n_predictions untouched on error");
    EXPECT(qssm_stream_samples_seen(stream, &seen), QSSM_STATUS_OK);
    expect_true(seen == 0, "rejected chunks consume nothing");
    EXPECT(qssm_stream_push(stream, chunk, c * 4, c, QSSM_LAYOUT_CHANNEL_MAJOR, QSSM_UNIT_MICROVOLT,
                            &made),
           QSSM_STATUS_OK);
    expect_true(made == 2, "4 samples at hop 2 make 2 predictions");
    EXPECT(qssm_stream_latest(stream, logits, probs, k - 1, &cls, &seen),
           QSSM_STATUS_BUFFER_TOO_SMALL);
    EXPECT(qssm_stream_latest(stream, logits, probs, k, &cls, &seen), QSSM_STATUS_OK);
    expect_true(seen == 4 && cls < k, "latest prediction covers 4 samples");

    /* --- snapshots and caller memory --------------------------------------------------------- */
    size_t state_bytes = 0, scratch_bytes = 0, written = 0;
    EXPECT(qssm_model_required_state_bytes(model, &state_bytes), QSSM_STATUS_OK);
    EXPECT(qssm_model_required_scratch_bytes(model, &scratch_bytes), QSSM_STATUS_OK);
    float *snap = malloc(state_bytes);
    EXPECT(qssm_stream_snapshot(stream, snap, state_bytes - 1, &written),
           QSSM_STATUS_BUFFER_TOO_SMALL);
    EXPECT(qssm_stream_snapshot(stream, snap, state_bytes, &written), QSSM_STATUS_OK);
    expect_true(written == state_bytes, "snapshot has the required size");
    snap[0] = 12345.0f; /* not a stream state any more */
    EXPECT(qssm_stream_restore(stream, snap, state_bytes), QSSM_STATUS_INVALID_SNAPSHOT);
    EXPECT(qssm_stream_restore(stream, snap, 8), QSSM_STATUS_INVALID_SNAPSHOT);
    void *state = malloc(state_bytes + 8), *scratch = malloc(scratch_bytes);
    QssmStream *mine = NULL;
    EXPECT(qssm_stream_new_in(model, 1, state, state_bytes - 4, scratch, scratch_bytes, &mine),
           QSSM_STATUS_BUFFER_TOO_SMALL);
    EXPECT(qssm_stream_new_in(model, 1, (char *)state + 1, state_bytes, scratch, scratch_bytes,
                              &mine),
           QSSM_STATUS_MISALIGNED_BUFFER);
    EXPECT(qssm_stream_new_in(model, 1, state, state_bytes, state, scratch_bytes, &mine),
           QSSM_STATUS_INVALID_ARGUMENT);
    expect_true(mine == NULL, "no stream from bad memory");
    EXPECT(qssm_stream_new_in(model, 1, state, state_bytes, scratch, scratch_bytes, &mine),
           QSSM_STATUS_OK);

    /* --- the last error can be copied, truncated ----------------------------------------------- */
    EXPECT(qssm_model_n_times(NULL, &n), QSSM_STATUS_NULL_ARGUMENT);
    char small[6];
    size_t full = 0;
    expect_true(qssm_last_error_copy(small, sizeof small, &full) == QSSM_STATUS_OK &&
                    full == strlen(qssm_last_error()) && strlen(small) == sizeof small - 1,
                "qssm_last_error_copy truncates and reports the full length");

    /* --- double free through _free(&ptr), streams outliving their model ------------------------ */
    qssm_model_free(&model);
    expect_true(model == NULL, "qssm_model_free sets the pointer to NULL");
    qssm_model_free(&model); /* second free: no-op */
    qssm_model_free(NULL);
    EXPECT(qssm_stream_push(mine, chunk, c * 4, c, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT,
                            &made),
           QSSM_STATUS_OK);
    expect_true(made == 4, "a stream keeps working after its model handle was freed");
    qssm_stream_free(&stream);
    expect_true(stream == NULL, "qssm_stream_free sets the pointer to NULL");
    qssm_stream_free(&stream);
    qssm_stream_free(&mine);
    qssm_stream_free(NULL);
    EXPECT(qssm_stream_reset(stream), QSSM_STATUS_NULL_ARGUMENT);

    /* --- a model that cannot stream ------------------------------------------------------------ */
    if (argc == 3) {
        QssmModel *nc = NULL;
        bool causal = true, can = true;
        EXPECT(qssm_model_load_file(argv[2], &nc), QSSM_STATUS_OK);
        EXPECT(qssm_model_is_causal(nc, &causal), QSSM_STATUS_OK);
        EXPECT(qssm_model_can_stream(nc, &can), QSSM_STATUS_OK);
        expect_true(!causal && !can, "the 1b model is not causal");
        size_t bytes = 5;
        EXPECT(qssm_model_required_state_bytes(nc, &bytes), QSSM_STATUS_NOT_CAUSAL);
        expect_true(bytes == 5, "out-parameter untouched");
        QssmStream *s = NULL;
        EXPECT(qssm_stream_new(nc, 1, &s), QSSM_STATUS_NOT_CAUSAL);
        expect_true(s == NULL, "no stream over a non-causal model");
        qssm_model_free(&nc);
    }

    free(window);
    free(logits);
    free(probs);
    free(chunk);
    free(snap);
    free(state);
    free(scratch);
    printf("# %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
