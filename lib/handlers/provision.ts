import { isAudienceDefinitionEvent, provisionAudienceDefinition, type AudienceDefinitionDeletion, type AudienceDefinitionResult } from '../provisioning/audience-definition';
import { provision, type DeprovisionResult, type ProvisionResult } from '../provisioning/provision';
import { DEFAULT_TERRAFORM_KEY } from '../provisioning/terraform-event';
import { stageContext } from './stage-context';

/**
 * Lambda handler of the AEP provisioner, invoked by `aws_lambda_invocation` (lifecycle_scope "CRUD").
 * An event naming `resource: "audience"` is a propensity audience (segment definition); any other is a
 * provisioning plan. Configuration comes from the environment (on Lambda the credentials are
 * AEP_CREDENTIALS_SECRET_ARN); AEP_PROVISIONER_TERRAFORM_KEY names the event key Terraform adds, "tf" by default.
 */
export async function handler(event: unknown): Promise<ProvisionResult | DeprovisionResult | AudienceDefinitionResult | AudienceDefinitionDeletion> {
  const { aep, config, log } = stageContext('aep-provisioner');
  const deps = { log, tenantId: config.aep.tenantId, terraformKey: process.env.AEP_PROVISIONER_TERRAFORM_KEY || DEFAULT_TERRAFORM_KEY };
  try {
    return isAudienceDefinitionEvent(event) ? await provisionAudienceDefinition(aep, event, deps) : await provision(aep, event, deps);
  } catch (error) {
    log.error('AEP provisioning failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}
