//! Philox4x32-10 (Random123) — the host twin of `shaders/philox.wgsl` — and
//! the counter layout that names *what* is drawn.
//!
//! # Contract (version 1; changing it changes every result)
//! * Key = the 64-bit seed: `key = [seed as u32, (seed >> 32) as u32]`.
//! * Counter = `[block, layer, role, repeat]`:
//!   - `block`: index of the 4-word block inside the tensor; element `e`
//!     of a tensor uses word `e % 4` of block `e / 4`;
//!   - `layer`: `module << 16 | index` ([`layer_word`]). Module 0 is a
//!     linear stack's layer `index`; for the row tensors drawn per batch
//!     (roles `Input` and `Target`) it is the *data step*: 0 at init and
//!     for every step of `data: "fixed"` training, k for the batch of step
//!     k of `data: "fresh"` training. Step 0 is therefore every existing
//!     stream unchanged, and (data step, `Input`) never collides with a
//!     parameter's (layer, `Weight`/`Bias`/...). Linear stacks' streams are
//!     those of version 1 unchanged. Residual
//!     stacks name each parameter by its module ([`module`]) and block index:
//!     `input_proj` (1, 0), `blocks.{i}.ff_norm` (2, i), `blocks.{i}.fc1`
//!     (3, i), `blocks.{i}.fc2` (4, i), `final_norm` (5, 0), and the
//!     embedding input (6, 0): its table with role `Weight`, its token ids
//!     with role `Input` (id of row r = ⌊word(r)·vocab / 2³²⌋, word r % 4
//!     of block r / 4);
//!   - `role`: which tensor of that layer ([`Role`]);
//!   - `repeat`: the repeat index of the run.
//! * u32 → uniform: `u = (x >> 8) · 2⁻²⁴ ∈ [0, 1)`; where a log follows,
//!   `u° = ((x >> 8) + 1) · 2⁻²⁴ ∈ (0, 1]`.
//! * Normals: Box–Muller on the word pairs (0,1) and (2,3) of a block:
//!   `r = √(−2 ln u°(x₀))`, `θ = 2π·u(x₁)`, `z₀ = r cos θ`, `z₁ = r sin θ`,
//!   evaluated in f32.
//! * Uniform on [a, b): `a + (b − a)·u` in f32; normal: `mean + std·z` in f32.
//!
//! Nothing about who draws (workgroup, thread, chunk) enters the counter, so
//! results do not depend on dispatch geometry, and an input batch depends only
//! on (seed, repeat, shape): compared schemes see the same underlying draws.

use rand_core::{RngCore, SeedableRng};

/// Philox multipliers and Weyl key increments (Random123).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// 2⁻²⁴, the spacing of the 24-bit uniform grid.
pub const UNIFORM_STEP: f32 = 1.0 / 16_777_216.0;

