import { createRequire } from 'module';
const k = createRequire(import.meta.url)('./native/build/Release/samflow_kernels.node');
const n = 3 * 1024 * 1024;
const a = new Float32Array(n).fill(1), b = new Float32Array(n).fill(2), o2 = new Float32Array(n);
const shape = Int32Array.of(n), s = Int32Array.of(1);
for (let r = 0; r < 5; r++) {
  let t0 = performance.now(); const o = new Float32Array(n); k.binary(2, shape, a, s, b, s, o); const t1 = performance.now();
  k.binary(2, shape, a, s, b, s, o2); const t2 = performance.now();
  k.unary(0, a, o2); const t3 = performance.now();
  console.log('fresh', (t1 - t0).toFixed(2), 'reused', (t2 - t1).toFixed(2), 'exp', (t3-t2).toFixed(2));
}
