//! Philox4x32-10 on the GPU against Random123's known answers and the host twin.

mod common;

use common::*;
use initscope::activation::norm_cdf;
use initscope::kernels::philox::{FillMode, Geometry, RawCounter, fill};
use initscope::rng::{self, Role, Stream, philox4x32_10};

const KATS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    (
        [0, 0, 0, 0],
        [0, 0],
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ),
    (
        [u32::MAX; 4],
        [u32::MAX; 2],
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ),
    (
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ),
];

fn raw(ctr: [u32; 4], key: [u32; 2]) -> RawCounter {
    RawCounter {
        key,
        words: [ctr[1], ctr[2], ctr[3]],
        first_block: ctr[0],
    }
}

#[test]
fn known_answers_on_gpu_both_multiply_paths() {
    let gpu = gpu();
    for int64 in [false, true] {
        let geo = Geometry {
            int64,
            ..Default::default()
        };
        for (ctr, key, want) in KATS {
            let got = fill(&gpu, raw(ctr, key), 1, FillMode::Words, geo).unwrap();
            assert_eq!(got, want, "int64={int64} ctr={ctr:x?}");
        }
    }
    assert!(
        gpu.has_int64(),
        "lavapipe offers SHADER_INT64; the u64 path must be covered"
    );
}

const BLOCKS: u32 = 1 << 20; // 1M blocks = 4M words

fn host_words(seed: u64, stream: Stream, n_blocks: u32) -> Vec<u32> {
    rng::stream_u32(seed, stream, n_blocks as usize * 4)
}

#[test]
fn gpu_matches_host_twin_for_1m_blocks_under_several_geometries() {
    let gpu = gpu();
    let stream = Stream {
        layer: 3,
        role: Role::Weight,
        repeat: 1,
    };
    let want = host_words(0xDEAD_BEEF_1234, stream, BLOCKS);
    let geos = [
        Geometry {
            workgroup: 64,
            blocks_per_thread: 1,
            int64: true,
        },
        Geometry {
            workgroup: 256,
            blocks_per_thread: 4,
            int64: true,
        },
        Geometry {
            workgroup: 32,
            blocks_per_thread: 3,
            int64: false,
        },
    ];
    for geo in geos {
        let got = fill(
            &gpu,
            RawCounter::of(0xDEAD_BEEF_1234, stream),
            BLOCKS,
            FillMode::Words,
            geo,
        )
        .unwrap();
        let first_bad = got.iter().zip(&want).position(|(a, b)| a != b);
        assert_eq!(
            first_bad, None,
            "geometry {geo:?} differs from the host twin"
        );
    }
}

#[test]
fn uniforms_are_bit_identical_and_normals_within_ulps() {
    let gpu = gpu();
    let stream = Stream {
        layer: 0,
        role: Role::Input,
        repeat: 0,
    };
    let n = 1 << 18;
    let u = fill(
        &gpu,
        RawCounter::of(42, stream),
        n,
        FillMode::Uniform,
        Geometry::default(),
    )
    .unwrap();
    let hu: Vec<u32> = rng::stream_uniform(42, stream, n as usize * 4, 0.0, 1.0)
        .iter()
        .map(|x| x.to_bits())
        .collect();
    assert_eq!(u, hu, "uniforms must be bit-identical");
    let z = fill(
        &gpu,
        RawCounter::of(42, stream),
        n,
        FillMode::Normal,
        Geometry::default(),
    )
    .unwrap();
    let hz = rng::stream_normal(42, stream, n as usize * 4, 0.0, 1.0);
    let worst = z
        .iter()
        .zip(&hz)
        .map(|(a, b)| (f32::from_bits(*a) - b).abs() as f64)
        .fold(0.0, f64::max);
    assert!(worst < 2e-5, "normals differ from the host twin by {worst}");
}

