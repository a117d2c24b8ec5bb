//! The memory plan of a model: every GPU tensor with its size, and the check
//! against an adapter's limits that refuses a run before anything is
//! allocated, naming the tensor, the limit and what would fit.

use super::{GradStore, Model, Op, Param};
use crate::config::{Loss, Target};
use crate::gpu::human_bytes;
use crate::init::Sampler;
use crate::kernels::orthogonal::PAIR_MAX_ROWS;

/// Which dimension drives a tensor's size (and so what the user can shrink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// Activations: batch rows, bound one chunk of rows at a time.
    Batch,
    /// Weights and their kin: bound whole.
    Width,
}

/// A tensor's name and size, for the memory plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSize {
    pub name: String,
    pub bytes: u64,
    pub driver: Driver,
}

/// The adapter limits a run must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest storage binding, in bytes.
    pub binding: u64,
    /// The largest buffer, in bytes.
    pub max_buffer: u64,
}

/// Rows per chunk: the whole batch when it fits one binding, else a multiple
/// of 64 rows (every chunk then starts on a 256-byte boundary and a Philox block).
pub fn chunk_rows(binding_bytes: u64, batch: usize, max_cols: usize) -> usize {
    chunk_rows_of(binding_bytes, batch, max_cols, 64)
}

/// Rows per chunk when chunks must also be a multiple of `granule` rows (a
/// multiple of 64: whole attention sequences).
pub fn chunk_rows_of(binding_bytes: u64, batch: usize, max_cols: usize, granule: usize) -> usize {
    let fit = (binding_bytes / (max_cols.max(1) as u64 * 4)) as usize;
    let g = granule.max(1);
    if fit >= batch { batch } else { fit / g * g }
}

impl Model {
    /// Rows per chunk of this model's row tensors under a `binding_bytes`
    /// binding limit (whole sequences with attention).
    pub fn chunk_rows(&self, binding_bytes: u64) -> usize {
        chunk_rows_of(
            binding_bytes,
            self.batch,
            self.max_cols(),
            self.row_granule(),
        )
    }
}

/// Floats per row of the blocked QR's working matrices: m rounded up to 64
/// (`kernels::qr::Qr::new`).
fn qr_ld(m: usize) -> usize {
    m.next_multiple_of(64)
}

/// The orthogonal init's scratch (`kernels::orthogonal`). The blocked QR
/// keeps one set of buffers per device for the last shape, so a new set is
/// counted whenever the shape changes from one orthogonal parameter to the
/// next (a replaced set lives until the init commands have run): the working
/// matrix, V, the panels' and the blocks' Y and Q (n × ld each), the texture
/// Q is stored through (n × ld), the subgroup GEMM's B and old-C textures,
/// which grow to n × ld for the QR's trailing updates, W (128 × ld), R's
/// diagonal and, when ld ≠ m, the dense source (n × m).
/// Two orthogonal parameters of one shape in a row (at most
/// `PAIR_MAX_ROWS` tall) are drawn as a pair: a second set of the five
/// n × ld matrices, W, R's diagonal and source, and the pair's panel texture.
/// Matrices whose n × ld does not fit one binding take Stewart's construction
/// instead: its source and reflectors (n × m each), per parameter.
fn orthogonal_scratch(model: &Model, limits: Limits) -> Vec<TensorSize> {
    let mut v = Vec::new();
    let mut last = None;
    let w = |name: String, elems: usize| TensorSize {
        name,
        bytes: elems as u64 * 4,
        driver: Driver::Width,
    };
    // Every orthogonal matrix: the parameters (linear stacks name the
    // fallback by layer, residual stacks by key) and the embedding table.
    // A packed parameter's parts are drawn one by one, each whole.
    let drawn = model.params.iter().flat_map(|p| {
        if p.parts.is_empty() {
            std::slice::from_ref(p)
        } else {
            p.parts.as_slice()
        }
    });
    let params = drawn.filter_map(|p| {
        let named = if p.layer >> 16 == 0 && model.residual.is_none() {
            format!("orthogonal scratch[{}]", p.layer)
        } else {
            format!("orthogonal scratch {}", p.name)
        };
        matches!(p.sampler, Sampler::Orthogonal { .. }).then_some((p.rows, p.cols, named))
    });
    let table = model.embedding.as_ref().and_then(|e| {
        let dim = model.act(model.input).cols;
        matches!(e.table, Sampler::Orthogonal { .. })
            .then(|| (e.vocab, dim, "orthogonal scratch embedding".to_string()))
    });
    // Orthogonal parameters of one shape that follow each other (other
    // parameters between them aside) are drawn in pairs, each with its own
    // set of QR buffers (`exec::init::encode_model`).
    let mut paired = Vec::new();
    let mut prev = None;
    for p in model.params.iter().filter(|p| p.parts.is_empty()) {
        if !matches!(p.sampler, Sampler::Orthogonal { .. }) {
            continue;
        }
        let shape = (p.rows.max(p.cols), p.rows.min(p.cols));
        if prev == Some(shape) {
            paired.push(shape);
            prev = None;
        } else {
            prev = Some(shape);
        }
    }
    for (rows, cols, named) in params.chain(table) {
        let (n, m) = (rows.max(cols), rows.min(cols));
        let ld = qr_ld(m);
        if (n * ld * 4) as u64 > limits.binding {
            v.push(w(named, 2 * n * m));
            continue;
        }
        if last == Some((n, m)) {
            continue;
        }
        last = Some((n, m));
        for what in [
            "working matrix",
            "V",
            "Y",
            "block Y",
            "Q",
            "Q texture",
            "GEMM B texture",
            "GEMM C texture",
        ] {
            v.push(w(format!("orthogonal QR {what} ({n}x{ld})"), n * ld));
        }
        let extra = 128 * ld + m + if ld == m { 0 } else { n * m };
        v.push(w(
            format!("orthogonal QR W, R diagonal, source ({n}x{m})"),
            extra,
        ));
        if n <= PAIR_MAX_ROWS && paired.contains(&(n, m)) {
            for what in ["working matrix", "V", "Y", "block Y", "Q"] {
                v.push(w(format!("orthogonal QR pair {what} ({n}x{ld})"), n * ld));
            }
            v.push(w(
                format!("orthogonal QR pair W, R diagonal, source, panels ({n}x{m})"),
                extra + 2 * n * 32,
            ));
        }
    }
    v
}

