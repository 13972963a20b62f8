//! Sequence reshaping operations as ONNX nodes: the Conv3 im2col (pad and three shifted
//! slices), chunk means (pad, reduce, per-chunk reciprocal lengths), writing a time step
//! (`time_slice_bwd`, a padded add), column scaling by segments (a mask `MatMul`), row means
//! (float64).
use super::recorder::{RecBuf, Recorder};
use super::{DOUBLE, FLOAT};
use qssm_formats::onnx::{Attr, TensorData};
use qssm_kernels::backend::Segment;

impl Recorder {
    pub(super) fn chunk_mean_rec(&self, y: &mut RecBuf, x: &RecBuf, cs: usize) {
        // the mean of every chunk of cs rows, the last one over its true length
        let (l, w) = (x.shape[1], x.shape[2]);
        let cs = cs.max(1);
        let nc = l.div_ceil(cs);
        let v = self.val(x);
        let pads = self.ints(&[0, 0, 0, 0, (nc * cs - l) as i64, 0]);
        let padded = self.binary("Pad", &v, &pads);
        let r = self.reshape(&padded, &[-1, nc as i64, cs as i64, w as i64]);
        let two = self.ints(&[2]);
        let sum = self.op("ReduceSum", &[&r, &two], vec![("keepdims", Attr::Int(0))]);
        let inv: Vec<f32> = (0..nc)
            .map(|j| 1.0 / (((j + 1) * cs).min(l) - j * cs) as f32)
            .collect();
        let inv = self.constant(
            &format!("chunk_mean_inv_{l}_{cs}"),
            &[nc as i64, 1],
            TensorData::F32(inv),
        );
        self.put(y, self.binary("Mul", &sum, &inv));
    }

    pub(super) fn time_slice_bwd_rec(&self, dx: &mut RecBuf, dy: &RecBuf, t: usize) {
        // dx[:, t, :] += dy: dy placed at time t of a zero (B, L, W) block
        let l = dx.shape[1] as i64;
        let v = self.val(dy);
        let one = self.ints(&[1]);
        let u = self.binary("Unsqueeze", &v, &one);
        let pads = self.ints(&[0, t as i64, 0, 0, l - 1 - t as i64, 0]);
        let placed = self.binary("Pad", &u, &pads);
        let acc = self.val(dx);
        self.put(dx, self.binary("Add", &acc, &placed));
    }

    pub(super) fn im2col3_rec(&self, y: &mut RecBuf, x: &RecBuf) {
        // the window's zero edges on both sides, then the taps
        let t = x.shape[2] as i64;
        let pads = self.ints(&[0, 0, 1, 0, 0, 1]);
        let ext = self.binary("Pad", &self.val(x), &pads);
        self.im2col3_taps(y, &ext, x.shape[1] as i64, t);
    }

    /// `Infer::im2col3_step`: [prev, x] along time, the samples at or after `valid` masked,
    /// then the taps; prev ← sample min(valid, L) − 1.
    pub(super) fn im2col3_step_rec(
        &self,
        y: &mut RecBuf,
        prev: &mut RecBuf,
        x: &RecBuf,
        valid: usize,
    ) {
        let l1 = x.shape[2];
        let v = self.val(x);
        let v = if valid < l1 {
            let mask: Vec<f32> = (0..l1).map(|s| if s < valid { 1.0 } else { 0.0 }).collect();
            let m = self.constant(
                &format!("im2col3_step_mask_{l1}_valid{valid}"),
                &[l1 as i64],
                TensorData::F32(mask),
            );
            self.binary("Mul", &v, &m)
        } else {
            v
        };
        let last = self.ints(&[-1]);
        let pv = self.binary("Unsqueeze", &self.val(prev), &last); // (B, C, 1)
        let ext = self.op("Concat", &[&pv, &v], vec![("axis", Attr::Int(-1))]); // (B, C, L+2)
        self.im2col3_taps(y, &ext, x.shape[1] as i64, l1 as i64 - 1);
        // the next step's left neighbour: extended sample min(valid, L) (ext starts at −1)
        let axes = self.ints(&[2]);
        let at = valid.min(l1 - 1) as i64;
        let (a, b) = (self.ints(&[at]), self.ints(&[at + 1]));
        let sl = self.op("Slice", &[&ext, &a, &b, &axes], vec![]);
        self.put(prev, self.op("Squeeze", &[&sl, &axes], vec![]));
    }

    /// Conv3's im2col from the extended input `ext` (B, C, L + 2) (sample −1 first): y (B, L,
    /// 3C), y[t, 3c + k] = ext[c, t + k], as three shifted slices.
    fn im2col3_taps(&self, y: &mut RecBuf, ext: &str, c: i64, l: i64) {
        let (axes, last) = (self.ints(&[2]), self.ints(&[-1]));
        let taps: Vec<String> = (0..3)
            .map(|k| {
                let (a, b) = (self.ints(&[k]), self.ints(&[k + l]));
                let sl = self.op("Slice", &[ext, &a, &b, &axes], vec![]);
                self.binary("Unsqueeze", &sl, &last)
            })
            .collect();
        let refs: Vec<&str> = taps.iter().map(String::as_str).collect();
        let st = self.op("Concat", &refs, vec![("axis", Attr::Int(-1))]); // (B, C, L, 3)
        let tr = self.op(
            "Transpose",
            &[&st],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        self.put(y, self.reshape(&tr, &[0, 0, 3 * c]));
    }

    pub(super) fn scale_segments_rec(
        &self,
        y: &mut RecBuf,
        x: &RecBuf,
        s: &RecBuf,
        segs: &[Segment],
    ) {
        // y = x ⊙ (s·M + base): M (S, W) has a 1 where column j is scaled by s[·, k], base
        // a 1 where it is copied (each product has one non-zero term: exact)
        let w: usize = segs.iter().map(|g| g.width).sum();
        let sw = *s.shape.last().unwrap_or(&0);
        let (mut m, mut base) = (vec![0.0f32; sw * w], vec![0.0f32; w]);
        let mut o = 0;
        for g in segs {
            for j in 0..g.width {
                match g.scale {
                    Some(k) if j % g.period < g.prefix => m[k * w + o + j] = 1.0,
                    _ => base[o + j] = 1.0,
                }
            }
            o += g.width;
        }
        let key = format!("scale_segments_{:016x}", fnv(&m, &base));
        let mm = self.constant(
            &format!("{key}_m"),
            &[sw as i64, w as i64],
            TensorData::F32(m),
        );
        let bb = self.constant(&format!("{key}_base"), &[w as i64], TensorData::F32(base));
        let sv = self.val(s);
        let f = self.binary("MatMul", &sv, &mm);
        let f = self.binary("Add", &f, &bb);
        let xv = self.val(x);
        let out = self.binary("Mul", &xv, &f);
        self.put(y, out);
    }

    pub(super) fn row_mean_rec(&self, y: &mut RecBuf, x: &RecBuf) {
        // mean of every row in float64, rounded once (as the CPU)
        let v = self.val(x);
        let d = self.op("Cast", &[&v], vec![("to", Attr::Int(DOUBLE))]);
        let m = self.op(
            "ReduceMean",
            &[&d],
            vec![("axes", Attr::Ints(vec![-1])), ("keepdims", Attr::Int(0))],
        );
        let f = self.op("Cast", &[&m], vec![("to", Attr::Int(FLOAT))]);
        self.put(y, f);
    }
}

/// FNV-1a of two float slices' bits (a short key for a constant mask).
fn fnv(a: &[f32], b: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in a.iter().chain(b) {
        for byte in v.to_bits().to_le_bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
