//! The GPU reduction (`stats::encode_reduce` + `read_stats`, shaders/reduce.wgsl)
//! against the f64 reference (`reference::tensor_stats_f32`) and exact
//! expectations: zeros, NaN/Inf, extreme magnitudes, ragged sizes, a tensor at
//! the binding limit, histograms and the activation fractions.

mod common;
mod oracle;

use common::*;
use initscope::kernels::reduce::{Item, Source, encode_reduce_from, read_stats};
use initscope::results::TensorStats;
use initscope::rng::{Role, Stream, stream_normal};
use oracle::tensor_stats_f32;

/// One tensor to reduce: its values, whether to histogram it and whether it
/// reports the activation fractions.
struct Tensor<'a> {
    data: &'a [f32],
    histogram: bool,
    activation: bool,
}

fn tensor(data: &[f32]) -> Tensor<'_> {
    Tensor {
        data,
        histogram: true,
        activation: true,
    }
}

/// Uploads every tensor, reduces them all in one `encode_reduce_from` call
/// from each source (the storage buffer; texture pieces, CPU adapters'
/// default), checks that both agree and returns the texture's records.
fn reduce(tensors: &[Tensor<'_>], saturation: f32, bins: u32) -> Vec<TensorStats> {
    let buffer = reduce_from(tensors, saturation, bins, Source::Buffer);
    let texture = reduce_from(tensors, saturation, bins, Source::Texture);
    for (i, (t, b)) in texture.iter().zip(&buffer).enumerate() {
        let what = format!(
            "tensor {i} (n={}): texture vs buffer",
            tensors[i].data.len()
        );
        check_stats(&what, t, b);
        assert_eq!(t.histogram, b.histogram, "{what}: histogram");
    }
    texture
}

fn reduce_from(
    tensors: &[Tensor<'_>],
    saturation: f32,
    bins: u32,
    source: Source,
) -> Vec<TensorStats> {
    let gpu = gpu();
    let buffers: Vec<_> = tensors
        .iter()
        .map(|t| gpu.storage_from("test tensor", t.data).unwrap())
        .collect();
    let items: Vec<Item<'_>> = tensors
        .iter()
        .zip(&buffers)
        .map(|(t, b)| Item::whole(b, t.data.len() as u32, t.histogram))
        .collect();
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    let bufs = encode_reduce_from(&gpu, &mut enc, &items, saturation, bins, source).unwrap();
    gpu.submit("test reduction", enc).unwrap();
    let activation: Vec<bool> = tensors.iter().map(|t| t.activation).collect();
    read_stats(&gpu, &bufs, &activation).unwrap()
}

fn reduce_one(data: &[f32], saturation: f32, bins: u32) -> TensorStats {
    reduce(&[tensor(data)], saturation, bins).remove(0)
}

fn normals(seed: u64, n: usize, mean: f32, std: f32) -> Vec<f32> {
    let stream = Stream {
        layer: 7,
        role: Role::Weight,
        repeat: 0,
    };
    stream_normal(seed, stream, n, mean, std)
}

fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Relative 1e-4 on mean/std/norm (f32 accumulation), the mean of a
/// zero-centred tensor on the scale of its std; min/max and every count exact.
fn check_stats(what: &str, g: &TensorStats, r: &TensorStats) {
    let scale = r.std.max(r.mean.abs());
    assert_eq!(g.count, r.count, "{what}: count");
    assert_eq!(
        (g.nan_count, g.inf_count),
        (r.nan_count, r.inf_count),
        "{what}: nan/inf counts"
    );
    assert_eq!((g.min, g.max), (r.min, r.max), "{what}: min/max");
    let close = |a: f64, b: f64, abs: f64| (a - b).abs() <= 1e-4 * b.abs() + abs;
    assert!(
        close(g.mean, r.mean, 1e-5 * scale),
        "{what}: mean {} vs {}",
        g.mean,
        r.mean
    );
    assert!(
        close(g.std, r.std, 0.0),
        "{what}: std {} vs {}",
        g.std,
        r.std
    );
    assert!(
        close(g.norm, r.norm, 0.0),
        "{what}: norm {} vs {}",
        g.norm,
        r.norm
    );
    // The fractions are integer counts over the same count: exact.
    assert_eq!(g.zero_fraction, r.zero_fraction, "{what}: zero fraction");
    assert_eq!(
        g.saturated_fraction, r.saturated_fraction,
        "{what}: saturated fraction"
    );
}

/// Elements that land in a different bin than in the f64 reference
/// (half the L1 distance of the counts; the totals must agree).
fn moved_elements(what: &str, g: &TensorStats, r: &TensorStats) -> u64 {
    let (gh, rh) = (g.histogram.as_ref().unwrap(), r.histogram.as_ref().unwrap());
    assert_eq!((gh.lo, gh.hi), (rh.lo, rh.hi), "{what}: histogram range");
    assert_eq!(gh.counts.len(), rh.counts.len(), "{what}: bins");
    let (gs, rs): (u64, u64) = (gh.counts.iter().sum(), rh.counts.iter().sum());
    assert_eq!(gs, rs, "{what}: histogram total");
    gh.counts
        .iter()
        .zip(&rh.counts)
        .map(|(a, b)| a.abs_diff(*b))
        .sum::<u64>()
        / 2
}

#[test]
fn all_zero_tensors() {
    let sizes = [1usize, 2, 64, 1024, 1025, 100_000];
    let zeros: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    // Negative zeros are zeros too (x == 0), and min = max = 0 either way.
    let neg: Vec<f32> = (0..5000)
        .map(|i| if i % 3 == 0 { -0.0 } else { 0.0 })
        .collect();
    let mut tensors: Vec<Tensor<'_>> = zeros.iter().map(|z| tensor(z)).collect();
    tensors.push(tensor(&neg));
    let stats = reduce(&tensors, 0.9, 64);
    for (s, t) in stats.iter().zip(&tensors) {
        let n = t.data.len();
        assert_eq!(s.count, n as u64);
        assert_eq!(
            (s.mean, s.std, s.norm, s.min, s.max),
            (0.0, 0.0, 0.0, 0.0, 0.0),
            "n={n}: {s:?}"
        );
        assert_eq!((s.nan_count, s.inf_count), (0, 0), "n={n}");
        assert_eq!(s.zero_fraction, Some(1.0), "n={n}");
        assert_eq!(s.saturated_fraction, Some(0.0), "n={n}");
        // A constant tensor goes to bin k/2, as in the reference.
        let h = s.histogram.as_ref().unwrap();
        let mut want = vec![0u64; 64];
        want[32] = n as u64;
        assert_eq!(h.counts, want, "n={n}: histogram");
        // Equal to the reference (−0 and +0 compare equal: the sign of a zero
        // minimum is not specified).
        assert_eq!(*s, tensor_stats_f32(t.data, Some(0.9), Some(64)), "n={n}");
    }
}

#[test]
fn nan_and_inf_are_counted_and_excluded() {
    let n = 200_000;
    let mut x = normals(11, n, 0.25, 2.0);
    let nan_bits = [0x7fc0_0000u32, 0xffc0_0000, 0x7f80_0001, 0xffff_ffff];
    let (mut nans, mut infs) = (0u64, 0u64);
    for i in 0..n {
        // Scattered NaNs (several payloads, both signs) and infinities of both
        // signs, including the first and the last element.
        if i % 89 == 1 || i == 0 {
            x[i] = if i % 2 == 0 {
                f32::INFINITY
            } else {
                f32::NEG_INFINITY
            };
            infs += 1;
        } else if i % 97 == 0 || i == n - 1 {
            x[i] = f32::from_bits(nan_bits[i % 4]);
            nans += 1;
        }
    }
    // One whole 1024-element chunk and one thread's 16 elements of nothing
    // finite: their records must merge as empty.
    for v in &mut x[4096..5120] {
        if v.is_finite() {
            *v = f32::NAN;
            nans += 1;
        }
    }
    for k in 0..16 {
        let v = &mut x[8192 + 5 + 64 * k];
        if v.is_finite() {
            *v = f32::INFINITY;
            infs += 1;
        }
    }
    // A tensor with no finite value at all, and one with a single finite value.
    let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
    let one = [f32::NAN, -3.5, f32::INFINITY];
    let stats = reduce(&[tensor(&x), tensor(&bad), tensor(&one)], 0.9, 64);

    let s = &stats[0];
    assert_eq!((s.nan_count, s.inf_count), (nans, infs));
    let finite: Vec<f32> = x.iter().copied().filter(|v| v.is_finite()).collect();
    assert_eq!(finite.len() as u64, n as u64 - nans - infs);
    let r = tensor_stats_f32(&finite, Some(0.9), Some(64));
    // The finite subset has no NaN/Inf and a smaller count; the moments,
    // extremes and the zero and saturated counts must agree.
    let count_of = |f: Option<f64>, n: usize| (f.unwrap() * n as f64).round();
    let mut g = s.clone();
    (g.count, g.nan_count, g.inf_count) = (r.count, 0, 0);
    (g.zero_fraction, g.saturated_fraction) = (r.zero_fraction, r.saturated_fraction);
    check_stats("finite subset", &g, &r);
    assert_eq!(
        count_of(s.zero_fraction, n),
        count_of(r.zero_fraction, finite.len()),
        "zero count"
    );
    assert_eq!(
        count_of(s.saturated_fraction, n),
        count_of(r.saturated_fraction, finite.len()),
        "saturated count"
    );
    // Against the reference on the whole tensor (which excludes the same way).
    check_stats(
        "whole tensor",
        s,
        &tensor_stats_f32(&x, Some(0.9), Some(64)),
    );
    assert!(moved_elements("nan/inf", s, &r) <= 2);

    let b = &stats[1];
    assert_eq!((b.nan_count, b.inf_count, b.count), (2, 2, 4));
    assert_eq!(
        (b.mean, b.std, b.min, b.max, b.norm),
        (0.0, 0.0, 0.0, 0.0, 0.0),
        "{b:?}"
    );
    assert_eq!(
        (b.zero_fraction, b.saturated_fraction),
        (Some(0.0), Some(0.0))
    );
    assert_eq!(b.histogram.as_ref().unwrap().counts.iter().sum::<u64>(), 0);

    let o = &stats[2];
    assert_eq!((o.nan_count, o.inf_count, o.count), (1, 1, 3));
    assert_eq!(
        (o.mean, o.std, o.min, o.max, o.norm),
        (-3.5, 0.0, -3.5, -3.5, 3.5),
        "{o:?}"
    );
    assert_eq!(o.saturated_fraction, Some(1.0 / 3.0));
}

#[test]
fn tiny_values_keep_their_norm() {
    let n = 100_000;
    let x = normals(21, n, 0.0, 1e-24);
    // Unscaled, every square (~1e-48) is below the smallest f32 subnormal
    // (1.4e-45): a naive f32 sum of squares (torch's float32 .norm()) is 0.
    let naive = x.iter().fold(0.0f32, |a, v| a + v * v);
    assert_eq!(naive, 0.0, "a naive f32 sum of squares underflows");
    let s = reduce_one(&x, 0.9, 64);
    let r = tensor_stats_f32(&x, Some(0.9), Some(64));
    eprintln!(
        "1e-24 scale: GPU norm {:e}, f64 reference {:e}, naive f32 {naive}; std {:e} vs {:e}",
        s.norm, r.norm, s.std, r.std
    );
    assert!(s.norm > 0.0);
    assert!(
        rel_err(s.norm, r.norm) < 1e-4,
        "norm {} vs {}",
        s.norm,
        r.norm
    );
    // ‖x‖ ≈ √n·1e-24 ≈ 3.16e-22.
    assert!(rel_err(s.norm, (n as f64).sqrt() * 1e-24) < 0.01);
    check_stats("1e-24", &s, &r);
    assert!(moved_elements("1e-24", &s, &r) <= 2);
}

#[test]
fn huge_values_do_not_overflow() {
    let n = 100_000;
    let x = normals(31, n, 0.0, 1e18);
    // Each square (~1e36) fits f32 (max 3.4e38), but 1e5 of them do not.
    let naive = x.iter().fold(0.0f32, |a, v| a + v * v);
    assert_eq!(naive, f32::INFINITY, "a naive f32 sum of squares overflows");
    // A shifted tensor too: 1e18-scale mean, so the Chan term carries the variance.
    let y = normals(32, n, 3e18, 1e18);
    let stats = reduce(&[tensor(&x), tensor(&y)], 0.9, 64);
    for (what, s, data) in [
        ("N(0, 1e36)", &stats[0], &x),
        ("N(3e18, 1e36)", &stats[1], &y),
    ] {
        let r = tensor_stats_f32(data, Some(0.9), Some(64));
        eprintln!(
            "{what}: GPU norm {:e} std {:e}; reference norm {:e} std {:e}",
            s.norm, s.std, r.norm, r.std
        );
        assert!(s.norm.is_finite() && s.std.is_finite(), "{what}: {s:?}");
        assert!(rel_err(s.norm, r.norm) < 1e-4, "{what}: norm");
        assert!(rel_err(s.std, r.std) < 1e-4, "{what}: std");
        check_stats(what, s, &r);
        assert!(moved_elements(what, s, &r) <= 2);
    }
}

#[test]
fn ragged_sizes_count_every_element_once() {
    // 16_384 elements are one workgroup's (the smallest tensor read through
    // a texture); 4_243_463 spans two texture pieces of 4 Mi with a ragged tail.
    let sizes = [
        1usize, 3, 63, 64, 65, 1023, 1025, 16_384, 16_387, 1_000_003, 4_243_463,
    ];
    let data: Vec<Vec<f32>> = sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let mut v = normals(40 + k as u64, n, 0.3, 1.7);
            // Markers at both ends: a zero first, a NaN last (n ≥ 3), so that
            // a skipped or double-read boundary element shows in the counts.
            if n >= 3 {
                v[0] = 0.0;
                v[n - 1] = f32::NAN;
            }
            v
        })
        .collect();
    let tensors: Vec<Tensor<'_>> = data.iter().map(|d| tensor(d)).collect();
    let stats = reduce(&tensors, 0.9, 64);
    for (s, d) in stats.iter().zip(&data) {
        let n = d.len();
        let what = format!("n={n}");
        let r = tensor_stats_f32(d, Some(0.9), Some(64));
        check_stats(&what, s, &r);
        let finite = d.iter().filter(|v| v.is_finite()).count() as u64;
        let h = s.histogram.as_ref().unwrap();
        assert_eq!(
            h.counts.iter().sum::<u64>(),
            finite,
            "{what}: elements seen"
        );
        assert_eq!(s.nan_count, u64::from(n >= 3), "{what}: NaN marker");
        assert!(moved_elements(&what, s, &r) <= 2 + n as u64 / 100_000);
    }
}

