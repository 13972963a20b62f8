"""The ONNX check (issue 16): every exported window graph passes onnx.checker (full_check) and,
run by onnxruntime (CPU, one thread), gives the inference engine's logits: within 1e-4 for the
f32 graph (or 4x the model's float conditioning where that is larger: the logit change that
1-ulp weight perturbations cause, which bounds how well two correct implementations that round
differently can agree — 2b), the same class for the f16 graph. A f32 graph that differs from
the engine by more than 1e-4 is also evaluated in float64, and both distances from that are
printed (2b: the engine and onnxruntime are each farther from the float64 result than from
each other). Cases come from
`cargo run -p qssm-tests --example onnx_cases -- DIR` (cases.json + raw little-endian f32).
The step graphs of the streaming models, stepped through a window one sample at a time with
their state fed back, give the engine's stream within the same tolerance at every prediction
(every sample for 3b, every chunk for the chunked models, whose logits hold in between; 4a-4e
from their chunk's look-ahead sample on). Latency
of one window and per sample, engine against onnxruntime, one thread each. Models the exporter refuses are listed with the
reason. Exit status 1 on any failure."""
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-4


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def float64_model(path):
    """The f32 graph at path evaluated in float64: every float initializer, constant, interface
    type and Cast target widened to double (Softplus, which onnxruntime has only in float, as
    log(1 + exp(x))). The same computation without f32 rounding: how far each f32
    implementation lies from it tells what agreement between two of them can be expected."""
    from onnx import TensorProto, helper, numpy_helper
    f, dbl = TensorProto.FLOAT, TensorProto.DOUBLE
    m = onnx.load(str(path))

    def widen(t):
        if t.data_type == f:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))

    def walk(g):
        for t in g.initializer:
            widen(t)
        for v in list(g.input) + list(g.output) + list(g.value_info):
            if v.type.tensor_type.elem_type == f:
                v.type.tensor_type.elem_type = dbl
        nodes = []
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == onnx.AttributeProto.TENSOR:
                    widen(a.t)
                elif n.op_type == "Cast" and a.name == "to" and a.i == f:
                    a.i = dbl
            if n.op_type == "Softplus":
                e, p1 = n.output[0] + ".exp", n.output[0] + ".plus_one"
                nodes += [helper.make_node("Exp", [n.input[0]], [e]),
                          helper.make_node("Add", [e, "float64.one"], [p1]),
                          helper.make_node("Log", [p1], [n.output[0]])]
            else:
                nodes.append(n)
        del g.node[:]
        g.node.extend(nodes)

    walk(m.graph)
    m.graph.initializer.append(numpy_helper.from_array(np.array(1.0), "float64.one"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def zeros(i, b):
    """Zeros for the state input i: its shape with the symbolic batch set to b, its type."""
    shape = [b if isinstance(v, str) else v for v in i.shape]
    return np.zeros(shape, dtype=np.int64 if i.type == "tensor(int64)" else np.float32)


def stream(s, x, timed=False):
    """Streams x (B, C, T) through the step graph session s, one sample per step, the state
    starting at zeros and fed back; yields the logits (B, K) after each sample (or, timed, the
    seconds each step took)."""
    b, _, t = x.shape
    state_in = [i for i in s.get_inputs() if i.name.startswith("state.")]
    state = {i.name: zeros(i, b) for i in state_in}
    outs = ["logits"] + ["next_" + i.name for i in state_in]
    for j in range(t):
        feed = {"sample": np.ascontiguousarray(x[:, :, j]), **state}
        t0 = time.perf_counter()
        res = s.run(outs, feed)
        dt = time.perf_counter() - t0
        state = {i.name: v for i, v in zip(state_in, res[1:])}
        yield dt if timed else res[0]


def main(d):
    d = Path(d)
    cases = json.loads((d / "cases.json").read_text())["cases"]
    failed, checked, refused = [], 0, []
    for c in cases:
        name = c["name"]
        if "refused" in c:
            refused.append(f"{name}: {c['refused']}")
            continue
        b, ch, t = c["shape"]
        k = c["n_classes"]
        x = np.fromfile(d / f"{name}.x.bin", dtype="<f4").reshape(b, ch, t)
        want = np.fromfile(d / f"{name}.logits.bin", dtype="<f4").reshape(b, k)
        want16 = np.fromfile(d / f"{name}.logits_f16.bin", dtype="<f4").reshape(b, k)
        tol = max(TOL, 4.0 * c.get("ulp_sensitivity", 0.0))
        for suffix, ref, exact in (("", want, True), (".f16", want16, False)):
            path = d / f"{name}{suffix}.onnx"
            model = onnx.load(str(path))
            onnx.checker.check_model(model, full_check=True)
            meta = {p.key: p.value for p in model.metadata_props}
            assert json.loads(meta["qssm.model_card"])["model_id"] == c["model_id"], name
            got = session(path).run(["logits"], {"input": x})[0]
            diff = float(np.abs(got - ref).max())
            same = bool((got.argmax(1) == ref.argmax(1)).all())
            ok = diff <= tol and same if exact else same
            print(f"{name}{suffix}: max |onnxruntime - engine| = {diff:.3e}"
                  f"{f' (tolerance {tol:.1e})' if exact and tol > TOL else ''}, classes equal: {same}"
                  f"{'' if ok else '  FAILED'}")
            if exact and diff > TOL:
                # beyond 1e-4: how far each f32 implementation is from the float64 evaluation
                exact64 = float64_model(path).run(["logits"], {"input": x.astype(np.float64)})[0]
                print(f"  {name}: float64 evaluation of the same graph: max |engine - float64| = "
                      f"{float(np.abs(ref - exact64).max()):.3e}, max |onnxruntime - float64| = "
                      f"{float(np.abs(got - exact64).max()):.3e}")
            checked += 1
            if not ok:
                failed.append(f"{name}{suffix}")
    # step graphs: a window streamed step by step through onnxruntime, the state fed back,
    # against the engine's stream
    steps = [c for c in cases if "refused" not in c and "hop" in c.get("step", {})]
    for c in steps:
        name, n = c["name"], c["step"]["hop"]
        a = c["step"].get("lookahead", 0)
        b, ch, t = c["shape"]
        k = c["n_classes"]
        m = (t - a) // n
        x = np.fromfile(d / f"{name}.x.bin", dtype="<f4").reshape(b, ch, t)
        want = np.fromfile(d / f"{name}.stream.bin", dtype="<f4").reshape(b, m, k)
        path = d / f"{name}.step.onnx"
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        s = session(path)
        got = np.stack([o for o in stream(s, x)], axis=1)
        # a prediction every n samples from a + n on (a: the samples a chunk's step reads past
        # it); in between, the logits of the last complete chunk (zeros before the first)
        at = got[:, a + n - 1:a + m * n:n]
        diff = float(np.abs(at - want).max())
        held = np.concatenate([np.zeros((b, 1, k), np.float32), at[:, :-1]], axis=1)
        seg = got[:, a:a + m * n].reshape(b, m, n, k)
        holds = bool((seg == held[:, :, None, :])[:, :, :-1].all() and (got[:, :a] == 0).all())
        tol = max(TOL, 4.0 * c.get("ulp_sensitivity", 0.0))
        ok = diff <= tol and holds
        print(f"{name}.step: {t} steps of one sample, a prediction every {n} from {a + n}, max |onnxruntime - "
              f"engine stream| = {diff:.3e}, logits held between predictions: {holds}"
              f"{'' if ok else '  FAILED'}")
        checked += 1
        if not ok:
            failed.append(f"{name}.step")
    print("window latency, one window, one thread (median of 50):")
    for c in cases:
        if "refused" in c or "engine_window_us" not in c:
            continue
        b, ch, t = c["shape"]
        x = np.fromfile(d / f"{c['name']}.x.bin", dtype="<f4").reshape(b, ch, t)[:1]
        s = session(d / f"{c['name']}.onnx")
        for _ in range(5):
            s.run(["logits"], {"input": x})
        ts = []
        for _ in range(50):
            t0 = time.perf_counter()
            s.run(["logits"], {"input": x})
            ts.append((time.perf_counter() - t0) * 1e6)
        ort_us = sorted(ts)[len(ts) // 2]
        eng = c["engine_window_us"]
        print(f"  {c['name']}: engine {eng:.0f} us, onnxruntime {ort_us:.0f} us, "
              f"onnxruntime / engine = {ort_us / eng:.2f}")
    print("time per sample, one stream, one thread (per hop of n samples: their steps together "
          "over n; median over the hops of 4 windows):")
    for c in steps:
        name, n = c["name"], c["step"]["hop"]
        a = c["step"].get("lookahead", 0)
        b, ch, t = c["shape"]
        x = np.fromfile(d / f"{name}.x.bin", dtype="<f4").reshape(b, ch, t)[:1]
        s = session(d / f"{name}.step.onnx")
        ts = []
        for _ in range(4):
            dts = list(stream(s, x, timed=True))
            ts += [sum(dts[j:j + n]) * 1e6 / n for j in range(a, a + (t - a) // n * n, n)]
        ort_us = sorted(ts)[len(ts) // 2]
        eng = c["step"]["engine_sample_us"]
        print(f"  {name} (hop {n}): engine {eng:.2f} us, onnxruntime {ort_us:.2f} us, "
              f"onnxruntime / engine = {ort_us / eng:.2f}")
    for r in refused:
        print(f"refused: {r}")
    print(f"{checked} graphs checked, {len(failed)} failed, {len(refused)} cases refused by the exporter")
    return 1 if failed or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
