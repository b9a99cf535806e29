// viewer.js - the WebGL2 splat viewer of `gs view`.
//
// Rendering follows our rasterizer (raster/raster.h, gsplat's classic mode):
// per splat, the vertex shader builds the 3D covariance from scale and
// rotation, projects it with the EWA Jacobian (tx/ty clamped to 1.3x the field
// of view), adds the 0.3 px^2 low-pass, and spans a screen quad over the
// opacity-aware extent; the fragment shader evaluates alpha = min(0.999,
// o exp(-sigma)) and drops alpha < 1/255. Splats are drawn back to front
// (sorted by camera-space depth in sort_worker.js) with premultiplied alpha
// over the background, which equals the rasterizer's front-to-back sum.
// Colour is the SH DC term (no view dependence).
//
// Cameras use the scenes' OpenCV convention: x_cam = R x_world + t, +x right,
// +y down, +z forward; pixel (u, v) = (fx x/z + cx, fy y/z + cy).
//
// URL parameters (for tests and links): view=W,H,fx,fy,cx,cy,R00..R22,t0,t1,t2
// starts at that exact camera; bg=r,g,b (0..1); ui=0 hides the panel;
// frusta=0 hides the cameras; dpr=N overrides the device pixel ratio.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  let failed = false;

  function fail(msg) {
    if (failed) return;
    failed = true;
    root.dataset.status = 'error';
    root.dataset.error = msg;
    document.title = 'error: ' + msg;
    const e = $('error');
    e.textContent = 'gs view: ' + msg;
    e.style.display = 'block';
  }
  window.addEventListener('error', (e) => fail((e.message || 'script error') + (e.lineno ? ' (line ' + e.lineno + ')' : '')));
  window.addEventListener('unhandledrejection', (e) => fail(String((e.reason && e.reason.message) || e.reason)));

  const CFG = JSON.parse($('gs-config').textContent);
  const params = new URLSearchParams(location.search);

  function numberList(name, count) {
    const s = params.get(name);
    if (s === null) return null;
    const v = s.split(',').map(Number);
    if (v.length !== count || !v.every(Number.isFinite)) throw new Error('URL parameter ' + name + ' needs ' + count + ' numbers');
    return v;
  }

  // ---- small vector helpers (arrays of 3) ----------------------------------
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
  const scale3 = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const norm = (a) => {
    const l = Math.hypot(a[0], a[1], a[2]);
    return l > 0 ? scale3(a, 1 / l) : a.slice();
  };

  // ---- scene data ------------------------------------------------------------
  // GSV1: a 32-byte header ("GSV1", version 1, splat count, original SH degree,
  // reserved) then columns: positions f32 [n,3], linear scales f32 [n,3],
  // RGBA u8 [n,4] (colour 0.5 + C0 dc, alpha = opacity), rotations u8 [n,4]
  // (w,x,y,z as q*128+128) - the content of an antimatter15 .splat file.
  function parseScene(bytes) {
    if (bytes.length < 32) throw new Error('scene data is truncated (' + bytes.length + ' bytes)');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
    if (magic !== 'GSV1') throw new Error('scene data has no GSV1 header');
    const n = dv.getUint32(8, true);
    if (bytes.length !== 32 + 32 * n) throw new Error('scene data size ' + bytes.length + ' does not match ' + n + ' splats');
    const buf = bytes.byteOffset % 4 === 0 ? bytes.buffer : bytes.slice().buffer;
    const off = bytes.byteOffset % 4 === 0 ? bytes.byteOffset : 0;
    return {
      n,
      shDegree: dv.getUint32(12, true),
      positions: new Float32Array(buf, off + 32, 3 * n),
      scales: new Float32Array(buf, off + 32 + 12 * n, 3 * n),
      rgba: new Uint8Array(buf, off + 32 + 24 * n, 4 * n),
      quats: new Uint8Array(buf, off + 32 + 28 * n, 4 * n),
    };
  }

  async function gunzip(bytes) {
    if (typeof DecompressionStream === 'undefined') throw new Error('this browser lacks DecompressionStream (gzip)');
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function base64ToBytes(text) {
    const s = text.replace(/\s+/g, '');
    const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
    const out = new Uint8Array((s.length / 4) * 3 - pad);
    const CH = 1 << 20; // characters per atob call (a multiple of 4)
    let o = 0;
    for (let i = 0; i < s.length; i += CH) {
      const bin = atob(s.slice(i, i + CH));
      for (let k = 0; k < bin.length; k++) out[o++] = bin.charCodeAt(k);
    }
    return out;
  }

  const progressBar = $('progress');
  async function loadBytes() {
    let bytes;
    if (CFG.mode === 'standalone') {
      bytes = base64ToBytes($('gs-data').textContent);
    } else {
      const r = await fetch('scene.bin', { cache: 'no-store' });
      if (!r.ok) throw new Error('scene.bin: HTTP ' + r.status);
      const total = Number(r.headers.get('Content-Length')) || 0;
      const reader = r.body.getReader();
      const parts = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
        if (total) progressBar.style.width = (100 * got / total).toFixed(1) + '%';
      }
      bytes = new Uint8Array(got);
      let o = 0;
      for (const p of parts) { bytes.set(p, o); o += p.length; }
    }
    progressBar.style.display = 'none';
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzip(bytes);
    return bytes;
  }

  // ---- WebGL ----------------------------------------------------------------
  const canvas = $('canvas');
  const gl = canvas.getContext('webgl2', { antialias: false, alpha: false, depth: false, stencil: false,
                                           premultipliedAlpha: true, powerPreference: 'high-performance' });

  const SPLAT_VS = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
