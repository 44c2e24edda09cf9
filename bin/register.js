// `node --import samflow/register app.ts`: samflow ships TypeScript sources; this registers the
// TypeScript loader (tsx, one of samflow's dependencies) so a project can import 'samflow'.
import { register } from 'tsx/esm/api';

register();