impl Model {
    /// Every GPU tensor of the run, in allocation order.
    pub fn memory_plan(&self, limits: Limits) -> Vec<TensorSize> {
        let b = self.batch as u64;
        let t = |name: &str, elems: u64, driver| TensorSize {
            name: name.to_string(),
            bytes: elems * 4,
            driver,
        };
        let mut v = Vec::new();
        for a in &self.acts {
            v.push(t(&a.label, b * a.cols as u64, Driver::Batch));
            if a.grad == GradStore::Full {
                v.push(t(&a.grad_label, b * a.cols as u64, Driver::Batch));
            }
        }
        for p in &self.params {
            let n = p.len() as u64;
            v.push(t(&p.label, n, Driver::Width));
            v.push(t(&p.grad_label, n, Driver::Width));
            for label in self.train.iter().flat_map(|tr| tr.state_labels(p)) {
                v.push(t(&label, n, Driver::Width));
            }
        }
        v.extend(orthogonal_scratch(self, limits));
        let part = self.params.iter().flat_map(|p| &p.parts).map(Param::len);
        if let Some(most) = part.max() {
            v.push(t("packed part", most as u64, Driver::Width));
        }
        let chunk = self.chunk_rows(limits.binding) as u64;
        for slot in 0..self.scratch_slots() {
            let cols = self.scratch_cols(slot as u8).unwrap_or(1) as u64;
            let name = if slot == 0 {
                "grad_preact scratch".to_string()
            } else {
                format!("grad scratch {slot}")
            };
            v.push(t(&name, chunk * cols, Driver::Width));
        }
        v.extend(self.attention_scratch());
        // The statistics reduction's texture pieces (CPU adapters; counted
        // everywhere, as the plan does not know the adapter's type): the
        // largest reduced tensor, at most one 4 Mi-element piece.
        let largest = (self.acts.iter().map(|a| chunk.min(b) * a.cols as u64))
            .chain(self.params.iter().map(|p| p.len() as u64))
            .max()
            .unwrap_or(0);
        let bytes = crate::kernels::reduce::texture_bytes(largest);
        if bytes > 0 {
            v.push(TensorSize {
                name: "statistics texture".to_string(),
                bytes,
                driver: Driver::Width,
            });
        }
        if let Some(e) = &self.embedding {
            let dim = self.act(self.input).cols as u64;
            let n = e.vocab as u64 * dim;
            v.push(t("embedding table", n, Driver::Width));
            if let Some(seq) = e.positions {
                v.push(t("positions", seq as u64 * dim, Driver::Width));
            }
        }
        if self.loss.has_target() {
            let out = self.act(self.output).cols as u64;
            v.push(t("target", b * out, Driver::Batch));
            let teacher = matches!(
                self.loss,
                Loss::Mse {
                    target: Target::Teacher
                } | Loss::CrossEntropy
            );
            if teacher {
                let fan_in = self.act(self.input).cols as u64;
                v.push(t("teacher weight", out * fan_in, Driver::Width));
            }
        }
        if self.train.is_some() {
            // The symmetry signatures (a vec4 per unit) and counters.
            let rows = self.params.iter().map(|p| p.rows).max().unwrap_or(1) as u64;
            v.push(t("symmetry signatures", 4 * rows, Driver::Width));
            v.push(t(
                "symmetry counts",
                self.layers.len() as u64,
                Driver::Width,
            ));
        }
        v
    }