uniform usampler2D u_data;   // two RGBA32UI texels per splat
uniform int u_rowShift;      // log2(splats per texture row)
uniform mat3 u_R;            // world-to-camera rotation
uniform vec3 u_t;
uniform vec4 u_intr;         // fx, fy, cx, cy in pixels
uniform vec2 u_size;         // width, height in pixels
uniform vec4 u_lim;          // Jacobian clamp: +x, -x, +y, -y (tan units)
uniform float u_near;
in vec2 a_corner;            // quad corner in [-1, 1]^2
in uint a_index;             // splat index (instanced, back to front)
out vec4 v_color;
out vec2 v_d;                // offset from the projected centre, pixels
flat out vec3 v_conic;

vec4 unpack8(uint v) {
  return vec4(float(v & 255u), float((v >> 8) & 255u), float((v >> 16) & 255u), float(v >> 24));
}

void main() {
  gl_Position = vec4(0.0, 0.0, 2.0, 1.0); // culled: outside the clip volume
  uint perRow = 1u << uint(u_rowShift);
  ivec2 tc = ivec2(int((a_index & (perRow - 1u)) * 2u), int(a_index >> uint(u_rowShift)));
  uvec4 d0 = texelFetch(u_data, tc, 0);
  uvec4 d1 = texelFetch(u_data, tc + ivec2(1, 0), 0);
  vec3 m = uintBitsToFloat(d0.xyz);
  vec3 pc = u_R * m + u_t;
  if (!(pc.z >= u_near)) return;
  vec4 rgba = unpack8(d0.w) / 255.0;
  if (!(rgba.a >= 1.0 / 255.0)) return;
  vec3 s = uintBitsToFloat(d1.xyz);
  if (!(min(s.x, min(s.y, s.z)) > 0.0)) return;
  vec4 q = (unpack8(d1.w) - 128.0) / 128.0; // w, x, y, z
  float qn = dot(q, q);
  if (!(qn > 0.0)) return;
  q *= inversesqrt(qn);
  float w = q.x, x = q.y, y = q.z, z = q.w;
  mat3 Rq = mat3(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),   // column 0
                 2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x),   // column 1
                 2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)); // column 2
  mat3 M = Rq * mat3(s.x, 0.0, 0.0, 0.0, s.y, 0.0, 0.0, 0.0, s.z);
  mat3 Sc = u_R * (M * transpose(M)) * transpose(u_R); // camera-space covariance
  float rz = 1.0 / pc.z;
  float tx = pc.z * clamp(pc.x * rz, -u_lim.y, u_lim.x);
  float ty = pc.z * clamp(pc.y * rz, -u_lim.w, u_lim.z);
  vec3 j0 = vec3(u_intr.x * rz, 0.0, -u_intr.x * tx * rz * rz);
  vec3 j1 = vec3(0.0, u_intr.y * rz, -u_intr.y * ty * rz * rz);
  vec3 S0 = Sc * j0, S1 = Sc * j1;
  float c00 = dot(j0, S0) + 0.3, c01 = dot(j0, S1), c11 = dot(j1, S1) + 0.3;
  float det = c00 * c11 - c01 * c01;
  if (!(det > 0.0)) return;
  float ext = min(3.33, sqrt(2.0 * log(rgba.a * 255.0)));
  vec2 r = ceil(ext * sqrt(vec2(c00, c11)));
  if (r.x <= 0.0 && r.y <= 0.0) return;
  vec2 mean = vec2(u_intr.x * pc.x * rz + u_intr.z, u_intr.y * pc.y * rz + u_intr.w);
  if (mean.x + r.x <= 0.0 || mean.x - r.x >= u_size.x || mean.y + r.y <= 0.0 || mean.y - r.y >= u_size.y) return;
  v_conic = vec3(c11, -c01, c00) / det;
  v_color = rgba;
  v_d = a_corner * r;
  vec2 p = mean + v_d;
  gl_Position = vec4(2.0 * p.x / u_size.x - 1.0, 1.0 - 2.0 * p.y / u_size.y, 0.0, 1.0);
}`;

  const SPLAT_FS = `#version 300 es
precision highp float;
in vec4 v_color;
in vec2 v_d;
flat in vec3 v_conic;
out vec4 fragColor;
void main() {
  float sigma = 0.5 * (v_conic.x * v_d.x * v_d.x + v_conic.z * v_d.y * v_d.y) + v_conic.y * v_d.x * v_d.y;
  if (sigma < 0.0) discard;
  float a = min(0.999, v_color.a * exp(-sigma));
  if (a < 1.0 / 255.0) discard;
  fragColor = vec4(v_color.rgb * a, a); // premultiplied
}`;

  const LINE_VS = `#version 300 es
