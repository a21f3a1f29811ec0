/**
 * JSON Patch (RFC 6902) for the registry's and Catalog's PATCH endpoints.
 */
import { cloneJson, isPlainObject, type ApiError } from './http';

/** Decodes a JSON Pointer token. */
function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Applies RFC 6902 `add`, `replace`, `remove` (plus `test`, `copy`, `move`) to a copy of `doc`.
 * Accepts paths with or without the leading slash, as the registry's examples use both.
 */
export function applyJsonPatch(doc: unknown, ops: unknown[], bad: (m: string) => ApiError): unknown {
  let root = cloneJson(doc);
  const parse = (path: unknown): string[] => {
    if (typeof path !== 'string') throw bad("Every JSON Patch operation needs a string 'path'");
    const p = path.startsWith('/') ? path : `/${path}`;
    return p === '/' ? [''] : p.slice(1).split('/').map(unescapePointer);
  };
  const parentOf = (tokens: string[]): { parent: unknown; key: string } => {
    let cur: unknown = root;
    for (const t of tokens.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(t)];
      else if (isPlainObject(cur)) cur = cur[t];
      else cur = undefined;
      if (cur === undefined) throw bad(`JSON Patch path '/${tokens.join('/')}' does not exist`);
    }
    return { parent: cur, key: tokens[tokens.length - 1]! }; // parse gives at least one token
  };
  const get = (tokens: string[]): unknown => {
    let cur: unknown = root;
    for (const t of tokens) {
      if (Array.isArray(cur)) cur = cur[Number(t)];
      else if (isPlainObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, t) ? cur[t] : undefined;
      else return undefined;
    }
    return cur;
  };
  const add = (tokens: string[], value: unknown) => {
    if (tokens.length === 1 && tokens[0] === '') {
      root = value;
      return;
    }
    const { parent, key } = parentOf(tokens);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw bad(`JSON Patch array index '${key}' is out of range`);
      parent.splice(index, 0, value);
    } else if (isPlainObject(parent)) {
      // The registry's own example path '/meta:immutableTags-' means "append to meta:immutableTags".
      if (key.endsWith('-') && !(key in parent) && Array.isArray(parent[key.slice(0, -1)])) {
        (parent[key.slice(0, -1)] as unknown[]).push(value);
      } else {
        parent[key] = value;
      }
    } else {
      throw bad(`JSON Patch path '/${tokens.join('/')}' does not exist`);
    }
  };
  const remove = (tokens: string[]): unknown => {
    const { parent, key } = parentOf(tokens);
    if (Array.isArray(parent)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= parent.length) throw bad(`JSON Patch array index '${key}' is out of range`);
      return parent.splice(index, 1)[0];
    }
    if (isPlainObject(parent) && Object.prototype.hasOwnProperty.call(parent, key)) {
      const v = parent[key];
      delete parent[key];
      return v;
    }
    throw bad(`JSON Patch path '/${tokens.join('/')}' does not exist`);
  };
  for (const raw of ops) {
    if (!isPlainObject(raw)) throw bad('Every JSON Patch operation must be an object');
    const tokens = parse(raw.path);
    switch (raw.op) {
      case 'add':
        if (!('value' in raw)) throw bad("JSON Patch 'add' needs a 'value'");
        add(tokens, cloneJson(raw.value));
        break;
      case 'replace':
        if (!('value' in raw)) throw bad("JSON Patch 'replace' needs a 'value'");
        remove(tokens);
        add(tokens, cloneJson(raw.value));
        break;
      case 'remove':
        remove(tokens);
        break;
      case 'test':
        if (JSON.stringify(get(tokens)) !== JSON.stringify(raw.value)) throw bad(`JSON Patch test failed at '${String(raw.path)}'`);
        break;
      case 'copy':
      case 'move': {
        const from = parse(raw.from);
        const value = raw.op === 'move' ? remove(from) : cloneJson(get(from));
        if (value === undefined) throw bad(`JSON Patch 'from' path '${String(raw.from)}' does not exist`);
        add(tokens, value);
        break;
      }
      default:
        throw bad(`Unsupported JSON Patch operation '${String(raw.op)}'; use add, replace or remove`);
    }
  }
  return root;
}
