import type { StageName } from '../stages/registry';

/** A function as the synthesized stack deploys it. */
export interface SynthesizedFunction {
  /** The folder Terraform zips and uploads. */
  bundleDir: string;
  /** Lambda's handler setting, `<file>.<export>`. */
  handler: string;
  memorySize: number;
  /** The function's environment, Terraform references (`${…}`) included. */
  environment: Record<string, string>;
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
  /** The input of the provisioner's CRUD invocation for the pipeline's AEP resources. */
  provisioningInput: string;
  /** The input of the provisioner's CRUD invocation for the audience. */
  audienceInput: string;
  /** A synthesized value with its Terraform references replaced; an unknown reference is an error naming `what`. */
  resolve(text: string, values: DeployTimeValues, what: string): string;
}

export type SynthesizeLocalDeployment = (props: LocalDeploymentProps) => LocalDeployment;
