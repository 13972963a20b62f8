//! Tests of the layer builders (E, U, D, Bk), state-level forward/backward and the
//! superposition cores against the spec's test vectors TV3–TV8 (groups-2-4 §2.6, PennyLane
//! 0.42.3 float64), finite differences and parameter shift.
use super::program::{scale_rotation_angles, AngleSrc, Program};
use super::simulate::{
    apply_program, apply_program_backward, apply_with, expvals_xyz, expvals_xyz_backward,
    state_backward_with,
};
use super::superpose::{
    lcu_weights, lcu_weights_backward, s3_weights, s3_weights_backward, superpose_backward,
    superpose_forward,
};
use num_complex::Complex64 as C;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn cs64<'a>(theta: &'a [f64], enc: &'a [f64]) -> impl Fn(AngleSrc) -> (f64, f64) + 'a {
    move |a| {
        let t = match a {
            AngleSrc::Theta(i) => theta[i as usize],
            AngleSrc::Enc(i) => enc[i as usize],
        };
        ((t / 2.0).cos(), (t / 2.0).sin())
    }
}

fn zero() -> Vec<C> {
    let mut v = vec![C::new(0.0, 0.0); 64];
    v[0] = C::new(1.0, 0.0);
    v
}

fn run64(prog: &Program, theta: &[f64], enc: &[f64]) -> Vec<C> {
    let mut psi = zero();
    apply_with(prog, cs64(theta, enc), &mut psi);
    psi
}

fn meas(psi: &[C]) -> Vec<f64> {
    let mut out = vec![0.0; 18];
    expvals_xyz(psi, 6, &mut out);
    out
}

fn scale64(theta: &[f64], dt: f64) -> Vec<f64> {
    theta
        .iter()
        .enumerate()
        .map(|(k, &t)| if k % 30 < 18 { dt * t } else { t })
        .collect()
}

fn tv_theta() -> Vec<f64> {
    (0..60).map(|k| 0.05 * (k as f64 + 1.0) - 1.0).collect()
}
fn tv_e() -> Vec<f64> {
    (0..6).map(|i| 0.4 * i as f64 - 1.0).collect()
}

fn two_layers(embed: bool, backward: bool) -> Program {
    let mut p = Program::empty(6);
    if embed {
        p.push_ry_embedding(0);
    }
    for o in [0, 30] {
        if backward {
            p.push_backward_layer(o);
        } else {
            p.push_unified_layer(o);
        }
    }
    p
}

