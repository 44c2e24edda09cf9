/**
 * A tensor inside a checkpoint file, known by name, dtype and shape before its data is read,
 * so a loader can check a whole file against the model first and then read one tensor at a time.
 */
export type StoredDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';

export interface TensorEntry {
  readonly name: string;
  readonly dtype: StoredDtype;
  readonly shape: readonly number[];
  /** Reads the values as float32 (converting half, bfloat16 and double). */
  read(): Promise<Float32Array>;
}

export interface CheckpointFile {
  readonly path: string;
  readonly format: 'pytorch' | 'safetensors';
  readonly entries: ReadonlyMap<string, TensorEntry>;
  close(): Promise<void>;
}

/** Decodes little-endian raw values of a stored dtype into float32. */
export function toFloat32(bytes: Uint8Array, dtype: StoredDtype, count: number, where: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'float32':
      // Copy into a fresh buffer: the source need not be 4-byte aligned (and Buffer#slice would not copy).
      return new Float32Array(new Uint8Array(bytes.subarray(0, count * 4)).buffer);
    case 'float64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'float16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    case 'bfloat16': {
      const word = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) word[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'int32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    case 'int64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      return out;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < count; i++) out[i] = bytes[i]!;
      return out;
    default:
      throw new Error(`${where}: unsupported dtype ${String(dtype)}`);
  }
}

export const DTYPE_BYTES: Record<StoredDtype, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
