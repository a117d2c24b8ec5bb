//! One residual block: (norm,) fc1, activation, fc2, (scale,) add (, norm),
//! after an attention sublayer of the same form when the stack has one
//! ((norm,) in_proj, attention, out_proj, (scale,) add (, norm)), its
//! scratch slots and its statistics.
//!
//! Scratch slots: each sublayer's chain alternates slots 0 and 1; the
//! stream between the two sublayers (h) keeps its gradient in slot 3, as
//! both the feed-forward chain and the skip write it; attention's backward
//! works in slot 2.

use super::Builder;
use super::residual::{norm_op, pid};
use crate::init::InitError;
use crate::model::residual::{
    AttentionSpec, AttnInfo, BlockInfo, NormPosition, ResidualSpec, Scales,
};
use crate::model::*;

/// A block under construction.
struct Block<'a> {
    b: &'a mut Builder,
    spec: &'a ResidualSpec,
    i: usize,
    /// Tensors inside the block, in forward order: their gradients live in
    /// the scratch slots.
    chain: Vec<ActId>,
}

impl Block<'_> {
    fn name(&self, n: &str) -> String {
        format!("blocks.{}.{n}", self.i)
    }

    fn param(&self, n: &str) -> Option<ParamId> {
        pid(self.b, &self.name(n))
    }

    /// A tensor inside the block (slot assigned at the end).
    fn inner(&mut self, n: &str, cols: usize) -> ActId {
        let label = self.name(n);
        let id = self.b.act(
            label.clone(),
            format!("grad {label}"),
            cols,
            GradStore::Scratch(0),
        );
        self.chain.push(id);
        id
    }

    /// The block's output, whose gradient is stored (recorded, and read by
    /// the next block's two consumers).
    fn stream(&mut self) -> ActId {
        let label = format!("stream[{}]", self.i);
        let grad = format!("grad {label}");
        self.b.act(label, grad, self.spec.width, GradStore::Full)
    }

    /// y = norm(x) with the block's `which` norm (ff_norm, attn_norm).
    fn norm(&mut self, which: &str, x: ActId, y: ActId, w: ParamId) {
        let bias = self.param(&format!("{which}.bias"));
        norm_op(self.b, self.spec, &self.name(which), x, y, w, bias);
    }

    fn need(&self, n: &str) -> Result<ParamId, InitError> {
        self.param(n)
            .ok_or_else(|| InitError(format!("internal error: block {} has no {n}", self.i)))
    }

    /// y = a·x as an op, unless a = 1 (then x itself).
    fn scaled(&mut self, x: ActId, a: f64, n: &str) -> ActId {
        if a == 1.0 {
            return x;
        }
        let g = self.inner(n, self.spec.width);
        self.b.ops.push(Op::Scale {
            x,
            y: g,
            factor: a as f32,
        });
        g
    }

    /// The attention sublayer reading the stream `x`; returns h (the stream
    /// the feed-forward sublayer reads) and what the records need.
    fn attention(
        &mut self,
        x: ActId,
        att: AttentionSpec,
        position: NormPosition,
        scales: Scales,
    ) -> Result<(ActId, AttnInfo), InitError> {
        let d = self.spec.width;
        let norm_w = self.param("attn_norm.weight");
        let mut a_in = x;
        if let (Some(w), NormPosition::Pre) = (norm_w, position) {
            a_in = self.inner("attn_norm.out", d);
            self.norm("attn_norm", x, a_in, w);
        }
        let w_in = self.need("attn.in_proj_weight")?;
        let w_out = self.need("attn.out_proj.weight")?;
        let qkv = self.inner("attn.qkv", 3 * d);
        let b_in = self.param("attn.in_proj_bias");
        self.b.ops.push(Op::Linear {
            x: a_in,
            y: qkv,
            w: w_in,
            b: b_in,
        });
        let ctx = self.inner("attn.heads", d);
        let (probs, stats) = (self.name("attn.probs"), self.name("attn.logit stats"));
        let cols = att.heads * att.seq_len;
        let work = format!("{probs} backward");
        let probs = self.b.act(probs, work, cols, GradStore::Scratch(2));
        let stats = self
            .b
            .act(stats, String::new(), 3 * att.heads, GradStore::None);
        self.b.ops.push(Op::Attention {
            qkv,
            y: ctx,
            probs,
            stats,
            heads: att.heads,
            seq: att.seq_len,
            causal: att.causal,
            scale: att.scale as f32,
        });
        let o = self.inner("attn.out_proj.out", d);
        let b_out = self.param("attn.out_proj.bias");
        self.b.ops.push(Op::Linear {
            x: ctx,
            y: o,
            w: w_out,
            b: b_out,
        });
        let branch = self.scaled(o, scales.branch, "attn.branch");
        let label = self.name("attn.stream");
        let grad = format!("grad {label}");
        let h = self.b.act(label, grad, d, GradStore::Scratch(3));
        let (sum, post) = match (norm_w, position) {
            (Some(w), NormPosition::Post) => (self.inner("attn.sum", d), Some(w)),
            _ => (h, None),
        };
        self.b.ops.push(Op::Add {
            skip: x,
            branch,
            y: sum,
            skip_scale: scales.skip as f32,
        });
        if let Some(w) = post {
            self.norm("attn_norm", sum, h, w);
        }
        self.assign_slots();
        self.chain.clear();
        let mut params = vec![w_in];
        params.extend(b_in);
        params.push(w_out);
        params.extend(self.param("attn.out_proj.bias"));
        let info = AttnInfo {
            branch,
            stats,
            params,
            ff_params: Vec::new(),
        };
        Ok((h, info))
    }

    /// a·FF(x) = a·fc2(act(fc1(x))); returns (a·FF, fc1 weight, fc2 weight).
    fn branch(&mut self, x: ActId, a: f64) -> Result<(ActId, ParamId, ParamId), InitError> {
        let w1 = self.need("fc1.weight")?;
        let w2 = self.need("fc2.weight")?;
        let (d, ff) = (self.spec.width, self.spec.ff_width);
        let h = self.inner("fc1.out", ff);
        let b1 = self.param("fc1.bias");
        self.b.ops.push(Op::Linear {
            x,
            y: h,
            w: w1,
            b: b1,
        });
        let act = self.inner("act", ff);
        let kind = self.spec.activation;
        self.b.ops.push(Op::Activation {
            x: h,
            y: act,
            act: kind,
        });
        let f = self.inner("fc2.out", d);
        let b2 = self.param("fc2.bias");
        self.b.ops.push(Op::Linear {
            x: act,
            y: f,
            w: w2,
            b: b2,
        });
        let g = self.scaled(f, a, "branch");
        Ok((g, w1, w2))
    }

    /// An op reads its output's gradient and writes its input's: neighbours
    /// along the chain alternate slots, counted back from the stream.
    fn assign_slots(&mut self) {
        let n = self.chain.len();
        for (k, id) in self.chain.iter().enumerate() {
            self.b.acts[id.0].grad = GradStore::Scratch(((n - 1 - k) % 2) as u8);
        }
    }
}

