//! initscope: weight-initialization and gradient-flow experiments on the GPU.
//!
//! A JSON manifest describes deep stacks of linear layers and what to compare;
//! WGSL compute shaders generate the weights (Philox4x32-10), run the forward
//! and backward passes and reduce per-layer statistics; the host writes
//! `results.json`, `summary.csv`, PNG plots and an HTML report.

pub mod activation;
pub mod bench;
pub mod config;
pub mod exec;
pub mod export;
pub mod fault;
pub mod gpu;
pub mod init;
pub mod io;
pub mod jacobian;
pub mod kernels;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod model;
pub mod plan;
pub mod registry;
pub mod report;
pub mod results;
pub mod rng;
pub mod runner;
pub mod shard;
pub mod slurm;
pub mod stats;
pub mod suggest;
pub mod theory;
pub mod train;
pub mod tune;
