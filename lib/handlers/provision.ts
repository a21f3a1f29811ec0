import { isAudienceDefinitionEvent, provisionAudienceDefinition } from '../provisioning/audience-definition';
import { provision } from '../provisioning/provision';
import { DEFAULT_TERRAFORM_KEY } from '../provisioning/terraform-event';
import { provisionerHandler } from './function-handler';

/**
 * Lambda handler of the AEP provisioner, invoked by `aws_lambda_invocation` (lifecycle_scope "CRUD")
 * with Terraform's event under the "tf" key. An event naming `resource: "audience"` is a propensity
 * audience (segment definition); any other is a provisioning plan.
 */
export const handler = provisionerHandler(async ({ aep, config, log }, event) => {
  const deps = { log, tenantId: config.aep.tenantId, terraformKey: DEFAULT_TERRAFORM_KEY };
  return isAudienceDefinitionEvent(event) ? await provisionAudienceDefinition(aep, event, deps) : await provision(aep, event, deps);
});