/// Block `i` reading the stream `x`; returns what its records need.
pub(super) fn block(
    b: &mut Builder,
    spec: &ResidualSpec,
    i: usize,
    x: ActId,
    position: NormPosition,
    scales: Scales,
) -> Result<BlockInfo, InitError> {
    let mut blk = Block {
        b,
        spec,
        i,
        chain: Vec::new(),
    };
    let mut attn = None;
    let mut x = x;
    if let Some(att) = spec.attention {
        let (h, info) = blk.attention(x, att, position, scales)?;
        x = h;
        attn = Some(info);
    }
    let norm_w = blk.param("ff_norm.weight");
    let (pre, post) = match norm_w {
        Some(w) if position == NormPosition::Pre => (Some(w), None),
        Some(w) => (None, Some(w)),
        None => (None, None),
    };
    let mut h_in = x;
    if let Some(w) = pre {
        h_in = blk.inner("ff_norm.out", spec.width);
        blk.norm("ff_norm", x, h_in, w);
    }
    let (branch, fc1, fc2) = blk.branch(h_in, scales.branch)?;
    let sum = if post.is_some() {
        blk.inner("sum", spec.width)
    } else {
        blk.stream()
    };
    let skip_scale = scales.skip as f32;
    blk.b.ops.push(Op::Add {
        skip: x,
        branch,
        y: sum,
        skip_scale,
    });
    let mut out = sum;
    if let Some(w) = post {
        out = blk.stream();
        blk.norm("ff_norm", sum, out, w);
    }
    blk.assign_slots();
    let key = |f| StatKey::Block(i, f);
    b.stat(key(BlockField::Stream), StatSource::Act(out), false, false);
    b.stat(
        key(BlockField::GradStream),
        StatSource::Grad(out),
        false,
        false,
    );
    b.stat(
        key(BlockField::FfBranch),
        StatSource::Act(branch),
        false,
        false,
    );
    if let Some(a) = &mut attn {
        b.stat(
            key(BlockField::AttnBranch),
            StatSource::Act(a.branch),
            false,
            false,
        );
        let names = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"];
        let ff = names.map(|n| pid(b, &format!("blocks.{i}.{n}")));
        a.ff_params = ff.into_iter().flatten().collect();
    }
    Ok(BlockInfo {
        index: i,
        stream: out,
        branch,
        norm: norm_w,
        fc1,
        fc2,
        attn,
    })
}
