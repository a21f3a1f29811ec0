import { DEFAULT_TERRAFORM_KEY, provision, type DeprovisionResult, type ProvisionResult } from '../stages/provision';
import { stageContext } from './stage-context';

/**
 * Lambda handler of the AEP provisioner, invoked by `aws_lambda_invocation` (lifecycle_scope "CRUD").
 * Configuration comes from the environment (on Lambda the credentials are AEP_CREDENTIALS_SECRET_ARN);
 * AEP_PROVISIONER_TERRAFORM_KEY names the event key Terraform adds, "tf" by default.
 */
export async function handler(event: unknown): Promise<ProvisionResult | DeprovisionResult> {
  const { aep, config, log } = stageContext('aep-provisioner');
  try {
    return await provision(aep, event, { log, tenantId: config.aep.tenantId, terraformKey: process.env.AEP_PROVISIONER_TERRAFORM_KEY || DEFAULT_TERRAFORM_KEY });
  } catch (error) {
    log.error('AEP provisioning failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}
