//! Per-channel normalisation with statistics fixed at training time: `x' = (x − mean_c) /
//! std_c` for every value of channel c, in f32, in this one code for the trainer's windows
//! and the engine's pushed samples (so both give the same bits).

/// One time sample of C channels, normalised in place.
///
/// # Panics
/// If `mean` or `std` has fewer than C values.
#[inline]
pub fn normalise_sample(x: &mut [f32], mean: &[f32], std: &[f32]) {
    let c = x.len();
    for ((v, &m), &s) in x.iter_mut().zip(&mean[..c]).zip(&std[..c]) {
        *v = (*v - m) / s;
    }
}

/// A (C, T) channel-major block (a window or a whole recording) normalised in place.
///
/// # Panics
/// If `x` is not C·T long for C = `mean.len()`, or `std` is shorter than `mean`.
pub fn normalise_channels(x: &mut [f32], t: usize, mean: &[f32], std: &[f32]) {
    assert_eq!(
        x.len(),
        mean.len() * t,
        "normalise_channels: x is not (C, T)"
    );
    for ((row, &m), &s) in x
        .chunks_exact_mut(t.max(1))
        .zip(mean)
        .zip(&std[..mean.len()])
    {
        for v in row {
            *v = (*v - m) / s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample by sample and block at once give the same bits.
    #[test]
    fn sample_equals_block() {
        let (c, t) = (3, 5);
        let mean = [0.5f32, -1.0, 0.1];
        let std = [2.0f32, 0.3, 1.7];
        let x: [f32; 15] = core::array::from_fn(|i| (i as f32 * 0.37).sin());
        let mut block = x;
        normalise_channels(&mut block, t, &mean, &std);
        for n in 0..t {
            let mut s: [f32; 3] = core::array::from_fn(|ch| x[ch * t + n]);
            normalise_sample(&mut s, &mean, &std);
            for ch in 0..c {
                assert_eq!(s[ch].to_bits(), block[ch * t + n].to_bits());
            }
        }
        assert_eq!(block[0], (x[0] - 0.5) / 2.0);
    }
}
