import { createAepServices, type AepServices } from '../aep';
import { loadConfig } from '../config/load';
import { powertoolsLog } from './powertools-log';
import { DEFAULT_TERRAFORM_KEY, provision, type DeprovisionResult, type ProvisionResult } from '../stages/provision';

/**
 * Lambda handler of the AEP provisioner, invoked by `aws_lambda_invocation` (lifecycle_scope "CRUD").
 * Configuration comes from the environment (on Lambda the credentials are AEP_CREDENTIALS_SECRET_ARN);
 * AEP_PROVISIONER_TERRAFORM_KEY names the event key Terraform adds, "tf" by default.
 */
const log = powertoolsLog('aep-provisioner');

/** Built once per container, on first use, so warm invocations reuse the IMS token cache. */
let services: { aep: AepServices; tenantId?: string } | undefined;

function container(): { aep: AepServices; tenantId?: string } {
  if (!services) {
    const { config, warnings } = loadConfig();
    for (const warning of warnings) log.warn(warning);
    services = { aep: createAepServices(config, { log }), tenantId: config.aep.tenantId };
  }
  return services;
}

export async function handler(event: unknown): Promise<ProvisionResult | DeprovisionResult> {
  try {
    const { aep, tenantId } = container();
    return await provision(aep, event, { log, tenantId, terraformKey: process.env.AEP_PROVISIONER_TERRAFORM_KEY || DEFAULT_TERRAFORM_KEY });
  } catch (error) {
    log.error('AEP provisioning failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}