#[test]
fn binding_limit_tensor_keeps_f32_accuracy() {
    let gpu = gpu();
    let n = 1usize << 25; // 128 MiB of f32
    assert!(
        (n * 4) as u64 <= gpu.max_binding_bytes(),
        "the adapter's binding limit is {} bytes",
        gpu.max_binding_bytes()
    );
    let x = normals(51, n, 1000.0, 1e-3);
    let s = reduce(
        &[Tensor {
            data: &x,
            histogram: false,
            activation: false,
        }],
        0.9,
        64,
    )
    .remove(0);
    // f64 two-pass truth over the same f32 values.
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / (n - 1) as f64;
    let norm = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    // Naive single-pass f32 E[x²] − E[x]²: the sums lose everything below
    // their ulp (x² ≈ 1e6, the totals ≈ 3e13 and 3e10), and the difference
    // cancels catastrophically.
    let (s1, s2) = x
        .iter()
        .fold((0.0f32, 0.0f32), |(a, b), &v| (a + v, b + v * v));
    let nf = n as f32;
    let naive_var = s2 / nf - (s1 / nf) * (s1 / nf);
    let naive_std = naive_var.max(0.0).sqrt();
    eprintln!(
        "2^25 × (1000 + N(0,1)·1e-3): GPU mean {} std {:e} norm {:e}; f64 mean {mean} std {:e} norm {:e}; \
         naive f32 mean {} var {naive_var:e} (std {naive_std:e})",
        s.mean,
        s.std,
        s.norm,
        var.sqrt(),
        norm,
        s1 / nf
    );
    assert_eq!(s.count, n as u64);
    assert!(rel_err(s.mean, mean) < 1e-4, "mean {} vs {mean}", s.mean);
    assert!(rel_err(s.std, 1e-3) < 0.01, "std {} vs 1e-3", s.std);
    // Shifted, corrected two-pass partials and Chan merges: f32 accuracy of the spread itself.
    assert!(
        rel_err(s.std, var.sqrt()) < 1e-4,
        "std {} vs {}",
        s.std,
        var.sqrt()
    );
    assert!(rel_err(s.norm, norm) < 1e-4, "norm {} vs {norm}", s.norm);
    let naive_err = rel_err(f64::from(naive_std), 1e-3);
    assert!(
        naive_err.is_nan() || naive_err > 0.5,
        "the naive f32 variance was expected to be garbage, got std {naive_std}"
    );
}