#[test]
fn uniform_distribution_moments_and_ks() {
    let gpu = gpu();
    let n = 1 << 18; // 1M draws
    let s = Stream {
        layer: 1,
        role: Role::Weight,
        repeat: 0,
    };
    let u: Vec<f64> = fill(
        &gpu,
        RawCounter::of(7, s),
        n,
        FillMode::Uniform,
        Geometry::default(),
    )
    .unwrap()
    .into_iter()
    .map(|b| f32::from_bits(b) as f64)
    .collect();
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    let (m, v) = moments(&u);
    assert!((m - 0.5).abs() < 0.002, "mean {m}");
    assert!((v - 1.0 / 12.0).abs() < 0.001, "var {v}");
    let d = ks_statistic(&u, |x| x.clamp(0.0, 1.0));
    assert!(d < ks_critical(u.len()), "KS D={d}");
}

#[test]
fn normal_distribution_moments_rule_and_ks() {
    let gpu = gpu();
    let n = 1 << 18;
    let s = Stream {
        layer: 2,
        role: Role::Weight,
        repeat: 5,
    };
    let z: Vec<f64> = fill(
        &gpu,
        RawCounter::of(9, s),
        n,
        FillMode::Normal,
        Geometry::default(),
    )
    .unwrap()
    .into_iter()
    .map(|b| f32::from_bits(b) as f64)
    .collect();
    let (m, v) = moments(&z);
    assert!(m.abs() < 0.003, "mean {m}");
    assert!((v - 1.0).abs() < 0.005, "var {v}");
    let frac = |k: f64| z.iter().filter(|x| x.abs() < k).count() as f64 / z.len() as f64;
    assert!((frac(1.0) - 0.682_689).abs() < 0.002, "68%: {}", frac(1.0));
    assert!((frac(2.0) - 0.954_500).abs() < 0.001, "95%: {}", frac(2.0));
    assert!(
        (frac(3.0) - 0.997_300).abs() < 0.0003,
        "99.7%: {}",
        frac(3.0)
    );
    let d = ks_statistic(&z, norm_cdf);
    assert!(d < ks_critical(z.len()), "KS D={d}");
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let gpu = gpu();
    let s = Stream {
        layer: 0,
        role: Role::Weight,
        repeat: 0,
    };
    let a = fill(
        &gpu,
        RawCounter::of(1, s),
        4096,
        FillMode::Words,
        Geometry::default(),
    )
    .unwrap();
    let b = fill(
        &gpu,
        RawCounter::of(1, s),
        4096,
        FillMode::Words,
        Geometry::default(),
    )
    .unwrap();
    let c = fill(
        &gpu,
        RawCounter::of(2, s),
        4096,
        FillMode::Words,
        Geometry::default(),
    )
    .unwrap();
    assert_eq!(a, b);
    let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
    assert!(same < 4, "{same} equal words across seeds");
    assert_eq!(
        philox4x32_10([0, 0, 0, 0], rng::key_of(1)),
        [a[0], a[1], a[2], a[3]]
    );
}

#[test]
fn gl_backend_matches_vulkan_bit_for_bit() {
    let Some(gl) = gl_gpu() else {
        panic!("wgpu's GL backend offers no adapter here; llvmpipe should provide one");
    };
    let vk = gpu();
    let s = Stream {
        layer: 4,
        role: Role::Bias,
        repeat: 2,
    };
    let a = fill(
        &vk,
        RawCounter::of(99, s),
        BLOCKS,
        FillMode::Words,
        Geometry::default(),
    )
    .unwrap();
    let b = fill(
        &gl,
        RawCounter::of(99, s),
        BLOCKS,
        FillMode::Words,
        Geometry::default(),
    )
    .unwrap();
    assert_eq!(a.len(), b.len());
    assert!(a == b, "GL and Vulkan Philox streams differ");
    let u = fill(
        &gl,
        RawCounter::of(99, s),
        1024,
        FillMode::Uniform,
        Geometry::default(),
    )
    .unwrap();
    let hu: Vec<u32> = rng::stream_uniform(99, s, 4096, 0.0, 1.0)
        .iter()
        .map(|x| x.to_bits())
        .collect();
    assert_eq!(u, hu);
}