    /// The operand textures of attention's per-(sequence, head) GEMMs on
    /// CPU adapters (`kernels::gemm`'s subgroup kernel copies or packs A, B
    /// and the accumulated C): at most a seq × seq probability block and
    /// two partners of seq × max(seq, d_head) rounded up to 64 columns. dP
    /// and dS reuse the probabilities' gradient scratch (a scratch slot).
    fn attention_scratch(&self) -> Option<TensorSize> {
        let most = (self.ops.iter())
            .filter_map(|op| match *op {
                Op::Attention { y, heads, seq, .. } => {
                    let dh = self.act(y).cols / heads.max(1);
                    Some(3 * seq * seq.max(dh).next_multiple_of(64))
                }
                _ => None,
            })
            .max()?;
        Some(TensorSize {
            name: "attention GEMM operand textures".to_string(),
            bytes: most as u64 * 4,
            driver: Driver::Width,
        })
    }

    /// The bytes of optimizer state in the plan (shown by `validate`).
    pub fn optimizer_state_bytes(&self) -> u64 {
        let Some(tr) = &self.train else {
            return 0;
        };
        self.params
            .iter()
            .map(|p| tr.state_labels(p).len() as u64 * p.len() as u64 * 4)
            .sum()
    }

    /// Refuses a run whose tensors exceed `limits`, before allocating;
    /// returns the total bytes. Weights must fit one storage binding;
    /// activations are bound one batch chunk at a time, so they need only
    /// fit one buffer (and 64 of their rows one binding).
    pub fn check_fits(&self, limits: Limits) -> Result<u64, String> {
        let plan = self.memory_plan(limits);
        let batch = self.batch.max(1) as u64;
        let granule = self.row_granule() as u64;
        for t in &plan {
            let (limit, name, hint) = match t.driver {
                Driver::Batch => {
                    let per_row = (t.bytes / batch).max(1);
                    if granule * per_row > limits.binding && t.bytes > limits.binding {
                        let hint = format!(
                            " Rows of {} do not fit a {granule}-row chunk{}; use narrower layers{}.",
                            human_bytes(per_row),
                            if granule > 64 {
                                " (whole attention sequences)"
                            } else {
                                ""
                            },
                            if granule > 64 {
                                ", fewer heads or a shorter seq_len"
                            } else {
                                ""
                            },
                        );
                        (limits.binding, "max_storage_buffer_binding_size", hint)
                    } else {
                        let most = limits.max_buffer / per_row;
                        let hint = format!(" The largest batch that fits is {most}.");
                        (limits.max_buffer, "max_buffer_size", hint)
                    }
                }
                Driver::Width => {
                    let elems = limits.binding / 4;
                    let side = (elems as f64).sqrt() as u64;
                    let hint = format!(
                        " Weights are not chunked: fan_in × fan_out must stay below {elems} \
                         elements (e.g. {side}x{side})."
                    );
                    (limits.binding, "max_storage_buffer_binding_size", hint)
                }
            };
            if t.bytes > limit {
                let what = if name == "max_buffer_size" {
                    "buffer"
                } else {
                    "binding"
                };
                return Err(format!(
                    "{} needs {} in one {what}; this adapter allows {} ({name}).{hint}",
                    t.name,
                    human_bytes(t.bytes),
                    human_bytes(limit)
                ));
            }
        }
        Ok(plan.iter().map(|t| t.bytes).sum())
    }
}