#[test]
fn histograms_match_reference_bins() {
    let x = normals(61, 300_001, -0.4, 1.3);
    // A tensor with a few huge outliers: most values in a handful of bins.
    let mut spiky = normals(62, 50_000, 0.0, 1.0);
    spiky[17] = 1e6;
    spiky[40_000] = -3e5;
    let constant = vec![2.5f32; 3000];
    let mut with_bad = normals(63, 10_000, 1.0, 0.1);
    with_bad[3] = f32::NAN;
    with_bad[9_999] = f32::NEG_INFINITY;
    // 64 and 256 bins use the workgroup-local path, 257 and 1000 the global one.
    for bins in [1u32, 7, 64, 256, 257, 1000] {
        let tensors = [
            tensor(&x),
            tensor(&spiky),
            tensor(&constant),
            tensor(&with_bad),
        ];
        let stats = reduce(&tensors, 0.9, bins);
        for (k, (s, t)) in stats.iter().zip(&tensors).enumerate() {
            let what = format!("tensor {k}, {bins} bins");
            let r = tensor_stats_f32(t.data, Some(0.9), Some(bins));
            let h = s.histogram.as_ref().unwrap();
            let finite = t.data.iter().filter(|v| v.is_finite()).count() as u64;
            assert_eq!(h.counts.len(), bins as usize, "{what}");
            assert_eq!(h.counts.iter().sum::<u64>(), finite, "{what}: total");
            assert_eq!((h.lo, h.hi), (s.min, s.max), "{what}: range");
            if k != 2 {
                // The minimum lands in the first bin and the maximum in the last.
                assert!(h.counts[0] >= 1, "{what}: first bin");
                assert!(h.counts[bins as usize - 1] >= 1, "{what}: last bin");
            }
            let moved = moved_elements(&what, s, &r);
            assert!(
                moved <= 2 + t.data.len() as u64 / 10_000,
                "{what}: {moved} elements in another bin than the reference"
            );
        }
    }
}

