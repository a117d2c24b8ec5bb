//! One residual block: (norm,) fc1, activation, fc2, (scale,) add (, norm),
//! its scratch slots and its statistics.

use super::Builder;
use super::residual::{norm_op, pid};
use crate::init::InitError;
use crate::model::residual::{BlockInfo, NormPosition, ResidualSpec, Scales};
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

    /// y = norm(x) with the block's ff_norm.
    fn norm(&mut self, x: ActId, y: ActId, w: ParamId) {
        let bias = self.param("ff_norm.bias");
        norm_op(self.b, self.spec, &self.name("ff_norm"), x, y, w, bias);
    }

    /// a·FF(x) = a·fc2(act(fc1(x))); returns (a·FF, fc1 weight, fc2 weight).
    fn branch(&mut self, x: ActId, a: f64) -> Result<(ActId, ParamId, ParamId), InitError> {
        let missing = |n| InitError(format!("internal error: block {} has no {n}", self.i));
        let w1 = self.param("fc1.weight").ok_or_else(|| missing("fc1"))?;
        let w2 = self.param("fc2.weight").ok_or_else(|| missing("fc2"))?;
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
        if a == 1.0 {
            return Ok((f, w1, w2));
        }
        let g = self.inner("branch", d);
        self.b.ops.push(Op::Scale {
            x: f,
            y: g,
            factor: a as f32,
        });
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
    let norm_w = blk.param("ff_norm.weight");
    let (pre, post) = match norm_w {
        Some(w) if position == NormPosition::Pre => (Some(w), None),
        Some(w) => (None, Some(w)),
        None => (None, None),
    };
    let mut h_in = x;
    if let Some(w) = pre {
        h_in = blk.inner("ff_norm.out", spec.width);
        blk.norm(x, h_in, w);
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
        blk.norm(sum, out, w);
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
    Ok(BlockInfo {
        index: i,
        stream: out,
        branch,
        norm: norm_w,
        fc1,
        fc2,
    })
}
