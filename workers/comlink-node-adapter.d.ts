// comlink ships the Node adapter's types beside an .mjs file that TypeScript cannot pair up.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  export { default } from 'comlink/dist/esm/node-adapter';
}