#[test]
fn zero_and_saturated_fractions_are_exact() {
    // Per block of 10: two zeros (±0), three saturated (|x| > 0.9: ±0.95, 1),
    // 0.9 itself (not > 0.9), 0.5, a NaN and two infinities (neither zero nor
    // saturated, but in the denominator).
    let block = [
        0.0,
        -0.0,
        0.95,
        -0.95,
        0.9,
        1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.5,
    ];
    let s = reduce_one(&block, 0.9, 8);
    assert_eq!(
        (s.zero_fraction, s.saturated_fraction),
        (Some(0.2), Some(0.3))
    );
    assert_eq!((s.nan_count, s.inf_count), (1, 2));
    // 5,003 blocks over many workgroups, plus a tail, at another threshold.
    let mut x: Vec<f32> = block.iter().copied().cycle().take(50_030).collect();
    x.extend([0.0, 2.0, -0.0]);
    let s = reduce_one(&x, 0.9, 8);
    let n = x.len() as f64;
    assert_eq!(s.zero_fraction, Some((5003.0 * 2.0 + 2.0) / n));
    assert_eq!(s.saturated_fraction, Some((5003.0 * 3.0 + 1.0) / n));
    let s = reduce_one(&x, 0.5, 8);
    // At 0.5: 0.95, −0.95, 0.9, 1.0 (0.5 itself is not above).
    assert_eq!(s.saturated_fraction, Some((5003.0 * 4.0 + 1.0) / n));
    check_stats("blocks", &s, &tensor_stats_f32(&x, Some(0.5), Some(8)));
    // Items not flagged as activations report no fractions.
    let plain = reduce(
        &[Tensor {
            data: &x,
            histogram: false,
            activation: false,
        }],
        0.9,
        8,
    );
    assert_eq!(
        (
            plain[0].zero_fraction,
            plain[0].saturated_fraction,
            &plain[0].histogram
        ),
        (None, None, &None)
    );
}

