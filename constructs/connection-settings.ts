import type { SettingValues } from '../lib/config/settings';

/** What every pipeline function needs to reach AEP and the bucket; names and ARNs only, never secrets. */
export interface ConnectionSettingsProps {
  /** IMS organization id (`…@AdobeOrg`). */
  readonly imsOrgId: string;
  /**
   * Sandbox the pipeline works in.
   * @default 'prod'
   */
  readonly sandbox?: string | undefined;
  /**
   * Tenant id without its underscore.
   * @default read from the Schema Registry at run time
   */
  readonly tenantId?: string | undefined;
  /** ARN of the Secrets Manager secret holding `{"clientId","clientSecret"}`; only the ARN reaches Terraform. */
  readonly credentialsSecretArn: string;
  /** The pipeline's bucket name. */
  readonly bucketName: string;
  /**
   * The bucket's region.
   * @default the functions' default, us-east-1
   */
  readonly bucketRegion?: string | undefined;
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