/// The Philox4x32-10 block function, bit-exact with Random123's `philox4x32_R(10, ctr, key)`.
///
/// ```
/// use initscope::rng::philox4x32_10;
/// // Random123's known-answer vectors.
/// assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
/// assert_eq!(
///     philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
///     [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
/// );
/// ```
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Which tensor of a layer a stream belongs to (counter word 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Role {
    Weight = 0,
    Bias = 1,
    Input = 2,
    Target = 3,
    /// The Gaussian matrix whose Householder reflectors build an orthogonal weight.
    OrthogonalSource = 4,
    /// Weights of the random teacher map of an `mse` loss with `target: teacher`.
    Teacher = 5,
    /// Row choice of `sparse` (which entries of each column are zeroed).
    SparseSelect = 6,
    /// Component choice of `mixture`.
    MixtureSelect = 7,
}

/// Module codes: the high 16 bits of counter word 1 (see the module docs).
pub mod module {
    /// A linear stack's layer; also the input batch, targets and teacher.
    pub const LAYER: u32 = 0;
    pub const INPUT_PROJ: u32 = 1;
    pub const FF_NORM: u32 = 2;
    pub const FC1: u32 = 3;
    pub const FC2: u32 = 4;
    pub const FINAL_NORM: u32 = 5;
    /// The embedding table (role `Weight`) and the token ids (role `Input`).
    pub const EMBEDDING: u32 = 6;
    /// A block's attention sublayer: its norm, the q, k and v thirds of
    /// in_proj_weight (in_proj_bias on Q's word with role `Bias`), out_proj.
    pub const ATTN_NORM: u32 = 7;
    pub const ATTN_Q: u32 = 8;
    pub const ATTN_K: u32 = 9;
    pub const ATTN_V: u32 = 10;
    pub const ATTN_OUT: u32 = 11;
}

/// Counter word 1 of a tensor of `module` at `index` (a block or layer
/// index below 2¹⁶).
pub const fn layer_word(module: u32, index: u32) -> u32 {
    (module << 16) | index
}

/// Token id of one Philox word for a vocabulary of `vocab` (multiply-high,
/// as `below` in `shaders/philox.wgsl`).
pub fn token_of(word: u32, vocab: u32) -> u32 {
    ((u64::from(word) * u64::from(vocab)) >> 32) as u32
}

/// A named stream: everything in the counter except the block index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream {
    pub layer: u32,
    pub role: Role,
    pub repeat: u32,
}

impl Stream {
    /// The counter of block `block` of this stream.
    pub fn counter(&self, block: u32) -> [u32; 4] {
        [block, self.layer, self.role as u32, self.repeat]
    }
}

