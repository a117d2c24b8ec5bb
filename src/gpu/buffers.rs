//! Typed buffers: size-checked storage allocation, upload, per-dispatch
//! uniform parameters, and readback of small records.

use super::{Gpu, GpuError};
use bytemuck::Pod;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The buffers of the last finished run, by (label, size): the next run of a
/// sweep with the same shapes takes them instead of allocating. Only one
/// run's buffers are kept, so memory stays bounded by the largest run.
#[derive(Default)]
pub(crate) struct BufferPool {
    free: Mutex<HashMap<(String, u64), Vec<wgpu::Buffer>>>,
    reused: AtomicUsize,
}
use wgpu::util::DeviceExt;

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl Gpu {
    /// The largest storage binding (and buffer) this device allows, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Refuses `bytes` for `what` before allocating when it exceeds a limit.
    pub fn check_binding(&self, what: &str, bytes: u64, hint: &str) -> Result<(), GpuError> {
        let (allowed, limit) =
            if self.limits.max_storage_buffer_binding_size < self.limits.max_buffer_size {
                (
                    self.limits.max_storage_buffer_binding_size,
                    "max_storage_buffer_binding_size",
                )
            } else {
                (self.limits.max_buffer_size, "max_buffer_size")
            };
        if bytes > allowed {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                bytes,
                allowed,
                limit,
                hint: hint.to_string(),
            });
        }
        Ok(())
    }

    /// A zeroed storage buffer of `bytes` (rounded up to 16), labelled `label`.
    pub fn storage(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer, GpuError> {
        let size = bytes.max(16).next_multiple_of(16);
        self.check_binding(label, size, "")?;
        self.scoped(label, || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: STORAGE,
                mapped_at_creation: false,
            })
        })
    }

    /// A zeroed storage buffer for a tensor that is bound one batch chunk at
    /// a time: only `max_buffer_size` limits it.
    pub fn storage_chunked(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer, GpuError> {
        let size = bytes.max(16).next_multiple_of(16);
        if size > self.limits.max_buffer_size {
            return Err(GpuError::TooLarge {
                what: label.to_string(),
                bytes: size,
                allowed: self.limits.max_buffer_size,
                limit: "max_buffer_size",
                hint: String::new(),
            });
        }
        self.scoped(label, || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: STORAGE,
                mapped_at_creation: false,
            })
        })
    }

    /// A storage buffer for one run's tensor: taken from the previous run's
    /// buffers when one has the same label and size, else allocated
    /// (`chunked`: only `max_buffer_size` limits it). Every such tensor is
    /// fully written before it is read, so reuse needs no clearing.
    pub fn storage_for_run(
        &self,
        label: &str,
        bytes: u64,
        chunked: bool,
    ) -> Result<wgpu::Buffer, GpuError> {
        if let Some(f) = crate::fault::hit(crate::fault::Site::Alloc) {
            return Err(crate::fault::gpu_error(f, label));
        }
        let size = bytes.max(16).next_multiple_of(16);
        let taken = {
            let mut free = self.pool.free.lock().unwrap_or_else(|p| p.into_inner());
            free.get_mut(&(label.to_string(), size)).and_then(Vec::pop)
        };
        if let Some(b) = taken {
            self.pool.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(b);
        }
        if chunked {
            self.storage_chunked(label, bytes)
        } else {
            self.storage(label, bytes)
        }
    }

    /// Hands a finished run's buffers back for the next run (replacing any
    /// older ones).
    pub fn recycle(&self, buffers: Vec<(String, wgpu::Buffer)>) {
        let mut free = self.pool.free.lock().unwrap_or_else(|p| p.into_inner());
        free.clear();
        for (label, b) in buffers {
            free.entry((label, b.size())).or_default().push(b);
        }
    }

    /// How many buffers were reused instead of allocated so far.
    pub fn buffers_reused(&self) -> usize {
        self.pool.reused.load(Ordering::Relaxed)
    }

    /// A storage buffer holding `data`.
    pub fn storage_from<T: Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer, GpuError> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        self.check_binding(label, bytes.len() as u64, "")?;
        let buf = self.storage(label, bytes.len() as u64)?;
        self.queue.write_buffer(&buf, 0, bytes);
        Ok(buf)
    }

    /// A small uniform buffer holding one parameter struct.
    pub fn uniform<T: Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// Copies `count` elements of `T` from `buffer` (starting at element
    /// `offset`) back to the host. Submits and waits.
    pub fn read<T: Pod>(
        &self,
        what: &str,
        buffer: &wgpu::Buffer,
        offset: u64,
        count: usize,
    ) -> Result<Vec<T>, GpuError> {
        let elem = std::mem::size_of::<T>() as u64;
        let bytes = count as u64 * elem;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let padded = bytes.next_multiple_of(4);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("readback {what}")),
            size: padded,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(buffer, offset * elem, &staging, 0, padded);
        self.scoped(what, || self.queue.submit([enc.finish()]))?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        let fail = |d: String| GpuError::Readback {
            what: what.to_string(),
            detail: d,
        };
        rx.recv()
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| fail(e.to_string()))?;
        let out: Vec<T> = bytemuck::pod_collect_to_vec(&view[..bytes as usize]);
        drop(view);
        staging.unmap();
        Ok(out)
    }

    /// Submits one command buffer inside error scopes naming `what`.
    pub fn submit(&self, what: &str, enc: wgpu::CommandEncoder) -> Result<(), GpuError> {
        if let Some(f) = crate::fault::hit(crate::fault::Site::Submit) {
            return Err(crate::fault::gpu_error(f, what));
        }
        self.scoped(what, || {
            self.queue.submit([enc.finish()]);
        })
    }

    /// Submits like [`Gpu::submit`] and returns the submission, to wait
    /// for it later ([`Gpu::wait_for`]) while the next one is recorded.
    pub fn submit_tracked(
        &self,
        what: &str,
        enc: wgpu::CommandEncoder,
    ) -> Result<wgpu::SubmissionIndex, GpuError> {
        self.scoped(what, || self.queue.submit([enc.finish()]))
    }

    /// Blocks until submission `index` is done.
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| GpuError::Device(format!("waiting for the GPU: {e}")))
    }
}

/// A byte range of a buffer bound as one storage binding: a whole tensor, or
/// one batch chunk of a tensor larger than the adapter's binding limit.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    /// Bytes; `None` binds to the end of the buffer.
    pub size: Option<u64>,
}

impl<'a> View<'a> {
    /// `len` f32 elements starting at element `first`.
    pub fn elems(buffer: &'a wgpu::Buffer, first: u64, len: u64) -> View<'a> {
        View {
            buffer,
            offset: first * 4,
            size: Some(len * 4),
        }
    }

    /// The binding resource of this range.
    pub fn binding(&self) -> wgpu::BindingResource<'a> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.buffer,
            offset: self.offset,
            size: self.size.and_then(wgpu::BufferSize::new),
        })
    }
}

impl<'a> From<&'a wgpu::Buffer> for View<'a> {
    fn from(buffer: &'a wgpu::Buffer) -> Self {
        View {
            buffer,
            offset: 0,
            size: None,
        }
    }
}
