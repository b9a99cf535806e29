// sort_worker.js - orders the splats back to front for the viewer, off the
// main thread. A counting sort on a 16-bit key: the key is the float32 bit
// pattern of the camera-space depth, which grows with log(depth), so near and
// far splats get the same relative depth resolution (a linear 16-bit key
// misorders the foreground of scenes with a distant background). Splats
// behind the near plane (or with non-finite positions) are left out.
'use strict';

let positions = null; // Float32Array [n * 3], world space
let depth = null; // Float32Array [n]
let depthBits = null; // Uint32Array view of depth
let keys = null; // Uint16Array [n]
const counts = new Uint32Array(65536);
const spare = []; // index buffers handed back by the main thread

function takeBuffer(count) {
  while (spare.length) {
    const b = spare.pop();
    if (b.length >= count) return b;
  }
  return new Uint32Array(Math.max(count, 1));
}

function sortView(view, near) {
  const n = depth.length;
  const r0 = view[6], r1 = view[7], r2 = view[8], t = view[11];
  let zmin = Infinity, zmax = -Infinity, visible = 0;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const z = r0 * positions[p] + r1 * positions[p + 1] + r2 * positions[p + 2] + t;
    depth[i] = z;
    if (z >= near && z < Infinity) {
      visible++;
      if (z < zmin) zmin = z;
      if (z > zmax) zmax = z;
    }
  }
  const out = takeBuffer(visible);
  if (visible === 0) return { out, visible };
  const probe = new Float32Array(2);
  const probeBits = new Uint32Array(probe.buffer);
  probe[0] = zmin;
  probe[1] = zmax;
  const bmin = probeBits[0], span = Math.max(1, probeBits[1] - bmin);
  const scale = 65535 / span;
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    const z = depth[i];
    if (!(z >= near && z < Infinity)) continue;
    const k = 65535 - (((depthBits[i] - bmin) * scale) | 0); // far first; the product is in [0, 65535]
    keys[i] = k;
    counts[k]++;
  }
  let sum = 0;
  for (let k = 0; k < 65536; k++) {
    const c = counts[k];
    counts[k] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const z = depth[i];
    if (!(z >= near && z < Infinity)) continue;
    out[counts[keys[i]]++] = i;
  }
  return { out, visible };
}

self.onmessage = (e) => {
  const m = e.data;
  try {
    if (m.type === 'init') {
      positions = m.positions;
      const n = positions.length / 3;
      depth = new Float32Array(n);
      depthBits = new Uint32Array(depth.buffer);
      keys = new Uint16Array(n);
    } else if (m.type === 'recycle') {
      if (spare.length < 2) spare.push(m.buffer);
    } else if (m.type === 'sort') {
      const t0 = performance.now();
      const { out, visible } = sortView(m.view, m.near);
      const ms = performance.now() - t0;
      self.postMessage({ type: 'sorted', id: m.id, indices: out, count: visible, ms }, [out.buffer]);
    }
  } catch (err) {
    self.postMessage({ type: 'error', message: String(err && err.stack || err) });
  }
};
