//! Every GEMM variant against an f64 host GEMM in the three orientations of
//! a linear layer (one correctness test per variant), and the tuner's cache.

mod common;

use common::gpu;
use initscope::kernels::gemm::{Gemm, GemmVariant, encode_gemm_with};
use initscope::tune::{TuneCache, TuneEntry, load, save};

fn host_gemm(g: &Gemm, a: &[f32], b: &[f32], bias: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
    let (m, n, k) = (g.m as usize, g.n as usize, g.k as usize);
    let mut c = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut t) = (0.0f64, 0.0f64);
            for p in 0..k {
                let x = f64::from(a[i * g.a_si as usize + p * g.a_sp as usize]);
                let y = f64::from(b[p * g.b_sp as usize + j * g.b_sj as usize]);
                s += x * y;
                t += (x * y).abs();
            }
            let bj = bias.map_or(0.0, |b| f64::from(b[j]));
            c[i * n + j] = s + bj;
            mag[i * n + j] = t + bj.abs();
        }
    }
    (c, mag)
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    initscope::rng::stream_normal(
        u64::from(seed),
        initscope::rng::Stream {
            layer: seed,
            role: initscope::rng::Role::Weight,
            repeat: 0,
        },
        n,
        0.0,
        1.0,
    )
}

/// A sub-block product inside larger buffers, as the blocked QR runs it:
/// element offsets, a C row stride wider than n, and alpha = −1 with
/// accumulation (C −= A·B); A and B in both orientations. Elements of C
/// outside the block must be untouched.
fn check_sub_block(v: GemmVariant) {
    // Odd strides (packed paths), then 64-multiple strides and 16-byte
    // aligned offsets (the copied paths of the subgroup kernel).
    check_sub_block_at(v, [41, 75, 83], [5, 7, 3 * 83 + 9]);
    check_sub_block_at(v, [128, 64, 192], [8, 12, 2 * 192 + 4]);
}

fn check_sub_block_at(v: GemmVariant, [lda, ldb, ldc]: [usize; 3], [ao, bo, co]: [usize; 3]) {
    let gpu = gpu();
    let (m, n, k) = (37usize, 70usize, 29usize);
    let a = data(ao + lda * 72, 5);
    let b = data(bo + ldb * 72, 6);
    let c0 = data(co + m * ldc, 7);
    for (sa, sb) in [([lda, 1], [ldb, 1]), ([1, lda], [1, ldb])] {
        let g = Gemm {
            a_off: ao as u32,
            b_off: bo as u32,
            c_off: co as u32,
            c_si: ldc as u32,
            alpha: -1.0,
            accumulate: 1,
            ..Gemm::new(m, n, k, [sa[0], sa[1], sb[0], sb[1]])
        };
        let ba = gpu.storage_from("a", &a).unwrap();
        let bb = gpu.storage_from("b", &b).unwrap();
        let bc = gpu.storage_from("c", &c0).unwrap();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        encode_gemm_with(&gpu, v, &mut enc, &g, &ba, &bb, None, &bc).unwrap();
        gpu.submit("gemm sub-block test", enc).unwrap();
        let got: Vec<f32> = gpu.read("c", &bc, 0, c0.len()).unwrap();
        for (idx, (&c, &old)) in got.iter().zip(&c0).enumerate() {
            let (i, j) = ((idx.wrapping_sub(co)) / ldc, (idx.wrapping_sub(co)) % ldc);
            if idx < co || i >= m || j >= n {
                assert_eq!(
                    c,
                    old,
                    "{}: element {idx} outside the block changed",
                    v.describe()
                );
                continue;
            }
            let (mut s, mut mag) = (f64::from(old), f64::from(old).abs());
            for p in 0..k {
                let x = f64::from(a[ao + i * sa[0] + p * sa[1]]);
                let y = f64::from(b[bo + p * sb[0] + j * sb[1]]);
                s -= x * y;
                mag += (x * y).abs();
            }
            assert!(
                (f64::from(c) - s).abs() <= 1e-5 * mag + 1e-6,
                "{} {g:?}: ({i}, {j}): {c} vs {s}",
                v.describe()
            );
        }
    }
}

