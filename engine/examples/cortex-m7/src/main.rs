//! qssm-engine on an emulated Cortex-M7 (QEMU `mps2-an500`): a real f16 model file and a real
//! EEG window in flash, streamed sample by sample through [`qssm_engine::Stream`]; every
//! prediction is checked against the host engine's (same f16 file: |Δlogit| ≤ 1e-4; the f32
//! file it was exported from: same class, |Δlogit| ≤ 1e-2), and the firmware reports
//! instructions per sample (the CMSDK dual timer under `qemu -icount shift=10`, calibrated on
//! a loop of known length), heap and stack use. Prints over semihosting; exits 0 on success.
//!
//! Inputs (paths given at build time, see README.md): `QSSM_MODEL` = the f16 model file,
//! `QSSM_INPUTS` = the folder written by `cargo run -p qssm-trainer --example
//! firmware_inputs` (window.f32 in push order, expected_f16.f32, expected_f32.f32).
#![no_std]
#![no_main]
extern crate alloc;

use core::mem::MaybeUninit;
use core::ptr::{read_volatile, write_volatile};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use panic_semihosting as _;
use qssm_engine::{Model, StreamOptions};

#[global_allocator]
static HEAP: Heap = Heap::empty();
/// The engine copies the weights out of the model file into the heap at load.
const HEAP_SIZE: usize = 2 * 1024 * 1024;
static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];

static MODEL: &[u8] = include_bytes!(env!("QSSM_MODEL"));
static WINDOW: &[u8] = include_bytes!(concat!(env!("QSSM_INPUTS"), "/window.f32"));
static EXPECTED_F16: &[u8] = include_bytes!(concat!(env!("QSSM_INPUTS"), "/expected_f16.f32"));
static EXPECTED_F32: &[u8] = include_bytes!(concat!(env!("QSSM_INPUTS"), "/expected_f32.f32"));

/// Samples between predictions (the host side streams with the same hop).
const HOP: usize = 16;
/// Same f16 model on host and device: only the order of float operations may differ.
const TOL_SAME_MODEL: f32 = 1e-4;
/// Against the f32 model the f16 file was exported from.
const TOL_F32_MODEL: f32 = 1e-2;
const MAX_CHANNELS: usize = 256;

// CMSDK APB dual timer 1 @ 0x40002000: 32-bit free-running down counter at SYSCLK (25 MHz),
// which under `-icount shift=10` advances 25.6 ticks per executed instruction.
const DT1_LOAD: *mut u32 = 0x4000_2000 as *mut u32;
const DT1_VALUE: *const u32 = 0x4000_2004 as *const u32;
const DT1_CTRL: *mut u32 = 0x4000_2008 as *mut u32;

fn timer_start() {
    // SAFETY: the dual timer's registers on this board; nothing else uses the timer.
    unsafe {
        write_volatile(DT1_CTRL, 0);
        write_volatile(DT1_LOAD, 0xFFFF_FFFF);
        write_volatile(DT1_CTRL, (1 << 7) | (1 << 1)); // enable | 32-bit, free-running
    }
}

#[inline(always)]
fn now() -> u32 {
    // SAFETY: a read of the timer's value register.
    unsafe { read_volatile(DT1_VALUE) }
}

/// Exactly 2 instructions per iteration (subs + bne).
#[inline(never)]
fn known_loop(n: u32) {
    // SAFETY: register-only loop.
    unsafe {
        core::arch::asm!("1:", "subs {0}, {0}, #1", "bne 1b",
            inout(reg) n => _, options(nomem, nostack));
    }
}

fn ticks_of(n: u32) -> u32 {
    let t0 = now();
    known_loop(n);
    t0.wrapping_sub(now())
}

