//! The f64 oracle of multi-head self-attention (torch's
//! nn.MultiheadAttention core between in_proj and out_proj): per sequence
//! of `seq` rows and head, logits l = scale·q·k (causal: keys up to the
//! query), P = softmax(l) with the max subtracted, y = P·V; backward
//! dP = dY·Vᵀ, dl = P ⊙ (dP − Σ P·dP), dQ = scale·dl·K, dK = scale·dlᵀ·Q,
//! dV = Pᵀ·dY. Everything from the tensors handed in.

/// The shape of one attention op.
#[derive(Debug, Clone, Copy)]
pub struct Attn {
    pub rows: usize,
    pub width: usize,
    pub heads: usize,
    pub seq: usize,
    pub causal: bool,
    pub scale: f64,
}

impl Attn {
    fn dh(&self) -> usize {
        self.width / self.heads
    }

    /// Keys the query at position `p` sees.
    fn keys(&self, p: usize) -> usize {
        if self.causal { p + 1 } else { self.seq }
    }

    /// q (part 0), k (1) or v (2) of row `r`, head `h`, feature `d`.
    fn at(&self, qkv: &[f64], part: usize, r: usize, h: usize, d: usize) -> f64 {
        qkv[r * 3 * self.width + part * self.width + h * self.dh() + d]
    }

    /// The logits of query row `r`, head `h`, over its visible keys.
    pub fn logits(&self, qkv: &[f64], r: usize, h: usize) -> Vec<f64> {
        let (p, s0) = (r % self.seq, r - r % self.seq);
        (0..self.keys(p))
            .map(|j| {
                let dot: f64 = (0..self.dh())
                    .map(|d| self.at(qkv, 0, r, h, d) * self.at(qkv, 1, s0 + j, h, d))
                    .sum();
                self.scale * dot
            })
            .collect()
    }

    /// softmax over `seq` keys (0 where masked), row `r`, head `h`.
    pub fn probs_row(&self, qkv: &[f64], r: usize, h: usize) -> Vec<f64> {
        let l = self.logits(qkv, r, h);
        let m = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = l.iter().map(|v| (v - m).exp()).collect();
        let z: f64 = e.iter().sum();
        let mut p: Vec<f64> = e.iter().map(|v| v / z).collect();
        p.resize(self.seq, 0.0);
        p
    }
}

/// (y rows × width, probs rows × heads·seq, per (row, head) [mean, M2,
/// entropy] of the logits: rows × 3·heads).
pub fn forward(qkv: &[f64], a: &Attn) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (w, dh) = (a.width, a.dh());
    let mut y = vec![0.0; a.rows * w];
    let mut probs = Vec::with_capacity(a.rows * a.heads * a.seq);
    let mut stats = Vec::with_capacity(a.rows * 3 * a.heads);
    for r in 0..a.rows {
        let s0 = r - r % a.seq;
        for h in 0..a.heads {
            let p = a.probs_row(qkv, r, h);
            for d in 0..dh {
                y[r * w + h * dh + d] = (0..a.seq).map(|j| p[j] * a.at(qkv, 2, s0 + j, h, d)).sum();
            }
            let l = a.logits(qkv, r, h);
            let n = l.len() as f64;
            let mean = l.iter().sum::<f64>() / n;
            let m2 = l.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
            let ent = -p
                .iter()
                .filter(|v| **v > 0.0)
                .map(|v| v * v.ln())
                .sum::<f64>();
            stats.extend([mean, m2, ent]);
            probs.extend(p);
        }
    }
    (y, probs, stats)
}

/// d[q | k | v] (rows × 3·width) from dY.
pub fn backward(qkv: &[f64], dy: &[f64], a: &Attn) -> Vec<f64> {
    let (w, dh) = (a.width, a.dh());
    let mut g = vec![0.0; a.rows * 3 * w];
    for r in 0..a.rows {
        let s0 = r - r % a.seq;
        for h in 0..a.heads {
            let p = a.probs_row(qkv, r, h);
            let dp: Vec<f64> = (0..a.seq)
                .map(|j| {
                    (0..dh)
                        .map(|d| dy[r * w + h * dh + d] * a.at(qkv, 2, s0 + j, h, d))
                        .sum()
                })
                .collect();
            let dot: f64 = p.iter().zip(&dp).map(|(p, d)| p * d).sum();
            for j in 0..a.seq {
                let dl = a.scale * p[j] * (dp[j] - dot);
                for d in 0..dh {
                    g[r * 3 * w + h * dh + d] += dl * a.at(qkv, 1, s0 + j, h, d);
                    g[(s0 + j) * 3 * w + w + h * dh + d] += dl * a.at(qkv, 0, r, h, d);
                    g[(s0 + j) * 3 * w + 2 * w + h * dh + d] += p[j] * dy[r * w + h * dh + d];
                }
            }
        }
    }
    g
}
