//! The host twin of the GPU's elementwise init fill (tests only): uniform-type
//! values are bit-identical to the GPU's; normal-type ones differ by
//! transcendental ulps.

use initscope::init::Component;
use initscope::kernels::init::GpuComp;
use initscope::rng::{Draw, key_of};

/// The elementwise fill of `n` elements, as the GPU computes it.
pub fn host_elementwise(parts: &[(f64, Component)], n: usize, draw: Draw) -> Vec<f32> {
    use initscope::rng::{normals_of_block, philox4x32_10, uniform01};
    let key = key_of(draw.seed);
    let rows: Vec<GpuComp> = {
        let mut cum = 0.0;
        parts
            .iter()
            .map(|(w, c)| {
                cum += w;
                c.gpu_row(cum)
            })
            .collect()
    };
    let mut out = Vec::with_capacity(n);
    for e in 0..n {
        let (block, lane) = ((e / 4) as u32, e % 4);
        let w = philox4x32_10(draw.stream.counter(block), key);
        let mut k = 0;
        if rows.len() > 1 {
            let mut c = draw.stream.counter(block);
            c[2] += 256;
            let u = uniform01(philox4x32_10(c, key)[lane]);
            while k + 1 < rows.len() && u >= rows[k].cum {
                k += 1;
            }
        }
        let r = rows[k];
        out.push(match r.mode {
            0 => r.p[0],
            1 => r.p[0] + (r.p[1] - r.p[0]) * uniform01(w[lane]),
            2 => r.p[0] + r.p[1] * normals_of_block(w)[lane],
            _ => {
                let x = r.p[4] + (r.p[5] - r.p[4]) * uniform01(w[lane]);
                (erfinv_f32(x) * (r.p[1] * std::f32::consts::SQRT_2) + r.p[0]).clamp(r.p[2], r.p[3])
            }
        });
    }
    out
}

/// The same single-precision erfinv as `shaders/init.wgsl` (Giles 2010).
// The coefficients are Giles' published ones, written exactly as in the shader.
#[allow(clippy::excessive_precision)]
pub fn erfinv_f32(x: f32) -> f32 {
    let mut w = -((1.0 - x) * (1.0 + x)).ln();
    let q = if w < 5.0 {
        w -= 2.5;
        [
            3.43273939e-07,
            -3.5233877e-06,
            -4.39150654e-06,
            0.00021858087,
            -0.00125372503,
            -0.00417768164,
            0.246640727,
            1.50140941,
        ]
        .iter()
        .fold(2.81022636e-08f32, |q, c| c + q * w)
    } else {
        w = w.sqrt() - 3.0;
        [
            0.000100950558,
            0.00134934322,
            -0.00367342844,
            0.00573950773,
            -0.0076224613,
            0.00943887047,
            1.00167406,
            2.83297682,
        ]
        .iter()
        .fold(-0.000200214257f32, |q, c| c + q * w)
    };
    q * x
}
