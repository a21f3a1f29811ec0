/**
 * How field groups and schemas are composed, checked as the registry checks them: a field group's
 * fields (under the tenant namespace, from its definitions and the field groups it includes), a
 * schema's class and field groups, and which changes would break a schema that datasets use.
 */
import { xdmError } from '../errors';
import { ApiError, cloneJson, isPlainObject } from '../http';
import { FieldDefinitionError, FieldTree, fieldFromJsonSchema, findGlobalClass, findGlobalFieldGroup, mergeFieldTrees, XdmClass } from '../xdm';
import { bad, Kind, RegistryStore, tenantNamespace, XdmRecord } from './model';

/** Keys the registry manages; ignored when a caller sends them. */
const SERVER_KEYS = new Set([
  '$id',
  'meta:altId',
  'meta:resourceType',
  'version',
  'imsOrg',
  'meta:extends',
  'meta:xdmType',
  'meta:registryMetadata',
  'meta:class',
  'meta:containerId',
  'meta:sandboxId',
  'meta:sandboxType',
  'meta:tenantNamespace',
  'meta:extensible',
  'meta:abstract',
  'refs',
  '$schema',
]);

const EXTENSIBLE_CONTEXT = 'https://ns.adobe.com/xdm/common/extensible#/definitions/@context';

export function stripServerKeys(doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!SERVER_KEYS.has(k)) out[k] = v;
  return out;
}

export function requireTitle(doc: Record<string, unknown>, what: string): string {
  if (typeof doc.title !== 'string' || doc.title.trim() === '') throw bad(`The ${what} must have a non-empty 'title'`);
  return doc.title;
}

export function checkUniqueTitle(store: RegistryStore, kind: Kind, title: string, except?: string): void {
  const clash = store.list(kind).find((r) => r.doc.title === title && r.hex !== except);
  if (clash) {
    throw xdmError(
      409,
      `Title must be unique. An object ${clash.$id} already exists with the same title`,
      '1521',
      'Conflict',
    );
  }
}

function checkType(doc: Record<string, unknown>, what: string): void {
  if (doc.type !== undefined && doc.type !== 'object') throw bad(`The ${what} 'type' must be 'object', got '${String(doc.type)}'`);
}

/** Merges `source` into `target`; a field defined twice with different types is the caller's error. */
export function mergeTrees(target: FieldTree, source: FieldTree, error: (m: string) => ApiError): void {
  try {
    mergeFieldTrees(target, source);
  } catch (err) {
    if (err instanceof FieldDefinitionError) throw error(err.message);
    throw err;
  }
}

/** Sets what a record's document makes of it: a field group's fields, a schema's class, field groups and fields. */
export function applyDerived(store: RegistryStore, rec: XdmRecord): void {
  if (rec.kind === 'mixins') {
    rec.properties = fieldGroupProperties(store, rec.doc);
  } else {
    const parts = schemaParts(store, rec.doc);
    rec.classId = parts.classId;
    rec.fieldGroupIds = parts.fieldGroupIds;
    rec.properties = parts.properties;
  }
}

/** Fields a field group contributes; validates its shape. */
function fieldGroupProperties(store: RegistryStore, doc: Record<string, unknown>): FieldTree {
  const namespace = tenantNamespace(store.ctx);
  checkType(doc, 'field group');
  if (doc.type === undefined) throw bad("The field group must have 'type': 'object'");
  const extendsList = doc['meta:intendedToExtend'];
  if (!Array.isArray(extendsList) || extendsList.length === 0 || !extendsList.every((s) => typeof s === 'string')) {
    throw bad("The field group must list the classes it extends in 'meta:intendedToExtend' (an array of class $ids)");
  }
  for (const cls of extendsList) {
    if (!findGlobalClass(cls)) throw bad(`Unknown class '${cls}' in 'meta:intendedToExtend'`);
  }
  if (doc.definitions === undefined && doc.allOf === undefined) {
    throw bad("The field group must define its fields in 'definitions' and reference them from 'allOf'");
  }
  if (doc.definitions !== undefined && !isPlainObject(doc.definitions)) throw bad("'definitions' must be an object");
  if (doc.allOf !== undefined && !Array.isArray(doc.allOf)) throw bad("'allOf' must be an array");
  const definitions = doc.definitions ?? {};
  let used: string[];
  const tree: FieldTree = {};
  if (Array.isArray(doc.allOf)) {
    used = [];
    for (const item of doc.allOf as unknown[]) {
      const ref = isPlainObject(item) ? item.$ref : undefined;
      if (typeof ref !== 'string') throw bad("Every 'allOf' entry must be an object with a '$ref'");
      if (ref.startsWith('#/definitions/')) {
        const name = ref.slice('#/definitions/'.length);
        if (!Object.prototype.hasOwnProperty.call(definitions, name)) throw bad(`'allOf' references '${ref}', which is not in 'definitions'`);
        used.push(name);
      } else if (ref === EXTENSIBLE_CONTEXT) {
        // The common @context every field group may include.
      } else {
        const global = findGlobalFieldGroup(ref);
        const tenant = store.find('mixins', ref);
        if (!global && !tenant) throw bad(`Unknown $ref '${ref}' in 'allOf'`);
        mergeTrees(tree, global ? global.properties : tenant!.properties, bad);
      }
    }
  } else {
    used = Object.keys(definitions);
  }
  for (const name of used) {
    const def = definitions[name];
    if (!isPlainObject(def)) throw bad(`Definition '${name}' must be an object`);
    if (def.properties === undefined) continue;
    if (!isPlainObject(def.properties)) throw bad(`Definition '${name}' has 'properties' that is not an object`);
    const part: FieldTree = {};
    for (const [field, fdef] of Object.entries(def.properties)) {
      if (field !== namespace) {
        throw bad(
          `Field '${field}' in definition '${name}' is not under the tenant namespace; custom fields of a field group must be nested under '${namespace}'`,
        );
      }
      try {
        part[field] = fieldFromJsonSchema(fdef, `/${field}`);
      } catch (err) {
        if (err instanceof FieldDefinitionError) throw bad(err.message);
        throw err;
      }
    }
    mergeTrees(tree, part, bad);
  }
  return tree;
}

