//! Scratch the kernels keep per device, in the device's state map
//! ([`Gpu::state`]): the rgba32float textures the subgroup GEMM and the QR
//! copy operands into, and cached objects such as the orthogonal init's QR
//! buffers. Sequential commands on one queue never overlap, so one copy of
//! each serves every dispatch in order.

use crate::gpu::{Gpu, GpuError};
use std::sync::{Arc, Mutex};

/// A scratch texture's role; each has a slot of its own because one GEMM
/// binds B, A and the old C at once, and the QR's texture outlives a GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TexSlot {
    /// The subgroup GEMM's B operand.
    GemmB = 0,
    /// The subgroup GEMM's A operand.
    GemmA = 1,
    /// The subgroup GEMM's old C (when accumulating).
    GemmC = 2,
    /// The QR's panel and Q's final copy.
    Qr = 3,
    /// The statistics reduction's pieces (`kernels::reduce`).
    Stats = 4,
    /// A pair of QR panels factored by one dispatch (`kernels::qr`).
    QrPair = 5,
}

const SLOTS: usize = 6;

#[derive(Clone, Default)]
struct Textures(Arc<Mutex<[Option<wgpu::Texture>; SLOTS]>>);

/// Scratch texture `slot` of this device, at least `width` × `height` texels
/// (sampled, storage-written and a copy destination), grown on demand.
pub(crate) fn texture(
    gpu: &Gpu,
    slot: TexSlot,
    width: u32,
    height: u32,
) -> Result<wgpu::Texture, GpuError> {
    let all = gpu.state(Textures::default);
    let mut all = all.0.lock().unwrap_or_else(|p| p.into_inner());
    let s = &mut all[slot as usize];
    let fits = |t: &wgpu::Texture| t.width() >= width && t.height() >= height;
    if let Some(t) = s.as_ref().filter(|t| fits(t)) {
        return Ok(t.clone());
    }
    // Grow to cover both the old and the new request, so that alternating
    // shapes do not reallocate every time.
    let (w, h) = match s.as_ref() {
        Some(t) => (t.width().max(width), t.height().max(height)),
        None => (width, height),
    };
    let t = gpu.scoped("scratch operand texture", || {
        gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("scratch operand texture"),
            size: wgpu::Extent3d {
                width: w.max(1),
                height: h.max(1),
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba32Float,
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::STORAGE_BINDING
                | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        })
    })?;
    *s = Some(t.clone());
    Ok(t)
}

/// A view of [`texture`].
pub(crate) fn texture_view(
    gpu: &Gpu,
    slot: TexSlot,
    width: u32,
    height: u32,
) -> Result<wgpu::TextureView, GpuError> {
    Ok(texture(gpu, slot, width, height)?.create_view(&Default::default()))
}

/// The one cached `T` of a device.
struct Cached<T>(Arc<Mutex<Option<Arc<T>>>>);

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Cached(self.0.clone())
    }
}

/// This device's cached `T` when it `fits`, else a new one from `make`,
/// kept (replacing the old) for the next call. A replaced object's memory
/// is freed once the commands that use it have run.
pub(crate) fn cached<T: Send + Sync + 'static>(
    gpu: &Gpu,
    fits: impl Fn(&T) -> bool,
    make: impl FnOnce() -> Result<T, GpuError>,
) -> Result<Arc<T>, GpuError> {
    let slot = gpu.state(|| Cached::<T>(Default::default()));
    let mut slot = slot.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = slot.as_ref().filter(|t| fits(t)) {
        return Ok(t.clone());
    }
    // Drop the old one first: its buffers need not coexist with the new.
    *slot = None;
    let t = Arc::new(make()?);
    *slot = Some(t.clone());
    Ok(t)
}