/// The Philox key of a 64-bit seed.
pub fn key_of(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// u32 → [0, 1) on the 24-bit grid.
pub fn uniform01(x: u32) -> f32 {
    (x >> 8) as f32 * UNIFORM_STEP
}

/// u32 → (0, 1] on the 24-bit grid (safe under a logarithm).
pub fn uniform_open0(x: u32) -> f32 {
    ((x >> 8) + 1) as f32 * UNIFORM_STEP
}

/// Box–Muller on one word pair, in f32 as the GPU evaluates it.
pub fn box_muller(x0: u32, x1: u32) -> (f32, f32) {
    let r = (-2.0 * uniform_open0(x0).ln()).sqrt();
    let theta = std::f32::consts::TAU * uniform01(x1);
    (r * theta.cos(), r * theta.sin())
}

/// The four standard normals of one Philox block.
pub fn normals_of_block(w: [u32; 4]) -> [f32; 4] {
    let (a, b) = box_muller(w[0], w[1]);
    let (c, d) = box_muller(w[2], w[3]);
    [a, b, c, d]
}

/// The first `n` raw words of a stream (element `e` = word `e % 4` of block `e / 4`).
pub fn stream_u32(seed: u64, stream: Stream, n: usize) -> Vec<u32> {
    let key = key_of(seed);
    let mut out = Vec::with_capacity(n + 3);
    for block in 0..n.div_ceil(4) {
        out.extend_from_slice(&philox4x32_10(stream.counter(block as u32), key));
    }
    out.truncate(n);
    out
}

/// The first `n` values of U[a, b) from a stream, exactly as the GPU computes them.
pub fn stream_uniform(seed: u64, stream: Stream, n: usize, a: f32, b: f32) -> Vec<f32> {
    stream_u32(seed, stream, n)
        .into_iter()
        .map(|x| a + (b - a) * uniform01(x))
        .collect()
}

/// The first `n` values of N(mean, std²) from a stream (f32 Box–Muller).
pub fn stream_normal(seed: u64, stream: Stream, n: usize, mean: f32, std: f32) -> Vec<f32> {
    let key = key_of(seed);
    let mut out = Vec::with_capacity(n + 3);
    for block in 0..n.div_ceil(4) {
        let z = normals_of_block(philox4x32_10(stream.counter(block as u32), key));
        out.extend(z.iter().map(|z| mean + std * z));
    }
    out.truncate(n);
    out
}

/// A Philox generator over a counter stream, for the rand ecosystem.
///
/// The 64-bit block index runs through counter words 0 (low) and 1 (high);
/// words 2 and 3 are fixed by [`PhiloxRng::with_stream_words`]. Seeded with
/// [`SeedableRng::from_seed`] (8 little-endian bytes = the 64-bit key) it
/// starts at block 0 of stream words (0, 0).
#[derive(Debug, Clone)]
pub struct PhiloxRng {
    key: [u32; 2],
    block: u64,
    words: [u32; 2],
    buf: [u32; 4],
    used: usize,
}

impl PhiloxRng {
    /// A generator keyed by `seed`, at block 0 of stream words `(w2, w3)`.
    pub fn with_stream_words(seed: u64, w2: u32, w3: u32) -> Self {
        PhiloxRng {
            key: key_of(seed),
            block: 0,
            words: [w2, w3],
            buf: [0; 4],
            used: 4,
        }
    }

    /// Jumps to a block index; the next word is word 0 of that block.
    pub fn seek_block(&mut self, block: u64) {
        self.block = block;
        self.used = 4;
    }

    fn refill(&mut self) {
        let ctr = [
            self.block as u32,
            (self.block >> 32) as u32,
            self.words[0],
            self.words[1],
        ];
        self.buf = philox4x32_10(ctr, self.key);
        self.block = self.block.wrapping_add(1);
        self.used = 0;
    }
}

impl RngCore for PhiloxRng {
    fn next_u32(&mut self) -> u32 {
        if self.used == 4 {
            self.refill();
        }
        let w = self.buf[self.used];
        self.used += 1;
        w
    }

    fn next_u64(&mut self) -> u64 {
        let lo = u64::from(self.next_u32());
        let hi = u64::from(self.next_u32());
        lo | (hi << 32)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(4) {
            let w = self.next_u32().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

impl SeedableRng for PhiloxRng {
    type Seed = [u8; 8];

    fn from_seed(seed: Self::Seed) -> Self {
        PhiloxRng::with_stream_words(u64::from_le_bytes(seed), 0, 0)
    }

    fn seed_from_u64(state: u64) -> Self {
        PhiloxRng::with_stream_words(state, 0, 0)
    }
}

/// Where a tensor's random numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub seed: u64,
    pub stream: Stream,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random123_known_answers() {
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn rng_core_walks_the_counter_stream() {
        let mut r = PhiloxRng::seed_from_u64(7);
        let words: Vec<u32> = (0..8).map(|_| r.next_u32()).collect();
        let b0 = philox4x32_10([0, 0, 0, 0], key_of(7));
        let b1 = philox4x32_10([1, 0, 0, 0], key_of(7));
        assert_eq!(&words[..4], &b0);
        assert_eq!(&words[4..], &b1);
        let mut bytes = [0u8; 6];
        PhiloxRng::from_seed(7u64.to_le_bytes()).fill_bytes(&mut bytes);
        assert_eq!(&bytes[..4], &b0[0].to_le_bytes());
        assert_eq!(&bytes[4..], &b0[1].to_le_bytes()[..2]);
        // The rand ecosystem works on top of it.
        use rand::Rng;
        let x: f64 = PhiloxRng::seed_from_u64(1).random();
        assert!((0.0..1.0).contains(&x));
    }

    #[test]
    fn uniform_mapping_edges() {
        assert_eq!(uniform01(0), 0.0);
        assert_eq!(uniform01(u32::MAX), 1.0 - UNIFORM_STEP);
        assert_eq!(uniform_open0(0), UNIFORM_STEP);
        assert_eq!(uniform_open0(u32::MAX), 1.0);
        let (z0, z1) = box_muller(u32::MAX, 0);
        assert_eq!((z0, z1), (0.0, 0.0));
    }
}
