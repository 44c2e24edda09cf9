/**
 * Port types: the vocabulary of values that flow along graph edges.
 *
 * A port type has a literal `name`, which is what makes two port types incompatible at compile
 * time even when their value types are structurally equal (an image batch and a mask batch are
 * both `TensorData`). `Main` is the value a main-thread node sees, `Worker` the value a
 * worker node sees; `transport` says how a value crosses between them.
 *
 * ```ts
 * const Mask = portType<TensorData, Tensor4D>()('Mask', { transport: 'tensor' });
 * ```
 */
export type Transport =
  /** A `TensorData` on main, a tensor in the worker; its buffer crosses as a transferable. */
  | 'tensor'
  /** Plain JSON (numbers, strings, small records); copied by structured clone. */
  | 'json'
  /** A value that lives only where it is made (a model, a variable set): it cannot cross. */
  | 'local';

export interface PortType<N extends string = string, Main = unknown, Worker = unknown> {
  readonly name: N;
  readonly transport: Transport;
  readonly description: string;
  /** Phantom fields: they carry the value types for the compiler and are never set. */
  readonly __main?: Main;
  readonly __worker?: Worker;
}

export type MainValue<P> = P extends PortType<string, infer M, unknown> ? M : never;
export type WorkerValue<P> = P extends PortType<string, unknown, infer W> ? W : never;
export type PortName<P> = P extends PortType<infer N, unknown, unknown> ? N : never;

/** The typed-array form of a tensor: what crosses the thread boundary. */
export interface TensorData {
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** Curried so the value types can be given while the name literal is inferred. */
export function portType<Main, Worker = Main>() {
  return <const N extends string>(
    name: N,
    options: { transport: Transport; description: string },
  ): PortType<N, Main, Worker> => Object.freeze({ name, ...options });
}

export function isTensorData(value: unknown): value is TensorData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<TensorData>;
  return (
    (v.dtype === 'float32' || v.dtype === 'int32' || v.dtype === 'bool') &&
    Array.isArray(v.shape) &&
    ArrayBuffer.isView(v.data)
  );
}

export function tensorData(
  data: Float32Array | Int32Array | Uint8Array,
  shape: readonly number[],
  dtype: TensorData['dtype'] = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'bool',
): TensorData {
  const value = { dtype, shape: [...shape], data };
  checkTensorData(value, 'tensorData');
  return value;
}

/** Throws unless the buffer holds exactly the values the shape says (a detached buffer holds none). */
export function checkTensorData(value: TensorData, what: string): void {
  const size = value.shape.reduce((a, b) => a * b, 1);
  if (value.data.length !== size) {
    const detached = value.data.length === 0 && value.data.buffer.byteLength === 0 ? ' (its buffer was transferred away)' : '';
    throw new Error(`${what}: shape [${value.shape.join(', ')}] needs ${size} values but the buffer holds ${value.data.length}${detached}`);
  }
}
