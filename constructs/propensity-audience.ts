import { Construct } from 'constructs';
import { Fn, type ITerraformDependable } from 'cdktf';
import { LambdaInvocation } from '@cdktf/provider-aws/lib/lambda-invocation';
import { validateBand, validateTenantId } from '../lib/audience/band';
import { DEFAULT_TERRAFORM_KEY } from '../lib/provisioning/terraform-event';
import { PipelineFunction } from './pipeline-function';
import { admitAwsProviderVersions } from './aws-provider-versions';

/** Longest audience name accepted (the provisioner's limit). */
const MAX_NAME_LENGTH = 256;

export interface PropensityAudienceProps {
  /**
   * The AEP provisioner function that creates, updates and deletes the audience: `AepProvisioning.function`,
   * or the name or ARN of any function running the library's provisioner handler.
   */
  readonly provisioner: PipelineFunction | { readonly functionName: string };
  /** Name of the segment definition, unique in the sandbox; the audience is found by it, so renaming replaces it. */
  readonly name: string;
  /** Lowest propensity in the audience, included; a literal number from 0 to 1, checked at synth. */
  readonly low: number;
  /** Highest propensity in the audience, included; a literal number from `low` to 1, checked at synth. */
  readonly high: number;
  /**
   * Description of the segment definition.
   * @default 'Profiles whose propensity is from <low> to <high>, both included (AI/ML feature pipeline)'
   */
  readonly description?: string;
  /**
   * Tenant id, without its underscore, whose `_<tenant>.propensity` the rule reads.
   * @default the provisioner's `AEP_TENANT_ID`, else read from the Schema Registry at deploy time
   */
  readonly tenantId?: string | undefined;
  /**
   * Resources to create first: the rule names `_<tenant>.propensity`, which must be in the Profile
   * union when the definition is saved, so pass the `AepProvisioning` invocation that creates it.
   * @default none beyond the provisioner function itself
   */
  readonly waitFor?: ITerraformDependable[];
}

/**
 * The week-5 audience: a segment definition with the rule
 * `_<tenant>.propensity >= low and _<tenant>.propensity <= high` on `_xdm.context.profile`, kept by the
 * AEP provisioner through an `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`: created on
 * `cdktf deploy`, its rule updated when the band changes, deleted on `cdktf destroy`. The invocation's
 * input holds the name and the band only; its result the definition id.
 */
export class PropensityAudience extends Construct {
  readonly invocation: LambdaInvocation;
  /** The provisioner's result, decoded. */
  readonly result: unknown;
  /** Id of the segment definition, for the audience stage and segment jobs. */
  readonly definitionId: string;
  /** Tenant id the rule was built for. */
  readonly tenantId: string;
  readonly low: number;
  readonly high: number;

  constructor(scope: Construct, id: string, props: PropensityAudienceProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    const what = `PropensityAudience ${this.node.path}`;
    try {
      validateBand({ low: props.low, high: props.high });
      if (props.tenantId !== undefined) validateTenantId(props.tenantId);
    } catch (error) {
      throw new Error(`${what}: ${(error as Error).message}`);
    }
    const name = typeof props.name === 'string' ? props.name.trim() : '';
    if (name === '' || name.length > MAX_NAME_LENGTH) {
      throw new Error(`${what}: name must be 1 to ${MAX_NAME_LENGTH} characters, got ${JSON.stringify(props.name)}`);
    }
    this.low = props.low;
    this.high = props.high;

    const provisioner = props.provisioner;
    // On destroy the definition's delete must run while the function can still read the secret and log.
    const functionParts = provisioner instanceof PipelineFunction ? [provisioner.function, provisioner.policy, provisioner.logGroup] : [];
    this.invocation = new LambdaInvocation(this, 'Invocation', {
      functionName: provisioner.functionName,
      input: JSON.stringify({
        resource: 'audience',
        name,
        band: { low: props.low, high: props.high },
        ...(props.description !== undefined ? { description: props.description } : {}),
        ...(props.tenantId !== undefined ? { tenantId: props.tenantId } : {}),
      }),
      lifecycleScope: 'CRUD',
      terraformKey: DEFAULT_TERRAFORM_KEY,
      ...(functionParts.length + (props.waitFor?.length ?? 0) > 0 ? { dependsOn: [...functionParts, ...(props.waitFor ?? [])] } : {}),
    });

    this.result = Fn.jsondecode(this.invocation.result);
    this.definitionId = Fn.lookup(this.result, 'definitionId', '') as string;
    this.tenantId = Fn.lookup(this.result, 'tenantId', '') as string;
  }
}
