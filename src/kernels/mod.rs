//! One module per shader family under `shaders/`: each owns its `#[repr(C)]`
//! parameters, its bindings and its encode functions.

pub mod activation;
pub mod attention;
pub mod embed;
pub mod gemm;
pub mod init;
pub mod jacobian;
pub mod loss;
pub mod norm;
pub mod optim;
pub mod orthogonal;
pub mod philox;
pub mod qr;
pub mod reduce;
pub mod residual;
pub(crate) mod scratch;
pub mod symmetry;
pub mod units;
