/**
 * NumPy .npy files (format versions 1-3, C order, little-endian): the exchange format for
 * reference fixtures, SAM inputs/outputs and the MTAN NYUv2 layout.
 *
 * ```ts
 * const { shape, data } = readNpy(await readFile('image.npy'), 'image.npy');
 * await writeFile('out.npy', writeNpy(new Float32Array([1, 2]), [2]));
 * ```
 */
export type NpyData = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array | BigInt64Array;

export interface NpyArray {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DTYPES: Record<string, { bytes: number; make: (buf: ArrayBuffer, offset: number, length: number) => NpyData }> = {
  '<f4': { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  '<i4': { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<i8': { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  '<i2': { bytes: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  '<u2': { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  '|u1': { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '|i1': { bytes: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  '|b1': { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
};

/** Parses an .npy buffer; `file` names the source in every error. */
export function readNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new Error(`${file}: not an .npy file (bad magic bytes)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new Error(`${file}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${file}: unreadable .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new Error(`${file}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const dtype = DTYPES[descr];
  if (!dtype) throw new Error(`${file}: dtype '${descr}' is not supported (expected one of ${Object.keys(DTYPES).join(', ')})`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const needed = count * dtype.bytes;
  if (bytes.length - dataStart < needed) {
    throw new Error(`${file}: truncated: shape [${shape.join(', ')}] ${descr} needs ${needed} bytes of data, the file has ${bytes.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer: the file's data offset need not be a multiple of the element size.
  // (new Uint8Array(view) copies; Buffer#slice would not.)
  const copy = new Uint8Array(bytes.subarray(dataStart, dataStart + needed));
  return { dtype: descr, shape, data: dtype.make(copy.buffer, 0, count) };
}

/** Serialises a C-order array as .npy version 1.0. */
export function writeNpy(data: Float32Array | Float64Array | Int32Array | Uint8Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`writeNpy: shape [${shape.join(', ')}] holds ${count} values, the data has ${data.length}`);
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Float64Array ? '<f8' : data instanceof Int32Array ? '<i4' : '|u1';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary, ending the header with '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = `${header.padEnd(total - 10 - 1, ' ')}\n`;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
