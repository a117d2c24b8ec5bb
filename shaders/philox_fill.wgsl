// Raw Philox fills: u32 words (mode 0), uniforms (mode 1) or standard
// normals (mode 2, stored as f32 bits). Used by tests and benchmarks; each
// invocation handles BPT consecutive blocks, so geometry never changes bits.

struct FillParams {
    key: vec2<u32>,
    layer: u32,
    role: u32,
    repeat_index: u32,
    n_blocks: u32,
    mode: u32,
    first_block: u32,
}

@group(0) @binding(0) var<uniform> p: FillParams;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;

override WG: u32 = 64u;
override BPT: u32 = 1u;

@compute @workgroup_size(WG)
fn fill(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = (wid.y * nwg.x + wid.x) * WG + lid;
    for (var j = 0u; j < BPT; j++) {
        let i = t * BPT + j;
        if (i >= p.n_blocks) {
            return;
        }
        let w = philox4x32_10(vec4<u32>(p.first_block + i, p.layer, p.role, p.repeat_index), p.key);
        if (p.mode == 0u) {
            out[i] = w;
        } else if (p.mode == 1u) {
            let u = vec4<f32>(uniform01(w.x), uniform01(w.y), uniform01(w.z), uniform01(w.w));
            out[i] = bitcast<vec4<u32>>(u);
        } else {
            out[i] = bitcast<vec4<u32>>(normals4(w));
        }
    }
}
