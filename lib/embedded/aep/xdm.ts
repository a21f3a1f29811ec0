/**
 * The XDM model the stand-in reasons about: field trees, the global classes and field groups the
 * pipeline's schemas use, and helpers to build and walk field trees.
 *
 * Global resources are known by their TOP-LEVEL properties only; their nested structure is "open"
 * (any nested path is accepted). Tenant field groups contribute the properties they define, nested
 * types included, so descriptor paths and mapping targets into them can be checked.
 */

export type XdmType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

export interface XdmField {
  type: XdmType;
  format?: string;
  title?: string;
  description?: string;
  /** Sub-fields of an object. */
  properties?: Record<string, XdmField>;
  /** Element type of an array. */
  items?: XdmField;
  /** Nested structure not known to the stand-in (global resources, referenced data types, maps). */
  open?: boolean;
}

export type FieldTree = Record<string, XdmField>;

export interface XdmClass {
  $id: string;
  altId: string;
  title: string;
  description: string;
  /** The behaviour the class extends. */
  behavior: 'https://ns.adobe.com/xdm/data/time-series' | 'https://ns.adobe.com/xdm/data/record';
  properties: FieldTree;
  /** Top-level fields every record must carry. */
  required: string[];
}

export interface GlobalFieldGroup {
  $id: string;
  altId: string;
  title: string;
  description: string;
  intendedToExtend: string[];
  properties: FieldTree;
}

export const EXPERIENCE_EVENT_CLASS = 'https://ns.adobe.com/xdm/context/experienceevent';
export const PROFILE_CLASS = 'https://ns.adobe.com/xdm/context/profile';

const openObject = (title: string): XdmField => ({ type: 'object', title, open: true });

export const GLOBAL_CLASSES: XdmClass[] = [
  {
    $id: EXPERIENCE_EVENT_CLASS,
    altId: '_xdm.context.experienceevent',
    title: 'XDM ExperienceEvent',
    description: 'A time-series record of an event observed for a subject.',
    behavior: 'https://ns.adobe.com/xdm/data/time-series',
    properties: {
      _id: { type: 'string', format: 'uri-reference', title: 'Identifier' },
      timestamp: { type: 'string', format: 'date-time', title: 'Timestamp' },
      eventType: { type: 'string', title: 'Event Type' },
      identityMap: openObject('Identity Map'),
    },
    required: ['_id', 'timestamp'],
  },
  {
    $id: PROFILE_CLASS,
    altId: '_xdm.context.profile',
    title: 'XDM Individual Profile',
    description: 'A singular representation of the attributes and interests of an individual.',
    behavior: 'https://ns.adobe.com/xdm/data/record',
    properties: {
      _id: { type: 'string', format: 'uri-reference', title: 'Identifier' },
      identityMap: openObject('Identity Map'),
    },
    required: [],
  },
];

function eeFieldGroup($id: string, altId: string, title: string, property: string): GlobalFieldGroup {
  return {
    $id,
    altId,
    title,
    description: `${title} field group for XDM ExperienceEvent.`,
    intendedToExtend: [EXPERIENCE_EVENT_CLASS],
    properties: { [property]: openObject(title) },
  };
}

export const GLOBAL_FIELD_GROUPS: GlobalFieldGroup[] = [
  eeFieldGroup('https://ns.adobe.com/xdm/context/experienceevent-web', '_xdm.context.experienceevent-web', 'Web Details', 'web'),
  eeFieldGroup('https://ns.adobe.com/xdm/context/experienceevent-commerce', '_xdm.context.experienceevent-commerce', 'Commerce Details', 'commerce'),
  eeFieldGroup(
    'https://ns.adobe.com/xdm/context/experienceevent-directmarketing',
    '_xdm.context.experienceevent-directmarketing',
    'Direct Marketing Details',
    'directMarketing',
  ),
  eeFieldGroup(
    'https://ns.adobe.com/xdm/context/experienceevent-advertising',
    '_xdm.context.experienceevent-advertising',
    'Advertising Details',
    'advertising',
  ),
  eeFieldGroup(
    'https://ns.adobe.com/experience/decisioning/experienceevent-proposition-interaction',
    '_experience.decisioning.experienceevent-proposition-interaction',
    'Proposition Interactions',
    '_experience',
  ),
  {
    $id: 'https://ns.adobe.com/xdm/context/identitymap',
    altId: '_xdm.context.identitymap',
    title: 'IdentityMap',
    description: 'Identity map field group.',
    intendedToExtend: [PROFILE_CLASS, EXPERIENCE_EVENT_CLASS],
    properties: { identityMap: openObject('Identity Map') },
  },
];

export function findGlobalClass(ref: string): XdmClass | undefined {
  return GLOBAL_CLASSES.find((c) => c.$id === ref || c.altId === ref);
}

export function findGlobalFieldGroup(ref: string): GlobalFieldGroup | undefined {
  return GLOBAL_FIELD_GROUPS.find((f) => f.$id === ref || f.altId === ref);
}

