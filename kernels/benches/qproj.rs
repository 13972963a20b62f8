//! Criterion benches of the HQC Mamba's quantum projection on the CPU backend
//! (`Infer::qproj` / `qproj_bwd`, spec hqc-mamba-and-quantum-train §3.4), for the three
//! projections of the HQC configuration (in_proj 128 → 1024 on 10 qubits, x_proj 512 → 40 and
//! out_proj 512 → 128 on 9), over batches of 1 … 1024 tokens: the throughput is in tokens
//! (one circuit each), so criterion's per-element time is the per-sample circuit time and its
//! change with the batch size shows what batching buys.
//!
//! `cargo bench -p qssm-kernels --bench qproj`
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{Backend, Infer, QProjP};
use qssm_kernels::circuit::qproj::{Affine, QProj};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn qproj(c: &mut Criterion) {
    let mut r = ChaCha8Rng::seed_from_u64(5);
    for (name, d_in, d_out) in [
        ("in_proj", 128, 1024),
        ("x_proj", 512, 40),
        ("out_proj", 512, 128),
    ] {
        let mut g = c.benchmark_group(format!("qproj_{name}"));
        g.sample_size(10);
        let qp = QProj::new(d_in, d_out, 1, Affine::PerOutput, true);
        let (nw, na) = (qp.n_weights(), d_out);
        let args = QProjP {
            qp,
            w: 0..nw,
            gamma: nw..nw + na,
            beta: nw + na..nw + 2 * na,
        };
        let p: Vec<f32> = (0..nw + 2 * na).map(|_| r.gen_range(0.0..2.0)).collect();
        for rows in [1usize, 16, 64, 256, 1024] {
            let mut x = Cpu.alloc(&[rows, d_in]);
            let xs: Vec<f32> = (0..rows * d_in).map(|_| r.gen_range(-1.0..1.0)).collect();
            Cpu.upload(&mut x, &xs);
            let mut y = Cpu.alloc(&[rows, d_out]);
            let mut dx = Cpu.alloc(&[rows, d_in]);
            let mut gr = vec![0.0f32; p.len()];
            g.throughput(Throughput::Elements(rows as u64));
            g.bench_function(BenchmarkId::new("forward", rows), |b| {
                b.iter(|| Cpu.qproj(&mut y, &x, &p, &args))
            });
            g.bench_function(BenchmarkId::new("backward", rows), |b| {
                b.iter(|| Cpu.qproj_bwd(Some(&mut dx), &mut gr, &y, &x, &p, &args))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, qproj);
criterion_main!(benches);
