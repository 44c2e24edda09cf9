import { createRequire } from 'module';
const k = createRequire(import.meta.url)('./native/build/Release/samflow_kernels.node');
function t(m, n, kk, ta, tb, fresh) {
  const a = new Float32Array(m*kk).fill(0.5), b = new Float32Array(kk*n).fill(0.25); const z = new Float64Array([0]);
  let out = new Float32Array(m*n);
  const ts = [];
  for (let r = 0; r < 4; r++) { if (fresh) out = new Float32Array(m*n); const t0 = performance.now(); k.batchMatMul(a, z, b, z, out, m, n, kk, ta, tb); ts.push(performance.now() - t0); }
  console.log(`${m}x${kk}x${n} ${ta} ${tb} fresh=${fresh}`, ts.map(x => x.toFixed(1)).join(' '), 'GFLOP/s', (2*m*n*kk/Math.min(...ts)/1e6).toFixed(0));
}
t(4096, 4096, 64, false, true, true); t(4096, 4096, 64, false, true, false); t(4096, 2304, 4, false, false, true); t(4096, 2304, 4, false, false, false); t(4096,64,4096,false,false,true);
