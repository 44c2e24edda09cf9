/**
 * Hugging Face safetensors files: an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets}}, then the raw data. Tensors are read one at a time with
 * positioned reads, so the file is never held in memory whole.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { DTYPE_BYTES, toFloat32, type CheckpointFile, type StoredDtype, type TensorEntry } from './tensor-entry.ts';

const DTYPES: Record<string, StoredDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64', I32: 'int32', U8: 'uint8', BOOL: 'bool' };

export async function openSafetensors(path: string): Promise<CheckpointFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: no such file (expected a .safetensors file)`);
    throw new Error(`${path}: cannot open the .safetensors file (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(8);
    if (size < 8 || (await handle.read(head, 0, 8, 0)).bytesRead < 8) throw new Error(`${path}: not a safetensors file (shorter than its 8-byte header length)`);
    const headerLength = Number(head.readBigUInt64LE(0));
    if (headerLength > size - 8 || headerLength > 100_000_000) {
      throw new Error(`${path}: not a safetensors file or truncated (header length ${headerLength} but the file has ${size} bytes)`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, 8);
    let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as typeof header;
    } catch (error) {
      throw new Error(`${path}: unreadable safetensors header (${error instanceof Error ? error.message : String(error)})`);
    }
    const dataStart = 8 + headerLength;
    const entries = new Map<string, TensorEntry>();
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const dtype = DTYPES[info.dtype];
      if (!dtype) throw new Error(`${path}: tensor '${name}' has dtype ${info.dtype}; supported: ${Object.keys(DTYPES).join(', ')}`);
      const [begin, end] = info.data_offsets;
      const count = info.shape.reduce((a, b) => a * b, 1);
      if (end - begin !== count * DTYPE_BYTES[dtype]) {
        throw new Error(`${path}: tensor '${name}' [${info.shape.join(', ')}] ${info.dtype} should take ${count * DTYPE_BYTES[dtype]} bytes, its offsets span ${end - begin}`);
      }
      if (dataStart + end > size) {
        throw new Error(`${path}: truncated: tensor '${name}' ends at byte ${dataStart + end} but the file has ${size} bytes`);
      }
      entries.set(name, {
        name,
        dtype,
        shape: info.shape,
        read: async () => {
          const bytes = Buffer.alloc(end - begin);
          await handle.read(bytes, 0, end - begin, dataStart + begin);
          return toFloat32(bytes, dtype, count, `${path}: '${name}'`);
        },
      });
    }
    return { path, format: 'safetensors', entries, close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Writes float32 tensors as a safetensors file (used for adapter checkpoints and tests). */
export function encodeSafetensors(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + jsonBytes.length + offset);
  out.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(out, 8);
  let at = 8 + jsonBytes.length;
  for (const t of tensors.values()) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, at);
    at += t.data.byteLength;
  }
  return out;
}
