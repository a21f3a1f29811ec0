import type { SettingValues } from '../lib/config/settings';

/** What every pipeline function needs to reach AEP and the bucket; names and ARNs only, never secrets. */
export interface ConnectionSettingsProps {
  readonly imsOrgId: string;
  /** @default 'prod' */
  readonly sandbox?: string;
  /** @default read from the Schema Registry at run time */
  readonly tenantId?: string;
  readonly credentialsSecretArn: string;
  readonly bucketName: string;
  /** @default the functions' default, us-east-1 */
  readonly bucketRegion?: string;
}

/** The connection settings of a pipeline function, by configuration path (see lib/config/settings.ts). */
export function connectionSettings(props: ConnectionSettingsProps): SettingValues {
  return {
    'aep.orgId': props.imsOrgId,
    'aep.sandbox': props.sandbox,
    'aep.tenantId': props.tenantId,
    'aep.credentials.secretArn': props.credentialsSecretArn,
    'storage.bucket': props.bucketName,
    'storage.region': props.bucketRegion,
  };
}