#[test]
fn extreme_f32_magnitudes() {
    // Values beyond the ±3.4e38 sentinels that seed min/max, and values of
    // both signs above f32::MAX/2 (their difference overflows f32): the
    // statistics must still be those of the finite values, as the f64
    // reference gives them (it handles ±f64::MAX the same way).
    let max = f32::MAX;
    let cases: [(&str, Vec<f32>); 4] = [
        ("all f32::MAX", vec![max; 100]),
        ("all -f32::MAX", vec![-max; 100]),
        ("±f32::MAX", vec![max, -max]),
        ("±3e38 and 1", vec![3e38, -3e38, 1.0]),
    ];
    let tensors: Vec<Tensor<'_>> = cases.iter().map(|(_, d)| tensor(d)).collect();
    let stats = reduce(&tensors, 0.9, 4);
    let mut failures = Vec::new();
    for ((what, d), s) in cases.iter().zip(&stats) {
        let r = tensor_stats_f32(d, Some(0.9), Some(4));
        // f32 inputs of magnitude M carry rounding of M·2⁻²³ each, so no
        // f32 reduction can promise the mean closer than a few of those;
        // finite alone would accept a mean of 1e38 for [3e38, -3e38, 1].
        let scale = r.min.abs().max(r.max.abs());
        let ok = s.min == r.min
            && s.max == r.max
            && (s.mean - r.mean).abs() <= 4.0 * f64::from(f32::EPSILON) * scale
            && s.std.is_finite()
            && (s.std - r.std).abs() <= 1e-4 * r.std
            && (s.norm - r.norm).abs() <= 1e-4 * r.norm
            && s.histogram == r.histogram;
        if !ok {
            failures.push(format!(
                "{what}: GPU mean {:e} std {:e} min {:e} max {:e} hist {:?}; \
                 reference mean {:e} std {:e} min {:e} max {:e} hist {:?}",
                s.mean,
                s.std,
                s.min,
                s.max,
                s.histogram.as_ref().map(|h| &h.counts),
                r.mean,
                r.std,
                r.min,
                r.max,
                r.histogram.as_ref().map(|h| &h.counts)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
