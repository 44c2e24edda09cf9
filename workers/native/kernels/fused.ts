/** The native side of src/nodes/tensor/fused.ts: GELU, LayerNorm and the Softmax backward in one pass each. */
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { FUSED_KERNELS } from '../../../src/nodes/tensor/fused.ts';
import type { NativeAddon } from '../addon.ts';
import { float32Values, outputArray } from './cpu-kernels.ts';

const rowsOf = (shape: number[]) => {
  const cols = shape[shape.length - 1] ?? 1;
  return { rows: cols === 0 ? 0 : tf.util.sizeFromShape(shape) / cols, cols };
};

export function fusedKernels(addon: NativeAddon): Record<string, tf.KernelFunc> {
  return {
    [FUSED_KERNELS.gelu]: ({ inputs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const cpu = backend as MathBackendCPU;
      const out = outputArray(cpu, tf.util.sizeFromShape(x.shape));
      addon.gelu(float32Values(cpu, x, 'gelu x'), out);
      return cpu.makeTensorInfo(x.shape, 'float32', out);
    },
    [FUSED_KERNELS.geluGrad]: ({ inputs, backend }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const cpu = backend as MathBackendCPU;
      const out = outputArray(cpu, tf.util.sizeFromShape(x.shape));
      addon.geluGrad(float32Values(cpu, x, 'gelu x'), float32Values(cpu, dy, 'gelu dy'), out);
      return cpu.makeTensorInfo(x.shape, 'float32', out);
    },
    [FUSED_KERNELS.layerNorm]: ({ inputs, backend, attrs }) => {
      const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
      const cpu = backend as MathBackendCPU;
      const { rows, cols } = rowsOf(x!.shape);
      const out = outputArray(cpu, tf.util.sizeFromShape(x!.shape));
      addon.layerNorm(float32Values(cpu, x!, 'layerNorm x'), float32Values(cpu, gamma!, 'layerNorm gamma'), float32Values(cpu, beta!, 'layerNorm beta'), out, rows, cols, (attrs as { epsilon: number }).epsilon);
      return cpu.makeTensorInfo(x!.shape, 'float32', out);
    },
    [FUSED_KERNELS.layerNormGrad]: ({ inputs, backend, attrs }) => {
      const { x, gamma, dy } = inputs as Record<string, tf.TensorInfo>;
      const cpu = backend as MathBackendCPU;
      const { rows, cols } = rowsOf(x!.shape);
      const dx = outputArray(cpu, tf.util.sizeFromShape(x!.shape));
      const dgamma = outputArray(cpu, cols);
      const dbeta = outputArray(cpu, cols);
      addon.layerNormGrad(float32Values(cpu, x!, 'layerNorm x'), float32Values(cpu, gamma!, 'layerNorm gamma'), float32Values(cpu, dy!, 'layerNorm dy'), dx, dgamma, dbeta, rows, cols, (attrs as { epsilon: number }).epsilon);
      return [cpu.makeTensorInfo(x!.shape, 'float32', dx), cpu.makeTensorInfo([cols], 'float32', dgamma), cpu.makeTensorInfo([cols], 'float32', dbeta)];
    },
    [FUSED_KERNELS.softmaxGrad]: ({ inputs, backend }) => {
      const { y, dy } = inputs as { y: tf.TensorInfo; dy: tf.TensorInfo };
      const cpu = backend as MathBackendCPU;
      const { rows, cols } = rowsOf(y.shape);
      const out = outputArray(cpu, tf.util.sizeFromShape(y.shape));
      addon.softmaxGrad(float32Values(cpu, y, 'softmax y'), float32Values(cpu, dy, 'softmax dy'), out, rows, cols);
      return cpu.makeTensorInfo(y.shape, 'float32', out);
    },
  };
}
