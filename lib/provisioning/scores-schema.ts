import type { FieldGroupDefinition, SchemaDefinition } from '../aep/services/schema-registry';
import { PROFILE_CLASS } from '../xdm/schema';

/** What the scores dataset is built on: the propensity field group and profile schema, and the Profile tags. */

/** The tenant field group of the scores: `_<tenant>.propensity` (number) and `_<tenant>.userid` (string) on profiles. */
export function propensityFieldGroup(title: string, tenantId: string): FieldGroupDefinition {
  return {
    title,
    description: 'Subscription propensity written back by the AI/ML feature pipeline, keyed by the user id (ECID)',
    type: 'object',
    'meta:intendedToExtend': [PROFILE_CLASS],
    definitions: {
      propensityScore: {
        properties: {
          [`_${tenantId}`]: {
            type: 'object',
            properties: {
              propensity: { title: 'Propensity', type: 'number', description: 'Predicted probability that the user subscribes' },
              userid: { title: 'User ID', type: 'string', description: 'ECID of the scored user' },
            },
          },
        },
      },
    },
    allOf: [{ $ref: '#/definitions/propensityScore' }],
  };
}

/** The profile schema the scores dataset uses: the Individual Profile class plus the propensity field group. */
export function propensityProfileSchema(title: string, fieldGroupId: string): SchemaDefinition {
  return {
    title,
    description: 'Profiles scored by the AI/ML feature pipeline',
    type: 'object',
    allOf: [{ $ref: PROFILE_CLASS }, { $ref: fieldGroupId }],
  };
}

/** Catalog tags that enable a dataset for Real-Time Customer Profile and Identity Service. */
export const PROFILE_DATASET_TAGS: Readonly<Record<string, string[]>> = {
  unifiedProfile: ['enabled:true'],
  unifiedIdentity: ['enabled:true'],
};