/** Class, field groups and fields of a schema; validates its shape. */
function schemaParts(store: RegistryStore, doc: Record<string, unknown>): { classId: string; fieldGroupIds: string[]; properties: FieldTree } {
  checkType(doc, 'schema');
  if (doc.type === undefined) throw bad("The schema must have 'type': 'object'");
  if (!Array.isArray(doc.allOf) || doc.allOf.length === 0) {
    throw bad("The schema must list its class (and field groups) in 'allOf' as objects with a '$ref'");
  }
  let xdmClass: XdmClass | undefined;
  const fieldGroupIds: string[] = [];
  const groups: { id: string; intendedToExtend: string[]; properties: FieldTree }[] = [];
  for (const item of doc.allOf as unknown[]) {
    const ref = isPlainObject(item) ? item.$ref : undefined;
    if (typeof ref !== 'string') throw bad("Every 'allOf' entry must be an object with a '$ref'");
    const cls = findGlobalClass(ref);
    if (cls) {
      if (xdmClass) throw bad(`A schema must reference exactly one class; found '${xdmClass.$id}' and '${cls.$id}'`);
      xdmClass = cls;
      continue;
    }
    const global = findGlobalFieldGroup(ref);
    const tenant = global ? undefined : store.find('mixins', ref);
    if (!global && !tenant) throw bad(`Unknown $ref '${ref}' in 'allOf': no class or field group has this $id`);
    const id = global ? global.$id : tenant!.$id;
    if (fieldGroupIds.includes(id)) throw bad(`Field group '${id}' is listed twice in 'allOf'`);
    fieldGroupIds.push(id);
    groups.push({
      id,
      intendedToExtend: global ? global.intendedToExtend : ((tenant!.doc['meta:intendedToExtend'] as string[]) ?? []),
      properties: global ? global.properties : tenant!.properties,
    });
  }
  if (!xdmClass) throw bad("A schema must reference exactly one class in 'allOf'; none found");
  const properties: FieldTree = cloneJson(xdmClass.properties);
  for (const g of groups) {
    if (!g.intendedToExtend.includes(xdmClass.$id)) {
      throw bad(`Field group '${g.id}' is not compatible with class '${xdmClass.$id}' (see its meta:intendedToExtend)`);
    }
    mergeTrees(properties, g.properties, bad);
  }
  return { classId: xdmClass.$id, fieldGroupIds, properties };
}

/** The first field present before and missing or retyped after, described for an error message. */
export function breakingChange(before: FieldTree, after: FieldTree, path = ''): string | undefined {
  for (const [name, field] of Object.entries(before)) {
    const here = `${path}/${name}`;
    const now = after[name];
    if (!now) return `removing field '${here}'`;
    if (now.type !== field.type) return `changing the type of field '${here}' from ${field.type} to ${now.type}`;
    if (field.properties && now.properties) {
      const inner = breakingChange(field.properties, now.properties, here);
      if (inner) return inner;
    } else if (field.properties && Object.keys(field.properties).length > 0 && !now.open) {
      return `removing the sub-fields of '${here}'`;
    }
  }
  return undefined;
}
