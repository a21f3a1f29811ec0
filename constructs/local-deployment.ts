import { App, TerraformOutput, TerraformStack } from 'cdktf';
import type { DeployTimeValues, LocalDeployment, LocalDeploymentProps, SynthesizedFunction, SynthesizedLifecycleRule, SynthesizedSchedule } from '../lib/cli/local-deployment';
import type { StageName } from '../lib/stages/registry';
import type { PipelineFunction } from './pipeline-function';
import { PropensityPipeline } from './propensity-pipeline';

type TerraformJson = { resource: Record<string, Record<string, Record<string, unknown>>>; output: Record<string, { value: string }> };

/**
 * `Fn.lookup(Fn.jsondecode(invocation.result), key, '')`, as AepProvisioning and PropensityAudience read
 * their results; CDKTF writes it as an attribute access.
 */
const RESULT_LOOKUP = /\$\{(?:jsondecode\(aws_lambda_invocation\.([\w-]+)\.result\)\.(\w+)|lookup\(jsondecode\(aws_lambda_invocation\.([\w-]+)\.result\), "(\w+)", ""\))\}/g;
const REFERENCE = /\$\{[^}]*\}/g;

/**
 * The pipeline built exactly as `cdktf synth` builds it, read as the embedded platform deploys it: each
 * function's bundle, handler setting and environment, and the provisioner's CRUD inputs, all taken from
 * the stack's Terraform JSON. Their Terraform references are filled in from what the platform provides
 * (bucket, role, secret) and what the provisioner returned; any other reference is an error naming it,
 * so nothing runs with an environment the stack would not give it.
 */
export function synthesizeLocalDeployment(props: LocalDeploymentProps): LocalDeployment {
  const app = new App({ outdir: props.outdir, skipValidation: true });
  const stack = new TerraformStack(app, 'embedded');
  const pipeline = new PropensityPipeline(stack, 'Pipeline', {
    aep: { imsOrgId: props.imsOrgId, sandbox: props.sandbox, namePrefix: props.namePrefix },
    features: { eventsDatasetId: props.eventsDatasetId },
    audience: props.audience,
  });
  const audience = pipeline.audience as NonNullable<typeof pipeline.audience>;
  // Outputs make Terraform's text for each platform-provided attribute, to be replaced by its local value.
  const provided: Record<keyof Omit<DeployTimeValues, 'provisioned' | 'audience'>, TerraformOutput> = {
    bucketName: new TerraformOutput(stack, 'bucket_name', { value: pipeline.bucket.bucketName }),
    bucketRegion: new TerraformOutput(stack, 'bucket_region', { value: pipeline.bucket.region }),
    credentialsSecretArn: new TerraformOutput(stack, 'credentials_secret_arn', { value: pipeline.credentials.secretArn }),
    aepRoleArn: new TerraformOutput(stack, 'aep_role_arn', { value: pipeline.aepAccessRole.roleArn }),
  };
  const terraform = stack.toTerraform() as TerraformJson;
  const resource = (type: string, element: Parameters<TerraformStack['getLogicalId']>[0]) => {
    const found = terraform.resource[type]?.[stack.getLogicalId(element)];
    if (found === undefined) throw new Error(`The synthesized stack has no ${type} ${stack.getLogicalId(element)}`);
    return found;
  };
  const functionOf = (fn: PipelineFunction): SynthesizedFunction => {
    const json = resource('aws_lambda_function', fn.function) as { handler: string; memory_size: number; timeout?: number; environment?: { variables?: Record<string, string> } };
    return {
      bundleDir: fn.bundle.outDir,
      handler: json.handler,
      memorySize: json.memory_size,
      ...(json.timeout !== undefined && { timeoutSeconds: json.timeout }),
      environment: { ...(json.environment?.variables ?? {}) },
    };
  };
  const invocationIds = { provisioned: stack.getLogicalId(pipeline.provisioning.invocation), audience: stack.getLogicalId(audience.invocation) };

  const stages: Partial<Record<StageName, SynthesizedFunction>> = {};
  for (const [name, stage] of Object.entries(pipeline.stages)) stages[name as StageName] = functionOf(stage.function);
  // A schedule's target names its function by Terraform reference; every stage function has one.
  const stageOfFunction = new Map(Object.entries(pipeline.stages).map(([name, stage]) => [stack.getLogicalId(stage.function.function), name as StageName]));
  type ScheduleJson = { name: string; schedule_expression: string; schedule_expression_timezone?: string; state?: string; target: { arn: string; input?: string } };
  const schedules: SynthesizedSchedule[] = Object.entries((terraform.resource.aws_scheduler_schedule ?? {}) as Record<string, ScheduleJson>).map(([id, json]) => {
    const target = /^\$\{aws_lambda_function\.([\w-]+)\.arn\}$/.exec(json.target.arn)?.[1];
    const stage = target === undefined ? undefined : stageOfFunction.get(target);
    if (stage === undefined) throw new Error(`Schedule ${id} invokes ${json.target.arn}, which is not a stage function of the stack`);
    return {
      name: json.name,
      stage,
      expression: json.schedule_expression,
      timezone: json.schedule_expression_timezone ?? 'UTC',
      enabled: json.state !== 'DISABLED',
      input: json.target.input ?? '{}',
    };
  });
  const lifecycleRules = Object.values((terraform.resource.aws_s3_bucket_lifecycle_configuration ?? {}) as Record<string, { rule?: SynthesizedLifecycleRule[] }>).flatMap((config) => config.rule ?? []);

  return {
    stages,
    schedules,
    lifecycleRules,
    provisioner: functionOf(pipeline.provisioning.function),
    provisioningInput: (resource('aws_lambda_invocation', pipeline.provisioning.invocation) as { input: string }).input,
    audienceInput: (resource('aws_lambda_invocation', audience.invocation) as { input: string }).input,
    resolve: (text, values, what) => {
      let out = text;
      for (const [name, output] of Object.entries(provided)) {
        const placeholder = terraform.output[stack.getLogicalId(output)]?.value;
        if (placeholder === undefined) throw new Error(`The synthesized stack has no output ${stack.getLogicalId(output)}`);
        out = out.split(placeholder).join(values[name as keyof typeof provided]);
      }
      out = out.replace(RESULT_LOOKUP, (reference: string, ...groups: Array<string | undefined>) => {
        const invocation = groups[0] ?? groups[2];
        const key = (groups[1] ?? groups[3]) as string;
        const result = invocation === invocationIds.provisioned ? values.provisioned : invocation === invocationIds.audience ? values.audience : undefined;
        // Terraform's lookup gives its default, '', for a key the result lacks.
        return result ? String(result[key] ?? '') : reference;
      });
      const unresolved = out.match(REFERENCE);
      if (unresolved) throw new Error(`${what} holds Terraform references with no deploy-time value yet: ${[...new Set(unresolved)].join(', ')}`);
      return out;
    },
  };
}
