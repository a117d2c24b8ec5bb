//! The optimizer kernels (`shaders/optim.wgsl`): one update of one parameter
//! tensor in place, leaving the update `w_new − w_old` in the gradient's
//! buffer for the training records.

use crate::gpu::{Gpu, GpuError, Shader};
use crate::train::Optimizer;

const WG: u32 = 64;
/// Elements per invocation (optim.wgsl's EPT).
const EPT: u32 = 16;

/// `OptimParams` of optim.wgsl (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct OptimParams {
    pub n: u32,
    pub first: u32,
    pub nesterov: u32,
    pub decoupled: u32,
    pub lr: f32,
    pub wd: f32,
    pub momentum: f32,
    pub dampening: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub step_size: f32,
    pub bc2_sqrt: f32,
    pub pad: [u32; 3],
}

/// One update: which entry point, with which parameters.
#[derive(Debug, Clone, Copy)]
pub struct Update {
    pub entry: &'static str,
    pub params: OptimParams,
    /// State tensors the entry point binds (0, 1 or 2).
    pub state: usize,
}

/// The update number `t` (1 for the first) of an `n`-element tensor by
/// `opt` with learning rate `lr` (schedule and multipliers applied).
pub fn update(opt: &Optimizer, n: usize, lr: f64, t: u32) -> Update {
    let mut p = OptimParams {
        n: n as u32,
        first: u32::from(t <= 1),
        nesterov: 0,
        decoupled: 0,
        lr: lr as f32,
        wd: 0.0,
        momentum: 0.0,
        dampening: 0.0,
        beta1: 0.0,
        beta2: 0.0,
        eps: 0.0,
        step_size: 0.0,
        bc2_sqrt: 1.0,
        pad: [0; 3],
    };
    match *opt {
        Optimizer::Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
            ..
        } => {
            p.wd = weight_decay as f32;
            if momentum == 0.0 {
                return Update {
                    entry: "sgd",
                    params: p,
                    state: 0,
                };
            }
            p.momentum = momentum as f32;
            p.dampening = dampening as f32;
            p.nesterov = u32::from(nesterov);
            Update {
                entry: "sgd_momentum",
                params: p,
                state: 1,
            }
        }
        Optimizer::Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            ..
        } => {
            // torch computes the bias corrections in Python floats (f64).
            let t = i32::try_from(t.max(1)).unwrap_or(i32::MAX);
            p.wd = weight_decay as f32;
            p.decoupled = u32::from(decoupled);
            p.beta1 = beta1 as f32;
            p.beta2 = beta2 as f32;
            p.eps = eps as f32;
            p.step_size = (lr / (1.0 - beta1.powi(t))) as f32;
            p.bc2_sqrt = (1.0 - beta2.powi(t)).sqrt() as f32;
            Update {
                entry: "adam",
                params: p,
                state: 2,
            }
        }
    }
}

/// Records `u` on parameter `w` with gradient `g` and the state tensors the
/// update needs (`state[..u.state]`).
pub fn encode_update(
    gpu: &Gpu,
    enc: &mut wgpu::CommandEncoder,
    u: &Update,
    w: &wgpu::Buffer,
    g: &wgpu::Buffer,
    state: &[wgpu::Buffer],
) -> Result<(), GpuError> {
    if state.len() < u.state {
        return Err(GpuError::Device(format!(
            "internal error: {} needs {} state tensors, {} allocated",
            u.entry,
            u.state,
            state.len()
        )));
    }
    let pipe = gpu.pipeline(Shader::Optim, u.entry, &[("WG", f64::from(WG))], false)?;
    let uni = gpu.uniform("optimizer params", &u.params);
    let mut res = vec![
        (0, uni.as_entire_binding()),
        (1, w.as_entire_binding()),
        (2, g.as_entire_binding()),
    ];
    for (i, s) in state.iter().take(u.state).enumerate() {
        res.push((3 + i as u32, s.as_entire_binding()));
    }
    let group = gpu.bind_at(&pipe, u.entry, &res);
    gpu.dispatch_pass(enc, u.entry, &pipe, &group, u.params.n.div_ceil(WG * EPT));
    Ok(())
}
