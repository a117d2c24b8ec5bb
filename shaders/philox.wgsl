// Philox4x32-10 (Random123) and the documented float mappings; the host twin
// is src/rng.rs. Joined after a `mulhilo` implementation on the host.
//
// Counter = (block, layer, role, repeat), key = (seed lo, seed hi).
// Element e of a tensor is word e % 4 of block e / 4.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;
const UNIFORM_STEP: f32 = 5.9604644775390625e-8; // 2^-24
const TAU: f32 = 6.2831854820251465; // f32(2*pi), as Rust's f32::consts::TAU

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
        }
        let p0 = mulhilo(PHILOX_M0, c.x);
        let p1 = mulhilo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// u32 -> [0, 1) on the 24-bit grid.
fn uniform01(x: u32) -> f32 {
    return f32(x >> 8u) * UNIFORM_STEP;
}

// u32 -> (0, 1], safe under a logarithm.
fn uniform_open0(x: u32) -> f32 {
    return f32((x >> 8u) + 1u) * UNIFORM_STEP;
}

// Box-Muller on one word pair.
fn box_muller(x0: u32, x1: u32) -> vec2<f32> {
    let r = sqrt(-2.0 * log(uniform_open0(x0)));
    let theta = TAU * uniform01(x1);
    return vec2<f32>(r * cos(theta), r * sin(theta));
}

// The four standard normals of one block.
fn normals4(w: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(box_muller(w.x, w.y), box_muller(w.z, w.w));
}

// Uniform integer in [0, n) from one word (multiply-high; bias < n / 2^32).
fn below(x: u32, n: u32) -> u32 {
    return mulhilo(x, n).x;
}
