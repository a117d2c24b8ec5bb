# Regenerates the entry points of matmul_subgroup.wgsl below its GENERATED
# marker: python3 shaders/gen_matmul_subgroup.py
#
# Generates the unrolled subgroup GEMM entry points (constant indices only:
# lavapipe turns any dynamically indexed private array into per-lane memory
# traffic, so every accumulator is a named variable).
import sys
CV = 2
def entry(rm, tex, ku, atex=False):
    """One entry point. `atex`: A also comes from a texture (texel (p/4, i)
    holds A(i, 4q..4q+3)), so 4 k-steps of A are one vectorised load."""
    g = rm // 8
    name = f"gemm_sg{rm}" + ("_tex" if tex else "") + (f"_k{ku}" if ku > 1 else "") + ("_at" if atex else "")
    out = []
    w = out.append
    w(f"// RM = {rm} rows per lane, {4*CV} columns per lane; B from {'a texture' if tex else 'packed vec4 rows'}; "
      f"k unrolled {ku}x{'; A from a texture' if atex else ''}.")
    w("@compute @workgroup_size(8)")
    w(f"fn {name}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,")
    w("        @builtin(subgroup_invocation_id) lane: u32) {")
    w("    let w = wid.y * nwg.x + wid.x;")
    w(f"    let row0 = (w / sp.tiles_n) * {rm}u;")
    w("    if (row0 >= sp.m) {\n        return;\n    }")
    w("    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;")
    for r in range(rm):
        for v in range(CV):
            w(f"    var c{r}_{v} = vec4<f32>(0.0);")
    for gi in range(g):
        if atex:
            w(f"    let ai{gi} = min(row0 + {gi*8}u + lane, sp.m - 1u);")
        else:
            w(f"    let ar{gi} = sp.a_off + min(row0 + {gi*8}u + lane, sp.m - 1u) * sp.a_si;")
    def body(ind, ps, u=None):
        # one k step at row index expression ps; with atex, u is the component of the A texels
        if tex:
            w(f"{ind}let b0 = textureLoad(btex, vec2<u32>(q0, {ps}), 0);")
            w(f"{ind}let b1 = textureLoad(btex, vec2<u32>(q0 + 1u, {ps}), 0);")
        else:
            w(f"{ind}let bb = ({ps}) * sp.ldb4 + q0;")
            w(f"{ind}let b0 = bpk[bb];")
            w(f"{ind}let b1 = bpk[bb + 1u];")
        if not atex:
            w(f"{ind}let ap = ({ps}) * sp.a_sp;")
        for gi in range(g):
            src = f"at{gi}[{u}]" if atex else f"a[ar{gi} + ap]"
            w(f"{ind}let a{gi} = {src};")
            for l in range(8):
                r = gi * 8 + l
                w(f"{ind}let x{r} = subgroupBroadcast(a{gi}, {l}u);")
                w(f"{ind}c{r}_0 = c{r}_0 + x{r} * b0;")
                w(f"{ind}c{r}_1 = c{r}_1 + x{r} * b1;")
    def load_a(ind, pq):
        for gi in range(g):
            w(f"{ind}let at{gi} = textureLoad(atex, vec2<u32>({pq}, ai{gi}), 0);")
    if ku > 1:
        w(f"    let k_main = sp.k - sp.k % {ku}u;")
        w(f"    for (var p = 0u; p < k_main; p += {ku}u) {{")
        if atex:
            load_a("        ", "p / 4u")
        for u in range(ku):
            w("        {")
            body("            ", f"p + {u}u", u)
            w("        }")
        w("    }")
        w("    for (var p = k_main; p < sp.k; p++) {")
        if atex:
            load_a("        ", "p / 4u")
            body("        ", "p", "p % 4u")
        else:
            body("        ", "p")
        w("    }")
    else:
        w("    for (var p = 0u; p < sp.k; p++) {")
        body("        ", "p")
        w("    }")
    w("    let bb = bias_of(q0);")
    for r in range(rm):
        w(f"    store_row(row0 + {r}u, q0, c{r}_0, c{r}_1, bb);")
    w("}")
    return "\n".join(out)


