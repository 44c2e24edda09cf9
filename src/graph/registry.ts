/**
 * Kind -> node definition. Loud on duplicates and on unknown kinds (like tfjs's kernel
 * registry), because a silently replaced or missing kind makes a graph mean something else.
 */
import type { AnyNodeDefinition } from './node.ts';

export class NodeRegistry {
  private readonly kinds = new Map<string, AnyNodeDefinition>();

  register(definition: AnyNodeDefinition): void {
    const existing = this.kinds.get(definition.kind);
    if (existing === definition) return;
    if (existing) {
      throw new Error(`node kind '${definition.kind}' is already registered; kinds must be unique`);
    }
    this.kinds.set(definition.kind, definition);
  }

  get(kind: string, where = 'graph'): AnyNodeDefinition {
    const definition = this.kinds.get(kind);
    if (!definition) {
      const known = [...this.kinds.keys()].sort().join(', ') || '(none)';
      throw new Error(`${where}: unknown node kind '${kind}'. Registered kinds: ${known}`);
    }
    return definition;
  }

  has(kind: string): boolean {
    return this.kinds.has(kind);
  }

  list(): AnyNodeDefinition[] {
    return [...this.kinds.values()];
  }
}

export const defaultRegistry = new NodeRegistry();
