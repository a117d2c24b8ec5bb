// Activations and their exact derivatives, elementwise. The opcodes
// (`const ACT_TANH: u32 = 1u;` ...) are generated from the activation table
// in src/activation/table.rs and prepended to this file; `param` is
// leaky_relu's slope or elu's alpha. Care is taken where f32 formulas go wrong: tanh of large
// arguments, exp(x) - 1 near 0.

struct ActParams {
    n: u32,
    op: u32,
    param: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> ap: ActParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;

override WG: u32 = 64u;

const SELU_ALPHA: f32 = 1.6732632423543772;
const SELU_SCALE: f32 = 1.0507009873554805;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

fn tanh_safe(x: f32) -> f32 {
    // tanh(15) rounds to 1 in f32; clamping avoids inf/inf in exp-based tanh.
    return tanh(clamp(x, -15.0, 15.0));
}

fn expm1_f(x: f32) -> f32 {
    if (abs(x) < 1e-2) {
        return x * (1.0 + x * (0.5 + x * (0.16666667 + x * 0.041666668)));
    }
    return exp(x) - 1.0;
}

// erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit).
fn erf_f(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277)))))))));
    return select(r - 1.0, 1.0 - r, x >= 0.0);
}

fn sigmoid_f(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn act_f(x: f32) -> f32 {
    switch ap.op {
        case ACT_IDENTITY, default: { return x; }
        case ACT_TANH: { return tanh_safe(x); }
        case ACT_RELU: { return max(x, 0.0); }
        case ACT_LEAKY_RELU: { return select(ap.param * x, x, x > 0.0); }
        case ACT_GELU: { return 0.5 * x * (1.0 + erf_f(x * INV_SQRT_2)); }
        case ACT_GELU_TANH: { return 0.5 * x * (1.0 + tanh_safe(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))); }
        case ACT_SILU: { return x * sigmoid_f(x); }
        case ACT_SIGMOID: { return sigmoid_f(x); }
        case ACT_SELU: { return select(SELU_SCALE * SELU_ALPHA * expm1_f(x), SELU_SCALE * x, x > 0.0); }
        case ACT_ELU: { return select(ap.param * expm1_f(x), x, x > 0.0); }
    }
}

fn act_d(x: f32) -> f32 {
    switch ap.op {
        case ACT_IDENTITY, default: { return 1.0; }
        case ACT_TANH: { let t = tanh_safe(x); return 1.0 - t * t; }
        case ACT_RELU: { return select(0.0, 1.0, x > 0.0); }
        case ACT_LEAKY_RELU: { return select(ap.param, 1.0, x > 0.0); }
        case ACT_GELU: {
            return 0.5 * (1.0 + erf_f(x * INV_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
        }
        case ACT_GELU_TANH: {
            let t = tanh_safe(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 0.134145 * x * x);
        }
        case ACT_SILU: { let s = sigmoid_f(x); return s * (1.0 + x * (1.0 - s)); }
        case ACT_SIGMOID: { let s = sigmoid_f(x); return s * (1.0 - s); }
        case ACT_SELU: { return select(SELU_SCALE * SELU_ALPHA * exp(x), SELU_SCALE, x > 0.0); }
        case ACT_ELU: { return select(ap.param * exp(x), 1.0, x > 0.0); }
    }
}

// Elements per invocation: lavapipe's per-invocation overhead dominates
// one element per invocation.
const EPT: u32 = 16u;

fn first_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return ((wid.y * nwg.x + wid.x) * WG + lid) * EPT;
}

// dst = act(src)
@compute @workgroup_size(WG)
fn act_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e0 = first_index(wid, nwg, lid);
    for (var e = e0; e < min(e0 + EPT, ap.n); e++) {
        dst[e] = act_f(src[e]);
    }
}

// dst = grad * act'(src)   (src = preactivation)
@compute @workgroup_size(WG)
fn act_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let e0 = first_index(wid, nwg, lid);
    for (var e = e0; e < min(e0 + EPT, ap.n); e++) {
        dst[e] = grad[e] * act_d(src[e]);
    }
}
