/** What every pipeline function needs to reach AEP and the bucket; names and ARNs only, never secrets. */
export interface PipelineEnvironmentProps {
  readonly imsOrgId: string;
  readonly sandbox?: string;
  readonly tenantId?: string;
  readonly credentialsSecretArn: string;
  readonly bucketName: string;
}

/** The environment variables of lib/config that a pipeline function reads its configuration from. */
export function pipelineEnvironment(props: PipelineEnvironmentProps): Record<string, string> {
  return {
    AEP_ORG_ID: props.imsOrgId,
    AEP_SANDBOX: props.sandbox ?? 'prod',
    AEP_CREDENTIALS_SECRET_ARN: props.credentialsSecretArn,
    PIPELINE_BUCKET: props.bucketName,
    ...(props.tenantId ? { AEP_TENANT_ID: props.tenantId } : {}),
  };
}