fn max_err(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[rustfmt::skip]
const TV3: [f64; 18] = [
    -0.537813900840, 0.063756928841, 0.233193504671, 0.265927700487, 0.223193722611, 0.765309212657,
    0.318410252677, -0.482481954874, -0.298960690657, -0.320916704812, -0.630191914963, 0.122542676863,
    0.392786232302, 0.520529490550, 0.217196734853, -0.159091295542, -0.324648655370, 0.200238531856];
const TV3_PSI: [(usize, f64, f64); 4] = [
    (0, 0.203620033605, -0.246654944647),
    (1, 0.192068841009, -0.251181054483),
    (32, 0.007871573635, 0.197493559177),
    (63, -0.068547051442, -0.090695512628),
];
#[rustfmt::skip]
const TV4: [f64; 18] = [
    -0.110404968845, 0.029344798499, 0.048837361134, 0.095662590767, 0.141511888936, 0.418163418150,
    -0.277772434030, -0.032334258452, -0.118732797294, -0.235256034569, -0.410004617070, 0.013152516762,
    0.384526638859, 0.775101402370, 0.718501881127, 0.612076643954, 0.383064738718, 0.165216663295];
const TV4_PSI: [(usize, f64, f64); 4] = [
    (0, 0.699898381899, -0.018467447661),
    (1, 0.202943095356, -0.025312250559),
    (32, -0.023070290906, -0.004212636363),
    (63, 0.040410231813, -0.129080453221),
];
#[rustfmt::skip]
const TV5: [f64; 18] = [
    -0.234689048594, 0.105188683453, 0.378016115882, 0.353851457128, 0.203656519201, 0.675071512523,
    0.312664638507, -0.430393590470, -0.208454963891, -0.419935679029, -0.742745646416, 0.050749190199,
    0.511097626494, 0.618876816613, 0.307484257891, -0.127484743448, -0.239248114848, -0.129725984836];
#[rustfmt::skip]
const TV6: [f64; 18] = [
    -0.074308738282, 0.012625631066, 0.266394287474, 0.163998936394, 0.095887111178, 0.401288597065,
    0.402949931931, -0.485450233878, -0.293551687013, -0.358261615082, -0.567959526091, -0.140661095312,
    0.120450756503, 0.550000640601, 0.184452525613, -0.161976541426, -0.297909627990, 0.005030217838];
#[rustfmt::skip]
const TV7: [f64; 18] = [
    -0.343999438741, 0.174697006746, 0.199353772086, 0.199457816318, 0.211528699468, 0.564879648711,
    0.284838046792, -0.408031019930, -0.276458926915, -0.287702448629, -0.472066738344, 0.002903715315,
    0.536780900233, 0.551246674244, 0.318267482820, 0.034470972082, -0.107187264424, 0.478449695867];
#[rustfmt::skip]
const TV8: [f64; 18] = [
    -0.248818535222, -0.269331231682, -0.282452449369, -0.146170587836, -0.002848071685, -0.043976126772,
    0.027783577747, 0.304545336544, 0.257588332892, 0.054321841756, 0.086473093494, -0.325637936203,
    -0.284611240014, -0.133482828332, 0.107353329550, 0.002385849202, 0.117213611192, 0.221383720832];

fn psi_err(psi: &[C], want: &[(usize, f64, f64)]) -> f64 {
    want.iter()
        .map(|&(k, re, im)| (psi[k].re - re).abs().max((psi[k].im - im).abs()))
        .fold(0.0, f64::max)
}

/// The three TV3/TV4/TV5 states (f64 gate entries).
fn tv345() -> [Vec<C>; 3] {
    let (th, e) = (tv_theta(), tv_e());
    let d = scale64(&th, 0.7);
    [
        run64(&two_layers(true, false), &d, &e),
        run64(&two_layers(true, true), &d, &e),
        run64(&two_layers(true, false), &th, &e),
    ]
}

#[test]
fn circuit_tv3_tv4_tv5_delta_backward_unified_layers() {
    let [s3, s4, s5] = tv345();
    let errs = [
        max_err(&meas(&s3), &TV3).max(psi_err(&s3, &TV3_PSI)),
        max_err(&meas(&s4), &TV4).max(psi_err(&s4, &TV4_PSI)),
        max_err(&meas(&s5), &TV5),
    ];
    eprintln!("TV3/TV4/TV5 f64 max err {errs:?}");
    assert!(errs.iter().all(|&e| e < 1e-11), "{errs:?}");
    // Mapping Bk's angle triple j to wire j instead of Q−1−j must be detectably different.
    let mut wrong = Program::empty(6);
    wrong.push_ry_embedding(0);
    for o in [0, 30] {
        wrong.push_unified_layer(o); // triple j on wire j, but rings in U's order
    }
    let w = run64(&wrong, &scale64(&tv_theta(), 0.7), &tv_e());
    assert!(max_err(&meas(&w), &TV4) > 1e-3);
}

#[test]
fn circuit_tv6_s3_superposition() {
    let states = tv345();
    let params = [0.6f32, 0.2, -0.3, 0.5, 0.4, -0.1];
    let w = s3_weights(&params);
    let mut phi = vec![C::new(0.0, 0.0); 64];
    let refs: Vec<&[C]> = states.iter().map(|v| v.as_slice()).collect();
    superpose_forward(&w, &refs, &mut phi);
    let e = max_err(&meas(&phi), &TV6);
    eprintln!("TV6 max err {e:.1e} (coefficients from f32 params)");
    // the spec's α, β, γ are exact decimals; f32 params round them at 3e-8
    assert!(e < 1e-7, "{e}");
}

#[test]
fn circuit_tv7_recurrence_step_and_tv8_hydra_e2e() {
    // TV7: E(h)·D²(θ; ds)·E(ds·u)
    let mut p7 = two_layers(true, false);
    p7.push_ry_embedding(6);
    let ds = 0.62;
    let mut enc: Vec<f64> = (0..6).map(|i| 0.3 * i as f64 - 0.8).collect();
    enc.extend((0..6).map(|i| ds * (0.5 - 0.2 * i as f64)));
    let e7 = max_err(&meas(&run64(&p7, &scale64(&tv_theta(), ds), &enc)), &TV7);
    // TV8: E(a)·U²(F)·D²(Pf; dt_f)·Bk²(Pb; dt_b)·D²(Pd; dt_d)·E(dt_f·inj)
    let mut p8 = Program::empty(6);
    p8.push_ry_embedding(0);
    for o in [0, 30, 60, 90] {
        p8.push_unified_layer(o);
    }
    p8.push_backward_layer(120).push_backward_layer(150);
    p8.push_unified_layer(180).push_unified_layer(210);
    p8.push_ry_embedding(6);
    let th: Vec<f64> = (0..240).map(|k| 0.013 * (k as f64 + 1.0) - 1.5).collect();
    let dts = [0.7, 0.4, 0.9];
    let mut eff = th[..60].to_vec();
    for (b, &dt) in dts.iter().enumerate() {
        eff.extend(scale64(&th[60 * (b + 1)..60 * (b + 2)], dt));
    }
    let mut enc8 = tv_e();
    enc8.extend((0..6).map(|i| dts[0] * (0.5 - 0.2 * i as f64)));
    let e8 = max_err(&meas(&run64(&p8, &eff, &enc8)), &TV8);
    eprintln!("TV7 {e7:.1e} TV8 {e8:.1e}");
    assert!(e7 < 1e-11 && e8 < 1e-11, "{e7} {e8}");
    assert_eq!((p8.n_theta, p8.n_enc, p8.n_gates()), (240, 12, 252));
}

#[test]
fn circuit_scale_rotation_angles_f32() {
    let th: Vec<f32> = (0..60).map(|k| 0.05 * (k as f32 + 1.0) - 1.0).collect();
    let mut out = vec![0.0; 60];
    scale_rotation_angles(&th, 6, 0.7, &mut out);
    for k in 0..60 {
        let want = if k % 30 < 18 { 0.7f32 * th[k] } else { th[k] };
        assert_eq!(out[k].to_bits(), want.to_bits());
    }
}

/// L(ψ_in, θ, e) = Σ_k c_k·⟨X,Y,Z⟩_k of E(e₀) · U(θ₀) · Bk(θ₁) · E(e₁) (embedding, unified
/// layer, reversed-ring backward layer, input injection) applied to a given ψ_in: the
/// state-input gradient and dθ of apply_program_backward vs central finite differences (f64
/// core), and every dθ and de vs the parameter-shift rule on a normalised input — the two-term
/// rule for RX/RY/RZ and the embeddings, PennyLane's four-term rule for the CRX ring angles.
#[test]
fn circuit_state_backward_vs_finite_differences_and_shift() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut prog = Program::empty(6);
    prog.push_ry_embedding(0)
        .push_unified_layer(0)
        .push_backward_layer(30)
        .push_ry_embedding(6);
    let theta: Vec<f64> = (0..60).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let enc: Vec<f64> = (0..12).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let c: Vec<f64> = (0..18).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut psi_in: Vec<C> = (0..64)
        .map(|_| C::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)))
        .collect();
    let nrm = psi_in.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
    psi_in.iter_mut().for_each(|z| *z /= nrm);
    let loss = |th: &[f64], en: &[f64], s: &[C]| {
        let mut v = s.to_vec();
        apply_with(&prog, cs64(th, en), &mut v);
        meas(&v).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>()
    };
    let mut psi = psi_in.clone();
    apply_with(&prog, cs64(&theta, &enc), &mut psi);
    let mut g = vec![C::new(0.0, 0.0); 64];
    expvals_xyz_backward(&psi, 6, &c, &mut g);
    let (mut dth, mut den) = (vec![0.0; 60], vec![0.0; 12]);
    let mut scratch = vec![C::new(0.0, 0.0); 64];
    state_backward_with(
        &prog,
        cs64(&theta, &enc),
        &psi,
        &mut g,
        &mut dth,
        &mut den,
        &mut scratch,
    );
    let h = 1e-6;
    let mut worst = 0.0f64;
    for k in 0..64 {
        for part in 0..2 {
            let mut a = psi_in.clone();
            let mut b = psi_in.clone();
            let dz = if part == 0 {
                C::new(h, 0.0)
            } else {
                C::new(0.0, h)
            };
            a[k] += dz;
            b[k] -= dz;
            let fd = (loss(&theta, &enc, &a) - loss(&theta, &enc, &b)) / (2.0 * h);
            let an = if part == 0 { g[k].re } else { g[k].im };
            worst = worst.max((fd - an).abs());
        }
    }
    for k in 0..60 {
        let (mut a, mut b) = (theta.clone(), theta.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (loss(&a, &enc, &psi_in) - loss(&b, &enc, &psi_in)) / (2.0 * h);
        worst = worst.max((fd - dth[k]).abs());
    }
    // parameter shift: within each 5Q-angle layer, RX/RY/RZ angles 0..3Q, CRX ring angles 3Q..5Q
    let at = |k: usize, x: f64| {
        let mut t = theta.clone();
        t[k] = x;
        loss(&t, &enc, &psi_in)
    };
    let s = core::f64::consts::FRAC_PI_2;
    let mut worst_shift = 0.0f64;
    for k in 0..60 {
        let x = theta[k];
        let ps = if k % 30 < 18 {
            0.5 * (at(k, x + s) - at(k, x - s))
        } else {
            let r2 = core::f64::consts::SQRT_2;
            let (cp, cm) = ((r2 + 1.0) / (4.0 * r2), (r2 - 1.0) / (4.0 * r2));
            cp * (at(k, x + s) - at(k, x - s)) - cm * (at(k, x + 3.0 * s) - at(k, x - 3.0 * s))
        };
        worst_shift = worst_shift.max((ps - dth[k]).abs());
    }
    for i in 0..12 {
        let (mut a, mut b) = (enc.clone(), enc.clone());
        a[i] += s;
        b[i] -= s;
        let ps = 0.5 * (loss(&theta, &a, &psi_in) - loss(&theta, &b, &psi_in));
        worst_shift = worst_shift.max((ps - den[i]).abs());
    }
    eprintln!("state backward vs parameter shift (every θ and e): worst {worst_shift:.1e}");
    assert!(worst_shift < 1e-10, "{worst_shift}");
    eprintln!("state backward vs FD: worst {worst:.1e}");
    assert!(worst < 1e-7, "{worst}");

    // f32 public entry points agree with the f64 core at f32-trig precision
    let th32: Vec<f32> = theta.iter().map(|&v| v as f32).collect();
    let en32: Vec<f32> = enc.iter().map(|&v| v as f32).collect();
    let mut p32 = psi_in.clone();
    apply_program(&prog, &th32, &en32, &mut p32);
    let mut g32 = vec![C::new(0.0, 0.0); 64];
    expvals_xyz_backward(&p32, 6, &c, &mut g32);
    let (mut dth32, mut den32) = (vec![0.0; 60], vec![0.0; 12]);
    apply_program_backward(
        &prog,
        &th32,
        &en32,
        &p32,
        &mut g32,
        &mut dth32,
        &mut den32,
        &mut scratch,
    );
    assert!(max_err(&dth32, &dth) < 1e-5);
    assert!(max_err(&den32, &den) < 1e-5);
}

