const n = 3 * 1024 * 1024;
const a = new Float32Array(n).fill(1), b = new Float32Array(n).fill(2);
for (let r = 0; r < 5; r++) {
  let t0 = performance.now(); const o = new Float32Array(n); const t1 = performance.now();
  for (let i = 0; i < n; i++) o[i] = a[i] * b[i]; const t2 = performance.now();
  for (let i = 0; i < n; i++) o[i] = a[i] * b[i]; const t3 = performance.now();
  console.log('alloc', (t1 - t0).toFixed(2), 'first write', (t2 - t1).toFixed(2), 'second', (t3 - t2).toFixed(2));
}
