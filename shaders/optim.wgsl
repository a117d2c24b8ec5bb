// Optimizer updates, one parameter tensor per dispatch, with torch.optim's
// formulas (single-tensor implementation, maximize=False, amsgrad=False).
// Each invocation reads the gradient g and leaves in its place the update
// w_new - w_old, whose norm the training records reduce on the GPU.

struct OptimParams {
    n: u32,
    first: u32,      // 1 on the first update: SGD's momentum buffer is the gradient itself
    nesterov: u32,
    decoupled: u32,  // AdamW: decay the weight instead of adding wd*w to the gradient
    lr: f32,
    wd: f32,
    momentum: f32,
    dampening: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,  // lr / (1 - beta1^t)
    bc2_sqrt: f32,   // sqrt(1 - beta2^t)
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> op: OptimParams;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;  // momentum buffer / exp_avg
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;  // exp_avg_sq

override WG: u32 = 64u;
// Elements per invocation: one element per invocation is dominated by
// per-invocation overhead on CPU adapters.
const EPT: u32 = 16u;

fn first_elem(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return ((wid.y * nwg.x + wid.x) * WG + lid) * EPT;
}

// The gradient with L2 weight decay (SGD, Adam): d_p = grad + wd * param.
fn decayed(grad: f32, old: f32) -> f32 {
    if (op.wd != 0.0) {
        return grad + op.wd * old;
    }
    return grad;
}

// SGD without momentum: param -= lr * d_p.
@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let e0 = first_elem(wid, nwg, lid);
    for (var e = e0; e < min(e0 + EPT, op.n); e++) {
        let old = w[e];
        let updated = old - op.lr * decayed(g[e], old);
        w[e] = updated;
        g[e] = updated - old;
    }
}

// SGD with momentum: buf = d_p on the first step, else
// buf = momentum * buf + (1 - dampening) * d_p; nesterov: d_p += momentum * buf,
// else d_p = buf; param -= lr * d_p.
@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let e0 = first_elem(wid, nwg, lid);
    for (var e = e0; e < min(e0 + EPT, op.n); e++) {
        let old = w[e];
        var d = decayed(g[e], old);
        var buf = d;
        if (op.first == 0u) {
            buf = op.momentum * s1[e] + (1.0 - op.dampening) * d;
        }
        s1[e] = buf;
        if (op.nesterov != 0u) {
            d = d + op.momentum * buf;
        } else {
            d = buf;
        }
        let updated = old - op.lr * d;
        w[e] = updated;
        g[e] = updated - old;
    }
}

// Adam / AdamW: m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
// param -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps). AdamW first
// multiplies the param by 1 - lr * wd and adds no decay to the gradient.
@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e0 = first_elem(wid, nwg, lid);
    for (var e = e0; e < min(e0 + EPT, op.n); e++) {
        let old = w[e];
        var p = old;
        var grad = g[e];
        if (op.decoupled != 0u) {
            p = p * (1.0 - op.lr * op.wd);
        } else {
            grad = decayed(grad, old);
        }
        let m = s1[e] + (grad - s1[e]) * (1.0 - op.beta1);
        let v = op.beta2 * s2[e] + (1.0 - op.beta2) * grad * grad;
        s1[e] = m;
        s2[e] = v;
        let denom = sqrt(v) / op.bc2_sqrt + op.eps;
        let updated = p - op.step_size * (m / denom);
        w[e] = updated;
        g[e] = updated - old;
    }
}