fn f32_at(bytes: &[u8], i: usize) -> f32 {
    let b = &bytes[4 * i..4 * i + 4];
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Top of RAM (ORIGIN + LENGTH in memory.x): the initial stack pointer.
const STACK_TOP: usize = 0x2040_0000;
const PAINT: u32 = 0xC0DE_F00D;

fn fail(msg: &str) -> ! {
    hprintln!("FAIL: {}", msg);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[entry]
fn main() -> ! {
    // SAFETY: called once, before any allocation; HEAP_MEM is used by nothing else.
    unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    // paint 256 KiB below the stack pointer to find the stack's high-water mark afterwards
    let sp = cortex_m::register::msp::read() as usize;
    let paint_lo = sp - 256 * 1024;
    let mut a = paint_lo;
    while a < sp - 64 {
        // SAFETY: unused RAM below the current stack frame.
        unsafe { write_volatile(a as *mut u32, PAINT) };
        a += 4;
    }
    timer_start();
    let cal = ticks_of(1_000_001).wrapping_sub(ticks_of(1)) as u64; // 2,000,000 instructions
    let empty = {
        let t0 = now();
        t0.wrapping_sub(now())
    } as u64;
    if cal == 0 {
        fail("the timer does not advance: run QEMU with -icount shift=10");
    }
    let insns = |ticks: u64| (ticks.saturating_sub(empty) * 2_000_000 + cal / 2) / cal;
    hprintln!(
        "calibration: {} timer ticks per 2,000,000 instructions",
        cal
    );

    let h0 = HEAP.used();
    let t0 = now();
    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(_) => fail("the model file does not load"),
    };
    let load = insns(t0.wrapping_sub(now()) as u64);
    let h1 = HEAP.used();
    let (c, k) = (model.n_channels(), model.n_classes());
    hprintln!(
        "model {} ({} channels, {} classes, dtype {}): file {} B in flash, weights {} B, load {} instructions, heap after load {} B",
        model.model_id(), c, k, model.card().dtype, MODEL.len(), model.weight_bytes(), load, h1 - h0
    );
    if c == 0 || c > MAX_CHANNELS || WINDOW.len() % (4 * c) != 0 {
        fail("window.f32 does not hold whole samples of the model's channels");
    }
    let n_samples = WINDOW.len() / (4 * c);
    let state_b = qssm_engine::required_state_bytes(&model).unwrap_or(0);
    let scratch_b = qssm_engine::required_scratch_bytes(&model).unwrap_or(0);
    let mut stream = match model.stream(StreamOptions { hop: HOP }) {
        Ok(s) => s,
        Err(_) => fail("the model cannot stream"),
    };
    hprintln!("stream: state {} B + scratch {} B", state_b, scratch_b);

    let mut sample = [0.0f32; MAX_CHANNELS];
    let (mut sum, mut mn, mut mx) = (0u64, u64::MAX, 0u64);
    let (mut n_pred, mut max_same, mut max_f32, mut class_diff) = (0usize, 0.0f32, 0.0f32, 0usize);
    let mut last_class = 0;
    for s in 0..n_samples {
        for (ch, v) in sample[..c].iter_mut().enumerate() {
            *v = f32_at(WINDOW, s * c + ch);
        }
        let t0 = now();
        let r = stream.push(&sample[..c]);
        let n = insns(t0.wrapping_sub(now()) as u64);
        (sum, mn, mx) = (sum + n, mn.min(n), mx.max(n));
        match r {
            Err(_) => fail("push refused a sample of the window"),
            Ok(None) => {}
            Ok(Some(p)) => {
                if 4 * k * (n_pred + 1) > EXPECTED_F16.len().min(EXPECTED_F32.len()) {
                    fail("more predictions than the host made");
                }
                let (mut best16, mut best32) = (0, 0);
                for (j, &l) in p.logits.iter().enumerate() {
                    let e16 = f32_at(EXPECTED_F16, n_pred * k + j);
                    let e32 = f32_at(EXPECTED_F32, n_pred * k + j);
                    max_same = max_same.max((l - e16).abs());
                    max_f32 = max_f32.max((l - e32).abs());
                    if e16 > f32_at(EXPECTED_F16, n_pred * k + best16) {
                        best16 = j;
                    }
                    if e32 > f32_at(EXPECTED_F32, n_pred * k + best32) {
                        best32 = j;
                    }
                }
                if p.class != best16 || p.class != best32 {
                    class_diff += 1;
                }
                last_class = p.class;
                n_pred += 1;
            }
        }
    }
    hprintln!(
        "streamed {} samples (hop {}): {} instructions per sample on average (min {}, max {}); {} predictions, last class {}",
        n_samples, HOP, sum / n_samples.max(1) as u64, mn, mx, n_pred, last_class
    );
    hprintln!(
        "against the host engine: max |Δlogit| {:e} (same f16 model), {:e} (f32 model); class differs in {} of {}",
        max_same, max_f32, class_diff, n_pred
    );
    let mut a = paint_lo;
    // SAFETY: reads of the painted region.
    while a < sp && unsafe { read_volatile(a as *const u32) } == PAINT {
        a += 4;
    }
    hprintln!(
        "heap used {} B; stack high-water {} B",
        HEAP.used(),
        STACK_TOP - a
    );
    let n_host = EXPECTED_F16.len() / (4 * k);
    if n_pred == 0 || n_pred != n_host {
        fail("the number of predictions differs from the host's");
    }
    if !(max_same <= TOL_SAME_MODEL && max_f32 <= TOL_F32_MODEL) || class_diff != 0 {
        fail("predictions differ from the host engine's beyond the tolerances");
    }
    hprintln!("PASS: {} predictions equal the host engine's", n_pred);
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}