precision highp float;
uniform mat4 u_mvp;
in vec3 a_pos;
void main() { gl_Position = u_mvp * vec4(a_pos, 1.0); }`;

  const LINE_FS = `#version 300 es
precision highp float;
uniform vec4 u_color;
out vec4 fragColor;
void main() { fragColor = vec4(u_color.rgb * u_color.a, u_color.a); }`;

  function compile(vs, fs) {
    const p = gl.createProgram();
    for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
      const sh = gl.createShader(type);
      gl.shaderSource(sh, src);
      gl.compileShader(sh);
      if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error('shader: ' + gl.getShaderInfoLog(sh));
      gl.attachShader(p, sh);
    }
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error('program: ' + gl.getProgramInfoLog(p));
    const u = {};
    const nu = gl.getProgramParameter(p, gl.ACTIVE_UNIFORMS);
    for (let i = 0; i < nu; i++) {
      const name = gl.getActiveUniform(p, i).name;
      u[name] = gl.getUniformLocation(p, name);
    }
    return { p, u };
  }

  // ---- state ------------------------------------------------------------------
  const state = {
    scene: null,
    count: 0, // splats in the index buffer (sorted, in front of the near plane)
    sortedKey: '', // view the index buffer was sorted for
    sortBusy: false,
    sortId: 0,
    sortMs: 0,
    dirty: true,
    ready: false,
    bg: [0, 0, 0],
    showFrusta: true,
    ui: true,
    near: 0.01,
    radius: 1,
    centre: [0, 0, 0],
    frusta: null, // {buffer, count}
    selected: -1,
  };

  // Camera: orbit/fly state (target, distance, yaw, pitch about the world up
  // axis) or, until the user moves, an exact camera (an input camera or ?view=).
  const cam = {
    up: [0, -1, 0], e1: [1, 0, 0], e2: [0, 0, 1],
    target: [0, 0, 0], dist: 1, yaw: 0, pitch: 0, vfov: 0.8,
    exact: null, mode: 'orbit',
  };

  function setUp(up) {
    cam.up = norm(up);
    let a = [1, 0, 0];
    if (Math.abs(dot(a, cam.up)) > 0.9) a = [0, 0, 1];
    cam.e1 = norm(add(a, scale3(cam.up, -dot(a, cam.up))));
    cam.e2 = cross(cam.up, cam.e1);
  }

  function forward() {
    const cp = Math.cos(cam.pitch);
    return add(add(scale3(cam.e1, cp * Math.cos(cam.yaw)), scale3(cam.e2, cp * Math.sin(cam.yaw))),
               scale3(cam.up, Math.sin(cam.pitch)));
  }
  const eye = () => add(cam.target, scale3(forward(), -cam.dist));

  function lookFrom(eyePos, f) {
    f = norm(f);
    cam.pitch = Math.asin(Math.max(-1, Math.min(1, dot(f, cam.up))));
    cam.yaw = Math.atan2(dot(f, cam.e2), dot(f, cam.e1));
    cam.target = add(eyePos, scale3(f, cam.dist));
  }

  // Leave the exact camera for the orbit/fly state, keeping eye and direction.
  function unlockExact() {
    const ex = cam.exact;
    if (!ex) return;
    cam.exact = null;
    const R = ex.R;
    const C = [-(R[0] * ex.t[0] + R[3] * ex.t[1] + R[6] * ex.t[2]),
               -(R[1] * ex.t[0] + R[4] * ex.t[1] + R[7] * ex.t[2]),
               -(R[2] * ex.t[0] + R[5] * ex.t[1] + R[8] * ex.t[2])];
    const f = [R[6], R[7], R[8]];
    const along = dot(add(state.centre, scale3(C, -1)), f);
    cam.dist = along > 0.05 * state.radius ? along : state.radius;
    cam.vfov = 2 * Math.atan(0.5 * ex.H / ex.fy);
    lookFrom(C, f);
  }

  // The camera for a W x H drawing buffer: R (row-major), t, fx, fy, cx, cy.
  function currentView(W, H) {
    const ex = cam.exact;
    if (ex) {
      const s = Math.min(W / ex.W, H / ex.H);
      return { R: ex.R, t: ex.t, fx: ex.fx * s, fy: ex.fy * s, cx: W / 2 + (ex.cx - ex.W / 2) * s,
               cy: H / 2 + (ex.cy - ex.H / 2) * s };
    }
    const f = forward();
    const r = norm(cross(f, cam.up));
    const d = cross(f, r);
    const R = [r[0], r[1], r[2], d[0], d[1], d[2], f[0], f[1], f[2]];
    const e = eye();
    const t = [-dot(r, e), -dot(d, e), -dot(f, e)];
    const fy = 0.5 * H / Math.tan(0.5 * cam.vfov);
    return { R, t, fx: fy, fy, cx: W / 2, cy: H / 2 };
  }

  function viewKey(v) {
    return v.R.map((x) => x.toPrecision(7)).join(',') + '|' + v.t.map((x) => x.toPrecision(7)).join(',');
  }

  // Initial view: the first input camera, else the first frame of
  // `gs render --trajectory orbit` (median centre, 2.5x the 90th percentile
  // radius, 30% above, 50 degree horizontal field of view).
  function initialView() {
    const cams = posedCameras();
    if (cams.length) {
      selectCamera(0);
      return;
    }
    cam.exact = null;
    cam.dist = Math.hypot(2.5 * state.radius, 0.75 * state.radius);
    const C = add(add(state.centre, scale3(cam.e1, 2.5 * state.radius)), scale3(cam.up, 0.75 * state.radius));
    cam.target = state.centre.slice();
    lookFrom(C, add(state.centre, scale3(C, -1)));
    cam.target = state.centre.slice();
    const W = canvas.width || 800, H = canvas.height || 600;
    cam.vfov = 2 * Math.atan(Math.tan(25 * Math.PI / 180) * H / W);
    state.dirty = true;
  }

  function sceneExtent(pos, n) {
    const step = Math.max(1, Math.floor(n / 200000));
    const xs = [[], [], []];
    for (let i = 0; i < n; i += step) {
      const p = 3 * i;
      if (Number.isFinite(pos[p]) && Number.isFinite(pos[p + 1]) && Number.isFinite(pos[p + 2]))
        for (let k = 0; k < 3; k++) xs[k].push(pos[p + k]);
    }
    const centre = xs.map((a) => {
      if (!a.length) return 0;
      const s = Float64Array.from(a).sort();
      return s[a.length >> 1];
    });
    const d = Float64Array.from(xs[0].map((_, i) => Math.hypot(xs[0][i] - centre[0], xs[1][i] - centre[1], xs[2][i] - centre[2]))).sort();
    const r90 = d.length ? d[Math.floor(d.length * 0.9)] : 1;
    return { centre, radius: r90 > 0 ? r90 : 1 };
  }

  // ---- input cameras ---------------------------------------------------------------
  function posedCameras() {
    const list = (CFG.cameras && CFG.cameras.cameras) || [];
    return list.filter((c) => c.R && c.t && c.R.length === 3 && c.width > 0 && c.height > 0 && c.fx > 0 && c.fy > 0);
  }

  function selectCamera(i) {
    const cams = posedCameras();
    if (!cams.length) return;
    i = ((i % cams.length) + cams.length) % cams.length;
    const c = cams[i];
    state.selected = i;
    $('cameras').value = String(i);
    cam.exact = { W: c.width, H: c.height, fx: c.fx, fy: c.fy, cx: c.cx, cy: c.cy,
                  R: [].concat(c.R[0], c.R[1], c.R[2]), t: c.t.slice() };
    state.dirty = true;
  }

  function buildFrusta() {
    const cams = posedCameras();
    if (!cams.length) return;
    const size = 0.1 * state.radius;
    const v = [];
    for (const c of cams) {
      const R = [].concat(c.R[0], c.R[1], c.R[2]);
      const toWorld = (p) => { // x_world = R^T (x_cam - t)
        const q = [p[0] - c.t[0], p[1] - c.t[1], p[2] - c.t[2]];
        return [R[0] * q[0] + R[3] * q[1] + R[6] * q[2], R[1] * q[0] + R[4] * q[1] + R[7] * q[2],
                R[2] * q[0] + R[5] * q[1] + R[8] * q[2]];
      };
      const o = toWorld([0, 0, 0]);
      const corner = (u, w) => toWorld([(u - c.cx) / c.fx * size, (w - c.cy) / c.fy * size, size]);
      const k = [corner(0, 0), corner(c.width, 0), corner(c.width, c.height), corner(0, c.height)];
      const tip = toWorld([(c.width / 2 - c.cx) / c.fx * size, (-0.25 * c.height - c.cy) / c.fy * size, size]);
      const seg = (a, b) => v.push(a[0], a[1], a[2], b[0], b[1], b[2]);
      for (let j = 0; j < 4; j++) { seg(o, k[j]); seg(k[j], k[(j + 1) % 4]); }
      seg(k[0], tip); seg(tip, k[1]); // marks the top edge
    }
    const buffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array(v), gl.STATIC_DRAW);
    state.frusta = { buffer, perCamera: 20, count: v.length / 3 };
  }

  // ---- GPU upload and drawing ------------------------------------------------------
  let splatProg, lineProg, vao, lineVao, indexBuffer, dataTex, rowShift;

  function upload(sc) {
    const maxTex = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    rowShift = Math.min(12, Math.floor(Math.log2(maxTex / 2)));
    const perRow = 1 << rowShift;
    const rows = Math.max(1, Math.ceil(sc.n / perRow));
    if (rows > maxTex) throw new Error(sc.n + ' splats exceed what this GPU can hold in a texture (' + perRow * maxTex + ')');
    const data = new Uint32Array(rows * perRow * 8);
    const pos = new Uint32Array(sc.positions.buffer, sc.positions.byteOffset, 3 * sc.n);
    const scl = new Uint32Array(sc.scales.buffer, sc.scales.byteOffset, 3 * sc.n);
    const rgba = new Uint32Array(sc.rgba.buffer, sc.rgba.byteOffset, sc.n);
    const quat = new Uint32Array(sc.quats.buffer, sc.quats.byteOffset, sc.n);
    for (let i = 0, o = 0, p = 0; i < sc.n; i++, o += 8, p += 3) {
      data[o] = pos[p]; data[o + 1] = pos[p + 1]; data[o + 2] = pos[p + 2]; data[o + 3] = rgba[i];
      data[o + 4] = scl[p]; data[o + 5] = scl[p + 1]; data[o + 6] = scl[p + 2]; data[o + 7] = quat[i];
    }
    dataTex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, dataTex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32UI, 2 * perRow, rows, 0, gl.RGBA_INTEGER, gl.UNSIGNED_INT, data);

    splatProg = compile(SPLAT_VS, SPLAT_FS);
    lineProg = compile(LINE_VS, LINE_FS);
    vao = gl.createVertexArray();
    gl.bindVertexArray(vao);
    const corners = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, corners);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const aCorner = gl.getAttribLocation(splatProg.p, 'a_corner');
    gl.enableVertexAttribArray(aCorner);
    gl.vertexAttribPointer(aCorner, 2, gl.FLOAT, false, 0, 0);
    indexBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, indexBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, 4, gl.DYNAMIC_DRAW);
    const aIndex = gl.getAttribLocation(splatProg.p, 'a_index');
    gl.enableVertexAttribArray(aIndex);
    gl.vertexAttribIPointer(aIndex, 1, gl.UNSIGNED_INT, 0, 0);
    gl.vertexAttribDivisor(aIndex, 1);
    gl.bindVertexArray(null);

    lineVao = gl.createVertexArray();
    buildFrusta();
    if (state.frusta) {
      gl.bindVertexArray(lineVao);
      gl.bindBuffer(gl.ARRAY_BUFFER, state.frusta.buffer);
      const aPos = gl.getAttribLocation(lineProg.p, 'a_pos');
      gl.enableVertexAttribArray(aPos);
      gl.vertexAttribPointer(aPos, 3, gl.FLOAT, false, 0, 0);
      gl.bindVertexArray(null);
    }
  }

  // World -> clip for the line overlay (column-major for uniformMatrix4fv).
  function mvp(v, W, H) {
    const n = state.near, f = 1e4 * state.radius + 1;
    const P = [2 * v.fx / W, 0, 2 * v.cx / W - 1, 0,
               0, -2 * v.fy / H, 1 - 2 * v.cy / H, 0,
               0, 0, (f + n) / (f - n), -2 * f * n / (f - n),
               0, 0, 1, 0];
    const V = [v.R[0], v.R[1], v.R[2], v.t[0], v.R[3], v.R[4], v.R[5], v.t[1], v.R[6], v.R[7], v.R[8], v.t[2], 0, 0, 0, 1];
    const out = new Float32Array(16);
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += P[r * 4 + k] * V[k * 4 + c];
        out[c * 4 + r] = s;
      }
    return out;
  }

  function resize() {
    const dpr = Number(params.get('dpr')) || Math.min(window.devicePixelRatio || 1, 2);
    const W = Math.max(1, Math.round(canvas.clientWidth * dpr)), H = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
      state.dirty = true;
    }
  }

  function draw(v) {
    const W = canvas.width, H = canvas.height;
    gl.viewport(0, 0, W, H);
    gl.clearColor(state.bg[0], state.bg[1], state.bg[2], 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!state.count) return;
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(splatProg.p);
    const u = splatProg.u;
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, dataTex);
    gl.uniform1i(u.u_data, 0);
    gl.uniform1i(u.u_rowShift, rowShift);
    gl.uniformMatrix3fv(u.u_R, true, v.R);
    gl.uniform3fv(u.u_t, v.t);
    gl.uniform4f(u.u_intr, v.fx, v.fy, v.cx, v.cy);
    gl.uniform2f(u.u_size, W, H);
    const tfx = 0.5 * W / v.fx, tfy = 0.5 * H / v.fy;
    gl.uniform4f(u.u_lim, (W - v.cx) / v.fx + 0.3 * tfx, v.cx / v.fx + 0.3 * tfx, (H - v.cy) / v.fy + 0.3 * tfy, v.cy / v.fy + 0.3 * tfy);
    gl.uniform1f(u.u_near, state.near);
    gl.bindVertexArray(vao);
    gl.drawArraysInstanced(gl.TRIANGLE_STRIP, 0, 4, state.count);
    if (state.frusta && state.showFrusta) {
      gl.useProgram(lineProg.p);
      gl.uniformMatrix4fv(lineProg.u.u_mvp, false, mvp(v, W, H));
      gl.bindVertexArray(lineVao);
      gl.uniform4f(lineProg.u.u_color, 1.0, 0.6, 0.1, 0.85);
      gl.drawArrays(gl.LINES, 0, state.frusta.count);
      if (state.selected >= 0 && cam.exact === null) {
        gl.uniform4f(lineProg.u.u_color, 0.3, 0.9, 1.0, 1.0);
        gl.drawArrays(gl.LINES, state.selected * state.frusta.perCamera, state.frusta.perCamera);
      }
    }
    gl.bindVertexArray(null);
    gl.disable(gl.BLEND);
  }

  // ---- sorting ------------------------------------------------------------------------
  let worker = null;
  let lastSortView = null;

  function requestSort(v) {
    const key = viewKey(v);
    if (state.sortBusy || key === state.sortedKey) return;
    state.sortBusy = true;
    lastSortView = key;
    worker.postMessage({ type: 'sort', id: ++state.sortId, view: v.R.concat(v.t), near: state.near });
  }

  function onWorkerMessage(e) {
    const m = e.data;
    if (m.type === 'error') { fail('sort worker: ' + m.message); return; }
    if (m.type !== 'sorted') return;
    state.sortBusy = false;
    state.sortedKey = lastSortView;
    state.count = m.count;
    state.sortMs = m.ms;
    gl.bindBuffer(gl.ARRAY_BUFFER, indexBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, m.indices.subarray(0, Math.max(1, m.count)), gl.DYNAMIC_DRAW);
    worker.postMessage({ type: 'recycle', buffer: m.indices }, [m.indices.buffer]);
    state.dirty = true;
  }

  // ---- controls ---------------------------------------------------------------------------
  const keys = new Set();
  let lastTime = 0;

  function moved() {
    unlockExact();
    state.dirty = true;
  }

  function rotate(dx, dy) {
    const e = eye();
    cam.yaw -= dx * 0.005;
    cam.pitch = Math.max(-1.55, Math.min(1.55, cam.pitch - dy * 0.005));
    if (cam.mode === 'fly') cam.target = add(e, scale3(forward(), cam.dist));
  }

  function pan(dx, dy) {
    const W = canvas.width, H = canvas.height;
    const v = currentView(W, H);
    const k = cam.dist / v.fy * (W / Math.max(1, canvas.clientWidth)); // CSS pixels -> buffer pixels
    const r = [v.R[0], v.R[1], v.R[2]], d = [v.R[3], v.R[4], v.R[5]];
    cam.target = add(cam.target, add(scale3(r, -dx * k), scale3(d, -dy * k)));
  }

  function zoom(amount) {
    if (cam.mode === 'orbit') {
      cam.dist = Math.max(1e-4 * state.radius, cam.dist * Math.exp(amount * 0.0015));
    } else {
      cam.target = add(cam.target, scale3(forward(), -amount * 0.002 * state.radius));
    }
  }

  // Double-click: orbit around the most opaque splat centre under the cursor.
  function pick(px, py) {
    const sc = state.scene;
    const W = canvas.width, H = canvas.height;
    const dpr = W / canvas.clientWidth;
    const v = currentView(W, H);
    const x = px * dpr, y = py * dpr, rad = 6 * dpr;
    let best = -1, bestZ = Infinity;
    const P = sc.positions, R = v.R;
    for (let i = 0; i < sc.n; i++) {
      if (sc.rgba[4 * i + 3] < 128) continue;
      const X = P[3 * i], Y = P[3 * i + 1], Z = P[3 * i + 2];
      const z = R[6] * X + R[7] * Y + R[8] * Z + v.t[2];
      if (!(z > state.near) || z >= bestZ) continue;
      const u = v.fx * (R[0] * X + R[1] * Y + R[2] * Z + v.t[0]) / z + v.cx;
      const w = v.fy * (R[3] * X + R[4] * Y + R[5] * Z + v.t[1]) / z + v.cy;
      if (Math.abs(u - x) <= rad && Math.abs(w - y) <= rad) { best = i; bestZ = z; }
    }
    if (best < 0) return;
    const p = [P[3 * best], P[3 * best + 1], P[3 * best + 2]];
    unlockExact();
    const e = eye();
    const toP = add(p, scale3(e, -1));
    cam.dist = Math.max(1e-4 * state.radius, Math.hypot(toP[0], toP[1], toP[2]));
    lookFrom(e, toP);
    cam.target = p;
    state.dirty = true;
  }

  function setMode(m) {
    cam.mode = m;
    state.dirty = true;
    $('mode').textContent = m;
    $('mode').classList.toggle('on', m === 'fly');
  }

  function installControls() {
    const pointers = new Map();
    let pinch = 0;
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY, button: e.button, shift: e.shiftKey });
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = Math.hypot(a.x - b.x, a.y - b.y);
      }
      canvas.focus();
    });
    canvas.addEventListener('pointermove', (e) => {
      const p = pointers.get(e.pointerId);
      if (!p) return;
      const dx = e.clientX - p.x, dy = e.clientY - p.y;
      p.x = e.clientX;
      p.y = e.clientY;
      if (!dx && !dy) return;
      moved();
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const d = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch > 0 && d > 0) zoom(-400 * Math.log(d / pinch));
        pinch = d;
        pan(dx / 2, dy / 2);
      } else if (p.button === 2 || p.button === 1 || p.shift) {
        pan(dx, dy);
      } else {
        rotate(dx, dy);
      }
    });
    const up = (e) => { pointers.delete(e.pointerId); pinch = 0; };
    canvas.addEventListener('pointerup', up);
    canvas.addEventListener('pointercancel', up);
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      moved();
      zoom(e.deltaMode === 1 ? e.deltaY * 30 : e.deltaY);
    }, { passive: false });
    canvas.addEventListener('dblclick', (e) => pick(e.clientX, e.clientY));
    window.addEventListener('keydown', (e) => {
      if (e.target instanceof HTMLSelectElement || e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key.toLowerCase();
      if (k === 'f') setMode(cam.mode === 'orbit' ? 'fly' : 'orbit');
      else if (k === 'r') { initialView(); }
      else if (k === 'c') selectCamera(state.selected + (e.shiftKey ? -1 : 1));
      else if (k === 'v') toggleFrusta();
      else if (k === 'h') toggleHelp();
      else if (k === 'u') { unlockExact(); const f = forward(), e0 = eye(); setUp(scale3(cam.up, -1)); lookFrom(e0, f); if (cam.mode === 'orbit') cam.target = add(e0, scale3(f, cam.dist)); state.dirty = true; }
      else if (['w', 'a', 's', 'd', 'q', 'e', 'arrowup', 'arrowdown', 'arrowleft', 'arrowright'].includes(k)) {
        keys.add(k);
        e.preventDefault();
      }
    });
    window.addEventListener('keyup', (e) => keys.delete(e.key.toLowerCase()));
    window.addEventListener('blur', () => keys.clear());
  }

  function applyKeys(dt, shift) {
    if (!keys.size) return;
    const f = forward();
    const r = norm(cross(f, cam.up));
    let m = [0, 0, 0];
    const has = (...ks) => ks.some((k) => keys.has(k));
    if (has('w', 'arrowup')) m = add(m, f);
    if (has('s', 'arrowdown')) m = add(m, scale3(f, -1));
    if (has('d', 'arrowright')) m = add(m, r);
    if (has('a', 'arrowleft')) m = add(m, scale3(r, -1));
    if (has('e')) m = add(m, cam.up);
    if (has('q')) m = add(m, scale3(cam.up, -1));
    const speed = 0.4 * state.radius * (shift ? 4 : 1);
    moved();
    cam.target = add(cam.target, scale3(m, speed * dt));
  }
  let shiftHeld = false;
  window.addEventListener('keydown', (e) => { shiftHeld = e.shiftKey; });
  window.addEventListener('keyup', (e) => { shiftHeld = e.shiftKey; });

  function toggleFrusta() {
    state.showFrusta = !state.showFrusta;
    $('frusta-toggle').classList.toggle('on', state.showFrusta);
    state.dirty = true;
  }
  function toggleHelp() {
    const h = $('help');
    h.style.display = h.style.display === 'block' ? 'none' : 'block';
  }

  // ---- downloads ----------------------------------------------------------------------------
  function saveBlob(parts, name) {
    const url = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // Stand-alone pages have no server: .splat is the embedded data row by row,
  // .ply an INRIA PLY of it (DC colour, logit opacity, log scale).
  function exportSplat(sc) {
    const out = new Uint8Array(32 * sc.n);
    const f = new Float32Array(out.buffer);
    for (let i = 0; i < sc.n; i++) {
      f.set(sc.positions.subarray(3 * i, 3 * i + 3), 8 * i);
      f.set(sc.scales.subarray(3 * i, 3 * i + 3), 8 * i + 3);
      out.set(sc.rgba.subarray(4 * i, 4 * i + 4), 32 * i + 24);
      out.set(sc.quats.subarray(4 * i, 4 * i + 4), 32 * i + 28);
    }
    return out;
  }
  function exportPly(sc) {
    const props = ['x', 'y', 'z', 'nx', 'ny', 'nz', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity',
                   'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
    const header = 'ply\nformat binary_little_endian 1.0\nelement vertex ' + sc.n + '\n' +
                   props.map((p) => 'property float ' + p + '\n').join('') + 'end_header\n';
    const body = new Float32Array(17 * sc.n);
    const C0 = 0.28209479177387814;
    for (let i = 0, o = 0; i < sc.n; i++, o += 17) {
      for (let k = 0; k < 3; k++) {
        body[o + k] = sc.positions[3 * i + k];
        body[o + 6 + k] = (sc.rgba[4 * i + k] / 255 - 0.5) / C0;
        body[o + 10 + k] = Math.log(sc.scales[3 * i + k]);
      }
      const a = Math.min(Math.max(sc.rgba[4 * i + 3] / 255, 1e-6), 1 - 1e-6);
      body[o + 9] = Math.log(a / (1 - a));
      let qn = 0;
      for (let k = 0; k < 4; k++) qn += ((sc.quats[4 * i + k] - 128) / 128) ** 2;
      qn = qn > 0 ? 1 / Math.sqrt(qn) : 0;
      for (let k = 0; k < 4; k++) body[o + 13 + k] = (sc.quats[4 * i + k] - 128) / 128 * qn;
    }
    return [new TextEncoder().encode(header), body];
  }

  function setupDownloads(sc) {
    const row = $('downloads');
    const base = CFG.downloadBase || 'scene';
    if (CFG.mode === 'standalone') {
      for (const [ext, make] of [['ply', () => exportPly(sc)], ['splat', () => [exportSplat(sc)]]]) {
        const b = document.createElement('button');
        b.textContent = '.' + ext;
        b.title = 'the embedded splats (8-bit colour and rotation) as .' + ext;
        b.addEventListener('click', () => saveBlob(make(), base + '.' + ext));
        row.append(' ', b);
      }
    } else {
      for (const ext of CFG.downloads || []) {
        const a = document.createElement('a');
        a.className = 'btn';
        a.href = 'download/' + encodeURIComponent(base) + '.' + ext;
        a.download = base + '.' + ext;
        a.textContent = '.' + ext;
        a.title = 'the full scene as .' + ext + ', written by gs';
        row.append(' ', a);
      }
    }
  }

  // ---- main loop --------------------------------------------------------------------------------
  function updateStats() {
    const sc = state.scene;
    $('stats').textContent = sc.n.toLocaleString('en-US') + ' splats, ' + state.count.toLocaleString('en-US') +
      ' in front; sort ' + state.sortMs.toFixed(0) + ' ms; ' + cam.mode + (cam.exact ? ' (exact camera)' : '');
  }

  function frame(time) {
    if (failed) return;
    const dt = lastTime ? Math.min(0.1, (time - lastTime) / 1000) : 0;
    lastTime = time;
    try {
      resize();
      applyKeys(dt, shiftHeld);
      const v = currentView(canvas.width, canvas.height);
      requestSort(v);
      if (state.dirty) {
        state.dirty = false;
        draw(v);
        updateStats();
        const settled = state.sortedKey === viewKey(v);
        if (settled && !state.ready) {
          state.ready = true;
          root.dataset.status = 'ok';
          root.dataset.sortMs = state.sortMs.toFixed(1);
        }
      }
    } catch (err) {
      fail(String((err && err.message) || err));
      return;
    }
    requestAnimationFrame(frame);
  }

  async function main() {
    if (!gl) throw new Error('WebGL2 is not available in this browser');
    if (params.get('ui') === '0') { $('hud').classList.add('hidden'); state.ui = false; }
    if (params.get('frusta') === '0') state.showFrusta = false;
    const bg = numberList('bg', 3);
    if (bg) state.bg = bg;
    document.body.style.background = 'rgb(' + state.bg.map((x) => Math.round(255 * x)).join(',') + ')';
    const view = numberList('view', 18);

    const sc = parseScene(await loadBytes());
    state.scene = sc;
    const ext = sceneExtent(sc.positions, sc.n);
    state.centre = ext.centre;
    state.radius = ext.radius;
    const cams = posedCameras();
    if (cams.length) {
      let up = [0, 0, 0];
      for (const c of cams) up = add(up, [-c.R[1][0], -c.R[1][1], -c.R[1][2]]);
      setUp(Math.hypot(...up) > 0 ? up : [0, -1, 0]);
      const sel = $('cameras');
      cams.forEach((c, i) => {
        const o = document.createElement('option');
        o.value = String(i);
        o.textContent = (i + 1) + ': ' + (c.name || 'camera');
        sel.append(o);
      });
      sel.addEventListener('change', () => { if (sel.value !== '-1') selectCamera(Number(sel.value)); sel.blur(); });
    } else {
      setUp([0, -1, 0]);
      $('camera-row').classList.add('hidden');
      $('frusta-toggle').classList.add('hidden');
    }
    $('frusta-toggle').classList.toggle('on', state.showFrusta);
    resize();
    upload(sc);

    worker = new Worker(URL.createObjectURL(new Blob([$('gs-sort-worker').textContent], { type: 'text/javascript' })));
    worker.onmessage = onWorkerMessage;
    worker.onerror = (e) => fail('sort worker: ' + (e.message || 'failed'));
    const workerPositions = sc.positions.slice();
    worker.postMessage({ type: 'init', positions: workerPositions }, [workerPositions.buffer]);

    initialView();
    if (view) {
      cam.exact = { W: view[0], H: view[1], fx: view[2], fy: view[3], cx: view[4], cy: view[5],
                    R: view.slice(6, 15), t: view.slice(15, 18) };
      state.selected = -1;
    }
    setupDownloads(sc);
    installControls();
    $('mode').addEventListener('click', () => setMode(cam.mode === 'orbit' ? 'fly' : 'orbit'));
    $('reset').addEventListener('click', () => initialView());
    $('frusta-toggle').addEventListener('click', toggleFrusta);
    $('help-toggle').addEventListener('click', toggleHelp);
    requestAnimationFrame(frame);
  }

  main().catch((err) => fail(String((err && err.message) || err)));
})();
