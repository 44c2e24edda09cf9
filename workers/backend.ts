/**
 * Backend selection for the tensor worker: the fastest TensorFlow.js backend that loads.
 *
 * Order: tfjs-node-gpu (CUDA) -> tfjs-node (libtensorflow CPU) -> native (the cpu backend with
 * this repository's native kernels: OpenBLAS or blocked GEMM on every core) -> wasm (SIMD, one
 * thread in Node) -> cpu (plain JS). The tfjs-node packages are optional dependencies whose
 * installers download libtensorflow, and the native kernels are built by `npm ci`; where either
 * failed it is absent, and we say why.
 */
import * as tf from '@tensorflow/tfjs';
import { registerFastMatMulGradient } from './matmul-gradient.ts';
import { registerTrainingMemory } from './training-memory.ts';
import { loadAddon } from './native/addon.ts';
import { checkThreadsSetting, poolBytes } from './native/native-backend.ts';
import { NATIVE_BACKEND, registerNativeBackend } from './native/register.ts';

export const BACKEND_ORDER = ['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_ORDER)[number];

export interface BackendAttempt {
  readonly name: BackendChoice;
  readonly ok: boolean;
  /** Why it did not load (or what it is, when it did). */
  readonly detail: string;
}

export interface BackendReport {
  /** The backend name tfjs reports ('tensorflow', 'native', 'wasm', 'cpu'). */
  readonly active: string;
  readonly selected: BackendChoice;
  readonly attempts: readonly BackendAttempt[];
}

export function parseBackendChoice(value: string | undefined, where: string): BackendChoice | undefined {
  if (value === undefined || value === '' || value === 'auto') return undefined;
  if ((BACKEND_ORDER as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`${where}: unknown backend '${value}' (expected one of: auto, ${BACKEND_ORDER.join(', ')})`);
}

async function tryLoad(name: BackendChoice): Promise<BackendAttempt> {
  try {
    switch (name) {
      case 'tfjs-node-gpu':
      case 'tfjs-node': {
        const pkg = `@tensorflow/${name}`;
        try {
          await import(pkg);
        } catch (error) {
          return { name, ok: false, detail: nativeReason(pkg, error) };
        }
        if (!(await tf.setBackend('tensorflow'))) return { name, ok: false, detail: `${pkg} loaded but its 'tensorflow' backend did not initialise` };
        return { name, ok: true, detail: `${pkg} (libtensorflow${name === 'tfjs-node-gpu' ? ', CUDA' : ''})` };
      }
      case 'native': {
        poolBytes();
        checkThreadsSetting();
        const load = loadAddon();
        if (!load.ok) return { name, ok: false, detail: load.reason };
        registerNativeBackend(load.addon);
        if (!(await tf.setBackend(NATIVE_BACKEND))) return { name, ok: false, detail: 'the native backend did not initialise' };
        registerFastMatMulGradient();
        const info = load.addon.info();
        return { name, ok: true, detail: `cpu backend + native kernels, GEMM: ${info.description}` };
      }
      case 'wasm': {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        if (!(await tf.setBackend('wasm'))) return { name, ok: false, detail: 'the wasm backend did not initialise' };
        registerFastMatMulGradient();
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        return { name, ok: true, detail: `@tensorflow/tfjs-backend-wasm ${wasm.version_wasm} (SIMD ${simd ? 'on' : 'off'}, 1 thread: tfjs disables wasm threads under Node; matMul gradients without transpose flags)` };
      }
      case 'cpu':
        if (!(await tf.setBackend('cpu'))) return { name, ok: false, detail: 'the cpu backend did not initialise' };
        return { name, ok: true, detail: 'plain JavaScript kernels (slowest)' };
    }
  } catch (error) {
    return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

function nativeReason(pkg: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/Cannot find (package|module)/.test(message) && message.includes(pkg)) {
    return `${pkg} is not installed: it is an optional dependency whose installer downloads libtensorflow, and that download failed or was skipped on this machine (see the npm ci log)`;
  }
  return `${pkg} is installed but failed to load: ${message.split('\n')[0]}`;
}

/**
 * Loads the preferred backend, or the first that works in BACKEND_ORDER. A named preference
 * that cannot load is an error, not a silent fallback.
 */
export async function selectBackend(preferred?: BackendChoice): Promise<BackendReport> {
  registerTrainingMemory();
  const attempts: BackendAttempt[] = [];
  for (const name of preferred ? [preferred] : BACKEND_ORDER) {
    const attempt = await tryLoad(name);
    attempts.push(attempt);
    if (attempt.ok) return { active: tf.getBackend(), selected: name, attempts };
  }
  const why = attempts.map((a) => `${a.name}: ${a.detail}`).join('; ');
  throw new Error(preferred ? `backend '${preferred}' could not be loaded (${why})` : `no TensorFlow.js backend could be loaded (${why})`);
}

/** Tries every backend (for `samflow backends`), then selects the best one that loaded. */
export async function probeBackends(): Promise<BackendReport> {
  const attempts: BackendAttempt[] = [];
  for (const name of BACKEND_ORDER) attempts.push(await tryLoad(name));
  const best = attempts.find((a) => a.ok);
  if (best) await tf.setBackend(best.name.startsWith('tfjs-node') ? 'tensorflow' : best.name);
  return { active: tf.getBackend(), selected: best?.name ?? 'cpu', attempts };
}