/** Thrown for an invalid field definition; the message names the field. */
export class FieldDefinitionError extends Error {}

const XDM_TYPES: ReadonlySet<string> = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array']);

/** Converts a JSON Schema property definition (as in a field group's `definitions`) into a field. */
export function fieldFromJsonSchema(def: unknown, path: string): XdmField {
  if (typeof def !== 'object' || def === null || Array.isArray(def)) {
    throw new FieldDefinitionError(`Field '${path}' must be an object describing the field`);
  }
  const d = def as Record<string, unknown>;
  const common: Pick<XdmField, 'title' | 'description'> = {};
  if (typeof d.title === 'string') common.title = d.title;
  if (typeof d.description === 'string') common.description = d.description;
  if (typeof d.$ref === 'string') {
    // A referenced data type: the stand-in does not resolve data types, so the structure is open.
    return { type: 'object', ...common, open: true };
  }
  let type = d.type;
  if (type === undefined && typeof d.properties === 'object') type = 'object';
  if (typeof type !== 'string' || !XDM_TYPES.has(type)) {
    throw new FieldDefinitionError(
      `Field '${path}' has ${type === undefined ? 'no type' : `unsupported type '${String(type)}'`}; expected one of ${[...XDM_TYPES].join(', ')}`,
    );
  }
  const field: XdmField = { type: type as XdmType, ...common };
  if (typeof d.format === 'string') field.format = d.format;
  if (type === 'object') {
    if (d.properties !== undefined) {
      if (typeof d.properties !== 'object' || d.properties === null || Array.isArray(d.properties)) {
        throw new FieldDefinitionError(`Field '${path}' has 'properties' that is not an object`);
      }
      field.properties = {};
      for (const [name, sub] of Object.entries(d.properties as Record<string, unknown>)) {
        field.properties[name] = fieldFromJsonSchema(sub, `${path}/${name}`);
      }
    }
    if (d.additionalProperties !== undefined || d.properties === undefined) field.open = true;
  } else if (type === 'array') {
    field.items = d.items === undefined ? { type: 'object', open: true } : fieldFromJsonSchema(d.items, `${path}[]`);
  }
  return field;
}

function cloneField(f: XdmField): XdmField {
  return JSON.parse(JSON.stringify(f)) as XdmField;
}

/**
 * Merges `source` into `target` (in place). Objects defined by several resources merge their
 * sub-fields, as XDM does; a field defined with two different types is an error naming the field.
 */
export function mergeFieldTrees(target: FieldTree, source: FieldTree, path = ''): void {
  for (const [name, field] of Object.entries(source)) {
    const here = `${path}/${name}`;
    const existing = target[name];
    if (!existing) {
      target[name] = cloneField(field);
      continue;
    }
    if (existing.type !== field.type) {
      throw new FieldDefinitionError(`Field '${here}' is defined both as ${existing.type} and as ${field.type}`);
    }
    if (existing.type === 'object') {
      if (field.open) existing.open = true;
      if (field.properties) {
        existing.properties ??= {};
        mergeFieldTrees(existing.properties, field.properties, here);
      }
    }
  }
}

/** The field at a JSON-pointer-like path (`/_tenant/userid`); `open` when the path enters an open object. */
export function lookupPath(tree: FieldTree, pointer: string): XdmField | 'open' | undefined {
  const segments = pointer.split('/').filter((s) => s.length > 0);
  let fields: FieldTree = tree;
  let open = false;
  for (const [i, segment] of segments.entries()) {
    const field = Object.prototype.hasOwnProperty.call(fields, segment) ? fields[segment] : undefined;
    if (!field) return open ? 'open' : undefined;
    if (i === segments.length - 1) return field;
    const container: XdmField = field.type === 'array' ? (field.items ?? { type: 'object', open: true }) : field;
    if (container.type !== 'object') return undefined;
    fields = container.properties ?? {};
    open = container.open === true;
  }
  return undefined;
}

/** JSON Schema (as the registry returns it in `-full` views) of a field tree. */
export function fieldTreeToJsonSchema(tree: FieldTree, withText: { titles: boolean; descriptions: boolean }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(tree)) out[name] = fieldToJsonSchema(field, withText);
  return out;
}

function fieldToJsonSchema(f: XdmField, withText: { titles: boolean; descriptions: boolean }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (withText.titles && f.title) out.title = f.title;
  if (withText.descriptions && f.description) out.description = f.description;
  out.type = f.type;
  if (f.format) out.format = f.format;
  if (f.type === 'object' && f.properties) out.properties = fieldTreeToJsonSchema(f.properties, withText);
  if (f.type === 'array' && f.items) out.items = fieldToJsonSchema(f.items, withText);
  out['meta:xdmType'] = f.type === 'string' && f.format === 'date-time' ? 'date-time' : f.type;
  return out;
}
