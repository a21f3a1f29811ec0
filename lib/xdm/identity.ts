import type { IdentityDescriptor } from '../aep/services/schema-registry';

/** The identity namespace of the user id: the users' ids are ECIDs. */
export const USER_ID_NAMESPACE = 'ECID';

/** Where a schema holds the user id: `_<tenant>.userid`, as a descriptor's source property. */
export function userIdPath(tenantId: string): string {
  return `/_${tenantId}/userid`;
}

/** Marks `_<tenant>.userid` as the schema's primary identity in the ECID namespace. */
export function ecidIdentityDescriptor(schemaId: string, tenantId: string): IdentityDescriptor {
  return {
    '@type': 'xdm:descriptorIdentity',
    'xdm:sourceSchema': schemaId,
    'xdm:sourceVersion': 1,
    'xdm:sourceProperty': userIdPath(tenantId),
    'xdm:namespace': USER_ID_NAMESPACE,
    'xdm:property': 'xdm:code',
    'xdm:isPrimary': true,
  };
}
