/**
 * PyTorch checkpoint files as torch.save writes them since 1.6 (the released SAM .pth files):
 * a zip holding `<archive>/data.pkl` (the pickled state dict, whose tensors point at storages
 * by key) and `<archive>/data/<key>` (each storage's raw little-endian bytes). yauzl reads the
 * zip's directory and then one storage at a time; pickleparser runs the pickle with resolvers
 * that turn torch's rebuild calls into tensor descriptions instead of tensors.
 */
import { Parser } from 'pickleparser';
import yauzl from 'yauzl';
import { DTYPE_BYTES, toFloat32, type CheckpointFile, type StoredDtype, type TensorEntry } from './tensor-entry.ts';

const STORAGE_DTYPES: Record<string, StoredDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

interface StorageRef {
  readonly key: string;
  readonly dtype: StoredDtype;
  readonly numel: number;
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

class StorageType {
  constructor(readonly dtype: StoredDtype) {}
}

function parseStateDict(pickle: Uint8Array, path: string): Map<string, TensorRef> {
  const parser = new Parser({
    unpicklingTypeOfDictionary: 'Map',
    nameResolver: {
      resolve(module: string, name: string) {
        if (module === 'collections' && name === 'OrderedDict') return () => new Map();
        if (module === 'torch._utils' && name === '_rebuild_tensor_v2') {
          return (storage: StorageRef, offset: number, size: number[], stride: number[]) => new TensorRef(storage, Number(offset), size.map(Number), stride.map(Number));
        }
        if (module === 'torch._utils' && name === '_rebuild_parameter') return (data: TensorRef) => data;
        if (module === 'torch' && name in STORAGE_DTYPES) return function storageType() { return new StorageType(STORAGE_DTYPES[name]!); } as unknown as new () => StorageType;
        if (module === 'torch' && name.endsWith('Storage')) throw new Error(`${path}: tensors stored as ${name} are not supported`);
        // Anything else (argparse namespaces, optimizer state, …) is kept as an opaque object.
        return function opaque() { return { __opaque__: `${module}.${name}` }; };
      },
    },
    persistentResolver: {
      resolve(pid: unknown) {
        const [kind, type, key, , numel] = pid as [string, StorageType | (() => StorageType), string, string, number];
        if (kind !== 'storage') throw new Error(`${path}: unknown persistent id '${String(kind)}' in data.pkl`);
        const dtype = type instanceof StorageType ? type.dtype : (type as () => StorageType)().dtype;
        return { key: String(key), dtype, numel: Number(numel) } satisfies StorageRef;
      },
    },
  });
  const root = parser.parse<unknown>(pickle);
  // Training checkpoints often wrap the weights: {'model': state_dict} or {'state_dict': ...}.
  const dict = root instanceof Map && !hasTensors(root) ? (root.get('model') ?? root.get('state_dict')) : root;
  if (!(dict instanceof Map) || !hasTensors(dict)) {
    throw new Error(`${path}: data.pkl holds no state dict (expected a dict of tensors, or one under 'model' or 'state_dict')`);
  }
  const out = new Map<string, TensorRef>();
  for (const [name, value] of dict) if (value instanceof TensorRef) out.set(String(name), value);
  return out;
}

function hasTensors(map: Map<unknown, unknown>): boolean {
  for (const v of map.values()) if (v instanceof TensorRef) return true;
  return false;
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (error, zip) => (error ? reject(error) : resolve(zip))),
  );
}

function listEntries(zip: yauzl.ZipFile): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (error, stream) => {
      if (error) return reject(error);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('error', reject);
    }),
  );
}

export async function openPytorchCheckpoint(path: string): Promise<CheckpointFile> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path}: no such file (expected a PyTorch checkpoint from torch.save)`);
    if (code === 'EISDIR') throw new Error(`${path}: a folder, not a file (expected a PyTorch checkpoint from torch.save)`);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${path}: not a PyTorch zip checkpoint, or truncated (${reason}). Files from torch.save before 1.6 must be re-saved with a newer torch.`);
  }
  try {
    const files = await listEntries(zip);
    const pkl = [...files.keys()].find((name) => name.endsWith('data.pkl') && name.split('/').length === 2);
    if (!pkl) throw new Error(`${path}: the zip holds no <archive>/data.pkl, so it is not a torch.save checkpoint`);
    const prefix = pkl.slice(0, -'data.pkl'.length);
    const refs = parseStateDict(await readEntry(zip, files.get(pkl)!), path);
    const entries = new Map<string, TensorEntry>();
    for (const [name, ref] of refs) {
      const file = files.get(`${prefix}data/${ref.storage.key}`);
      if (!file) throw new Error(`${path}: tensor '${name}' points at storage '${ref.storage.key}', which is missing from the zip`);
      const count = ref.shape.reduce((a, b) => a * b, 1);
      entries.set(name, {
        name,
        dtype: ref.storage.dtype,
        shape: ref.shape,
        read: async () => {
          const bytes = await readEntry(zip, file);
          const width = DTYPE_BYTES[ref.storage.dtype];
          if (bytes.length < ref.storage.numel * width) {
            throw new Error(`${path}: storage of '${name}' is truncated (${bytes.length} of ${ref.storage.numel * width} bytes)`);
          }
          const storage = toFloat32(bytes, ref.storage.dtype, ref.storage.numel, `${path}: '${name}'`);
          return gatherStrided(storage, ref, count);
        },
      });
    }
    return { path, format: 'pytorch', entries, close: async () => zip.close() };
  } catch (error) {
    zip.close();
    throw error;
  }
}

/** The tensor's values in C order from its storage, honouring offset and strides (views, transposes). */
function gatherStrided(storage: Float32Array, ref: TensorRef, count: number): Float32Array {
  const { shape, stride, offset } = ref;
  let contiguous = true;
  for (let d = shape.length - 1, expected = 1; d >= 0; d--) {
    if (shape[d]! > 1 && stride[d] !== expected) contiguous = false;
    expected *= shape[d]!;
  }
  if (contiguous) return storage.slice(offset, offset + count);
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = offset;
    for (let d = 0; d < shape.length; d++) at += index[d]! * stride[d]!;
    out[i] = storage[at]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}
