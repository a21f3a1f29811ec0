import type { StageName } from '../stages/registry';

/** A function as the synthesized stack deploys it. */
export interface SynthesizedFunction {
  /** The folder Terraform zips and uploads. */
  bundleDir: string;
  /** Lambda's handler setting, `<file>.<export>`. */
  handler: string;
  memorySize: number;
  /** Lambda's timeout; absent when the stack leaves Lambda's default. */
  timeoutSeconds?: number;
  /** The function's environment, Terraform references (`${…}`) included. */
  environment: Record<string, string>;
}

/** An EventBridge Scheduler schedule of the synthesized stack and the stage function it invokes. */
export interface SynthesizedSchedule {
  /** The schedule's name, as Scheduler knows it. */
  name: string;
  /** The stage whose function the schedule's target invokes. */
  stage: StageName;
  /** `cron(…)`, `rate(…)` or `at(…)`. */
  expression: string;
  /** IANA time zone the expression is read in. */
  timezone: string;
  /** False when the schedule's state is DISABLED. */
  enabled: boolean;
  /** The event the target receives, as JSON. */
  input: string;
}

/** A rule of the bucket's `aws_s3_bucket_lifecycle_configuration`, as the synthesized Terraform JSON writes it. */
export interface SynthesizedLifecycleRule {
  id: string;
  status: string;
  filter?: Array<{ prefix?: string; and?: Array<{ prefix?: string; object_size_greater_than?: number }> }>;
  expiration?: Array<{ days?: number }>;
  abort_incomplete_multipart_upload?: Array<{ days_after_initiation?: number }>;
  [key: string]: unknown;
}

/** What the pipeline the local run deploys is given. */
export interface LocalDeploymentProps {
  /** Where the app writes what it synthesizes (the bundles). */
  outdir: string;
  imsOrgId: string;
  sandbox: string;
  namePrefix: string;
  eventsDatasetId: string;
  audience: { low: number; high: number };
}

/** The values Terraform's references take once deployed: what the platform provides, then what provisioning returned. */
export interface DeployTimeValues {
  bucketName: string;
  bucketRegion: string;
  credentialsSecretArn: string;
  aepRoleArn: string;
  /** The provisioner's result for the pipeline's resources. */
  provisioned?: Record<string, unknown>;
  /** The provisioner's result for the audience. */
  audience?: Record<string, unknown>;
}

/**
 * The pipeline as `cdktf synth` builds it, read by the local run: made by `synthesizeLocalDeployment`
 * (constructs/local-deployment.ts), so that lib/ needs no CDKTF.
 */
export interface LocalDeployment {
  stages: Partial<Record<StageName, SynthesizedFunction>>;
  provisioner: SynthesizedFunction;
  /** Every Scheduler schedule of the stack that invokes a stage function. */
  schedules: SynthesizedSchedule[];
  /** The rules `PipelineBucket` sets on the bucket; empty when it sets none. */
  lifecycleRules: SynthesizedLifecycleRule[];
  /** The input of the provisioner's CRUD invocation for the pipeline's AEP resources. */
  provisioningInput: string;
  /** The input of the provisioner's CRUD invocation for the audience. */
  audienceInput: string;
  /** A synthesized value with its Terraform references replaced; an unknown reference is an error naming `what`. */
  resolve(text: string, values: DeployTimeValues, what: string): string;
}

export type SynthesizeLocalDeployment = (props: LocalDeploymentProps) => LocalDeployment;
