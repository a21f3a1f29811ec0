import { TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';

/**
 * The hashicorp/aws versions the constructs are known to deploy with. Every resource and argument they
 * synthesize exists in 5.100 (the `aws_lambda_invocation` CRUD lifecycle scope among them), and the
 * rehearsal deploys them with 5.100.0.
 */
export const AWS_PROVIDER_VERSIONS = '>= 5.100.0, < 7.0.0';

/**
 * Widens the stack's hashicorp/aws version constraint to `AWS_PROVIDER_VERSIONS`. The generated
 * bindings pin the exact version they were generated from (`@cdktf/provider-aws` 21 pins 6.25.0,
 * `@cdktn/provider-aws` its own), which stops `terraform init` wherever only another version is
 * available, such as a provider mirror. Idempotent; a stack override of your own made after the
 * constructs (`stack.addOverride('terraform.required_providers.aws.version', …)`) takes precedence.
 */
export function admitAwsProviderVersions(scope: Construct): void {
  TerraformStack.of(scope).addOverride('terraform.required_providers.aws.version', AWS_PROVIDER_VERSIONS);
}