fn check_variant(v: GemmVariant) {
    check_sub_block(v);
    let gpu = gpu();
    for &(batch, fi, fo) in &[
        (70usize, 45usize, 131usize),
        (64, 256, 256),
        (1, 3, 5),
        (129, 200, 64),
    ] {
        let x = data(batch * fi, 1);
        let w = data(fo * fi, 2);
        let dh = data(batch * fo, 3);
        let bias = data(fo, 4);
        let cases = [
            (Gemm::forward(batch, fi, fo), &x, &w, Some(&bias)),
            (Gemm::backward_data(batch, fi, fo), &dh, &w, None),
            (Gemm::backward_weight(batch, fi, fo), &dh, &x, None),
        ];
        for (g, a, b, bias) in cases {
            let ba = gpu.storage_from("a", a).unwrap();
            let bb = gpu.storage_from("b", b).unwrap();
            let bbias = bias.map(|v| gpu.storage_from("bias", v).unwrap());
            let bc = gpu.storage("c", u64::from(g.m * g.n) * 4).unwrap();
            let mut enc = gpu.device.create_command_encoder(&Default::default());
            encode_gemm_with(
                &gpu,
                v,
                &mut enc,
                &g,
                &ba,
                &bb,
                bbias.as_ref().map(Into::into),
                &bc,
            )
            .unwrap();
            // Accumulating a second product (batch-chunked dW) doubles C.
            let acc = Gemm { accumulate: 1, ..g };
            encode_gemm_with(
                &gpu,
                v,
                &mut enc,
                &acc,
                &ba,
                &bb,
                bbias.as_ref().map(Into::into),
                &bc,
            )
            .unwrap();
            gpu.submit("gemm test", enc).unwrap();
            let got: Vec<f32> = gpu.read("c", &bc, 0, (g.m * g.n) as usize).unwrap();
            let (mut want, mut mag) = host_gemm(&g, a, b, bias.map(|v| v.as_slice()));
            want.iter_mut().for_each(|x| *x *= 2.0);
            mag.iter_mut().for_each(|x| *x *= 2.0);
            for (idx, ((c, r), m)) in got.iter().zip(&want).zip(&mag).enumerate() {
                let err = (f64::from(*c) - r).abs();
                assert!(
                    err <= 1e-5 * m + 1e-6,
                    "{} {g:?}: element {idx}: {c} vs {r}",
                    v.describe()
                );
            }
        }
    }
}

#[test]
fn simple_variant_matches_reference() {
    check_variant(GemmVariant::Simple { wg: 64 });
}

fn check_subgroup(v: GemmVariant) {
    let gpu = gpu();
    assert!(
        GemmVariant::candidates(&gpu).contains(&v),
        "lavapipe offers 8-lane subgroups; the subgroup GEMM must be covered here"
    );
    check_variant(v);
}

#[test]
fn subgroup_buffer_variant_matches_reference() {
    check_subgroup(GemmVariant::Subgroup {
        rm: 16,
        tex: false,
        ku: 1,
        atex: false,
        direct: false,
        transposed: false,
    });
}

#[test]
fn subgroup_texture_variant_matches_reference() {
    check_subgroup(GemmVariant::Subgroup {
        rm: 32,
        tex: true,
        ku: 1,
        atex: false,
        direct: false,
        transposed: false,
    });
}

#[test]
fn subgroup_texture_k4_variant_matches_reference() {
    check_subgroup(GemmVariant::Subgroup {
        rm: 16,
        tex: true,
        ku: 4,
        atex: false,
        direct: false,
        transposed: false,
    });
}

#[test]
fn subgroup_texture_k4_a_texture_variant_matches_reference() {
    check_subgroup(GemmVariant::Subgroup {
        rm: 32,
        tex: true,
        ku: 4,
        atex: true,
        direct: false,
        transposed: false,
    });
}

#[test]
fn subgroup_copied_variants_match_reference() {
    for (rm, transposed) in [(16, false), (16, true), (32, true)] {
        check_subgroup(GemmVariant::Subgroup {
            rm,
            tex: true,
            ku: 4,
            atex: true,
            direct: true,
            transposed,
        });
    }
}

#[test]
fn tiled_variant_matches_reference() {
    check_variant(GemmVariant::Tiled { tk: 8 });
}

#[test]
fn tuner_cache_round_trips() {
    let dir = std::env::temp_dir().join(format!("initscope-tune-{}", std::process::id()));
    let path = dir.join("nested").join("gemm-tune.json");
    let mut cache = TuneCache::new();
    let entry = TuneEntry {
        variant: GemmVariant::Subgroup {
            rm: 32,
            tex: true,
            ku: 4,
            atex: true,
            direct: true,
            transposed: false,
        },
        candidates: [
            ("subgroup(rm=32)".to_string(), 61.5),
            ("simple(wg=64)".to_string(), 12.0),
        ]
        .into_iter()
        .collect(),
        size: 1024,
    };
    cache.insert(
        "llvmpipe | Vulkan | llvmpipe Mesa 22.3.6".into(),
        entry.clone(),
    );
    cache.insert(
        "other | Metal | x".into(),
        TuneEntry {
            variant: GemmVariant::Tiled { tk: 16 },
            ..entry.clone()
        },
    );
    save(&path, &cache).unwrap();
    assert_eq!(load(&path), cache);
    // A corrupt or missing file reads as empty instead of failing.
    std::fs::write(&path, b"{not json").unwrap();
    assert!(load(&path).is_empty());
    assert!(load(&dir.join("missing.json")).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