def direct(rm, alay, blay):
    """k x4 entry reading both operands from textures filled by plain
    buffer-to-texture copies of row-major data, in the layout the data
    already has. alay: "r" (texel (p/4, i) = A(i, 4q..4q+3): rows of A
    contiguous) or "k" (texel (i/4, p) = A(4q..4q+3, p): columns of A
    contiguous, e.g. Aᵀ of a row-major matrix). blay: "n" (texel (j/4, p) =
    B(p, 4q..4q+3)) or "c" (texel (p/4, j) = B(4q..4q+3, j))."""
    g = rm // 8
    name = f"gemm_sg{rm}_k4_{alay}{blay}"
    out = []
    w = out.append
    w(f"// RM = {rm} rows, 8 columns per lane; A layout '{alay}', B layout '{blay}' (see gen_matmul_subgroup.py).")
    w("@compute @workgroup_size(8)")
    w(f"fn {name}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,")
    w("        @builtin(subgroup_invocation_id) lane: u32) {")
    w("    let w = wid.y * nwg.x + wid.x;")
    w(f"    let row0 = (w / sp.tiles_n) * {rm}u;")
    w("    if (row0 >= sp.m) {\n        return;\n    }")
    w("    let q0 = ((w % sp.tiles_n) * 8u + lane) * 2u;")
    for r in range(rm):
        for v in range(CV):
            w(f"    var c{r}_{v} = vec4<f32>(0.0);")
    if alay == "r":
        for gi in range(g):
            w(f"    let ai{gi} = min(row0 + {gi*8}u + lane, sp.m - 1u);")
    else:
        w("    let aq = min(row0 / 4u + lane, (sp.m + 3u) / 4u - 1u);")
    if blay == "c":
        for e in range(8):
            w(f"    let bj{e} = min(q0 * 4u + {e}u, sp.n - 1u);")
    def step(ind, ps, u, at_src):
        # one k step at row index expression ps, component u (constant or expression)
        if blay == "n":
            w(f"{ind}let b0 = textureLoad(btex, vec2<u32>(q0, {ps}), 0);")
            w(f"{ind}let b1 = textureLoad(btex, vec2<u32>(q0 + 1u, {ps}), 0);")
        else:
            w(f"{ind}let b0 = vec4<f32>(bt0[{u}], bt1[{u}], bt2[{u}], bt3[{u}]);")
            w(f"{ind}let b1 = vec4<f32>(bt4[{u}], bt5[{u}], bt6[{u}], bt7[{u}]);")
        if alay == "k":
            w(f"{ind}let am = textureLoad(atex, vec2<u32>(aq, {ps}), 0);")
        for r in range(rm):
            if alay == "r":
                w(f"{ind}let x{r} = subgroupBroadcast(at{r // 8}[{u}], {r % 8}u);")
            else:
                w(f"{ind}let x{r} = subgroupBroadcast(am[{r % 4}], {r // 4}u);")
            w(f"{ind}c{r}_0 = c{r}_0 + x{r} * b0;")
            w(f"{ind}c{r}_1 = c{r}_1 + x{r} * b1;")
    def loads(ind, pq):
        if alay == "r":
            for gi in range(g):
                w(f"{ind}let at{gi} = textureLoad(atex, vec2<u32>({pq}, ai{gi}), 0);")
        if blay == "c":
            for e in range(8):
                w(f"{ind}let bt{e} = textureLoad(btex, vec2<u32>({pq}, bj{e}), 0);")
    w("    let k_main = sp.k - sp.k % 4u;")
    w("    for (var p = 0u; p < k_main; p += 4u) {")
    loads("        ", "p / 4u")
    for u in range(4):
        w("        {")
        step("            ", f"p + {u}u", u, None)
        w("        }")
    w("    }")
    w("    for (var p = k_main; p < sp.k; p++) {")
    loads("        ", "p / 4u")
    step("        ", "p", "p % 4u", None)
    w("    }")
    w("    let bb = bias_of(q0);")
    for r in range(rm):
        w(f"    store_row(row0 + {r}u, q0, c{r}_0, c{r}_1, bb);")
    w("}")
    return "\n".join(out)

path = sys.argv[1] if len(sys.argv) > 1 else __file__.replace("gen_matmul_subgroup.py", "matmul_subgroup.wgsl")
MARK = "// ---- GENERATED below"
text = open(path).read()
head = text[: text.index(MARK)]
head += text[text.index(MARK):].splitlines()[0] + "\n"
parts = [head.rstrip("\n")]
for rm in (8, 16, 32):
    for tex in (False, True):
        parts.append(entry(rm, tex, 1))
for rm in (16, 32):
    parts.append(entry(rm, True, 4))
for rm in (8, 16, 24, 32):
    parts.append(entry(rm, True, 4, atex=True))
# Copy-fed entries; ("r", "n") is gemm_sg{rm}_tex_k4_at above.
for rm in (16, 32):
    for alay, blay in (("k", "n"), ("r", "c"), ("k", "c")):
        parts.append(direct(rm, alay, blay))
open(path, "w").write("\n\n".join(parts) + "\n")