/// S3 and LCU weights plus superposition: analytic gradients vs finite differences.
#[test]
fn superpose_s3_and_lcu_backward_vs_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let states: Vec<Vec<C>> = (0..3)
        .map(|_| {
            (0..64)
                .map(|_| C::new(rng.gen_range(-0.2..0.2), rng.gen_range(-0.2..0.2)))
                .collect()
        })
        .collect();
    let c: Vec<f64> = (0..18).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let loss_w = |w: &[C], st: &[Vec<C>]| {
        let refs: Vec<&[C]> = st.iter().map(|v| v.as_slice()).collect();
        let mut phi = vec![C::new(0.0, 0.0); 64];
        superpose_forward(w, &refs, &mut phi);
        meas(&phi).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>()
    };
    // S3 params: f32 inputs, so FD on f32 params with a coarse step
    let params = [0.6f32, 0.2, -0.3, 0.5, 0.4, -0.1];
    let w = s3_weights(&params);
    let refs: Vec<&[C]> = states.iter().map(|v| v.as_slice()).collect();
    let mut phi = vec![C::new(0.0, 0.0); 64];
    let r = superpose_forward(&w, &refs, &mut phi);
    let mut gphi = vec![C::new(0.0, 0.0); 64];
    expvals_xyz_backward(&phi, 6, &c, &mut gphi);
    let mut gs: Vec<Vec<C>> = vec![vec![C::new(0.0, 0.0); 64]; 3];
    let mut gw = [C::new(0.0, 0.0); 3];
    {
        let mut slots: Vec<Option<&mut [C]>> =
            gs.iter_mut().map(|v| Some(v.as_mut_slice())).collect();
        superpose_backward(&w, &refs, &phi, r, &gphi, &mut slots, &mut gw);
    }
    let mut dparams = [0.0f32; 6];
    s3_weights_backward(&params, &gw, &mut dparams);
    let h = 1e-3f32;
    for k in 0..6 {
        let (mut a, mut b) = (params, params);
        a[k] += h;
        b[k] -= h;
        let fd = (loss_w(&s3_weights(&a), &states) - loss_w(&s3_weights(&b), &states))
            / (2.0 * h as f64);
        assert!(
            (fd - dparams[k] as f64).abs() < 2e-4,
            "s3 param {k}: {fd} vs {}",
            dparams[k]
        );
    }
    // gauge direction: common scale of (α, β, γ) has zero gradient
    let radial: f64 = params
        .iter()
        .zip(&dparams)
        .map(|(p, d)| (p * d) as f64)
        .sum();
    assert!(radial.abs() < 1e-6, "{radial}");
    // state gradients
    let hh = 1e-6;
    for i in 0..3 {
        for k in [0usize, 17, 63] {
            let (mut a, mut b) = (states.clone(), states.clone());
            a[i][k] += C::new(hh, 0.0);
            b[i][k] -= C::new(hh, 0.0);
            let fd = (loss_w(&w, &a) - loss_w(&w, &b)) / (2.0 * hh);
            assert!((fd - gs[i][k].re).abs() < 1e-6, "state {i} amp {k}");
            let (mut a, mut b) = (states.clone(), states.clone());
            a[i][k] += C::new(0.0, hh);
            b[i][k] -= C::new(0.0, hh);
            let fd = (loss_w(&w, &a) - loss_w(&w, &b)) / (2.0 * hh);
            assert!((fd - gs[i][k].im).abs() < 1e-6, "state {i} amp {k} im");
        }
    }
    // LCU weights
    let m: Vec<f32> = (0..6).map(|_| rng.gen_range(0.0..1.0)).collect();
    let mut wl = vec![C::new(0.0, 0.0); 3];
    lcu_weights(&m, &mut wl);
    let mut gwl = [C::new(0.0, 0.0); 3];
    let mut phi = vec![C::new(0.0, 0.0); 64];
    let r = superpose_forward(&wl, &refs, &mut phi);
    let mut gphi = vec![C::new(0.0, 0.0); 64];
    expvals_xyz_backward(&phi, 6, &c, &mut gphi);
    superpose_backward(
        &wl,
        &refs,
        &phi,
        r,
        &gphi,
        &mut [None, None, None],
        &mut gwl,
    );
    let mut dm = vec![0.0f32; 6];
    lcu_weights_backward(&m, &gwl, &mut dm);
    let lw = |m: &[f32]| {
        let mut w = vec![C::new(0.0, 0.0); 3];
        lcu_weights(m, &mut w);
        loss_w(&w, &states)
    };
    for k in 0..6 {
        let (mut a, mut b) = (m.clone(), m.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (lw(&a) - lw(&b)) / (2.0 * h as f64);
        assert!(
            (fd - dm[k] as f64).abs() < 2e-4,
            "lcu {k}: {fd} vs {}",
            dm[k]
        );
    }
}
