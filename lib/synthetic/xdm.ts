import type { FieldGroupDefinition, SchemaDefinition } from '../aep/services/schema-registry';
import { EXPERIENCE_EVENT_CLASS } from '../xdm/schema';

/** Adobe's standard ExperienceEvent field groups that hold the XDM fields the synthetic events set. */
export const STANDARD_EVENT_FIELD_GROUPS = [
  'https://ns.adobe.com/xdm/context/experienceevent-web',
  'https://ns.adobe.com/xdm/context/experienceevent-commerce',
  'https://ns.adobe.com/xdm/context/experienceevent-directmarketing',
  'https://ns.adobe.com/xdm/context/experienceevent-advertising',
  'https://ns.adobe.com/experience/decisioning/experienceevent-proposition-interaction',
] as const;

/** Names of what seeding creates in the sandbox; a prefix keeps several pipelines apart. */
export function syntheticResourceNames(prefix: string) {
  return {
    fieldGroup: `${prefix} user id field group`,
    schema: `${prefix} experience events`,
    dataset: `${prefix} synthetic events`,
  };
}

/** The tenant field group carrying the user id (`_<tenant>.userid`) on each event. */
export function userIdFieldGroup(title: string, tenantId: string): FieldGroupDefinition {
  return {
    title,
    description: 'Synthetic user identifier (ECID) of the AI/ML feature pipeline',
    type: 'object',
    'meta:intendedToExtend': [EXPERIENCE_EVENT_CLASS],
    definitions: {
      userIdentity: {
        properties: {
          [`_${tenantId}`]: {
            type: 'object',
            properties: {
              userid: { title: 'User ID', type: 'string', description: 'ECID of the synthetic user' },
            },
          },
        },
      },
    },
    allOf: [{ $ref: '#/definitions/userIdentity' }],
  };
}

export function eventsSchema(title: string, userIdFieldGroupId: string): SchemaDefinition {
  return {
    title,
    description: 'Synthetic experience events of the AI/ML feature pipeline',
    type: 'object',
    allOf: [{ $ref: EXPERIENCE_EVENT_CLASS }, ...STANDARD_EVENT_FIELD_GROUPS.map(($ref) => ({ $ref })), { $ref: userIdFieldGroupId }],
  };
}
