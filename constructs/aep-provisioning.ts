import { Construct } from 'constructs';
import { Fn, type ITerraformDependable } from 'cdktf';
import { LambdaInvocation } from '@cdktf/provider-aws/lib/lambda-invocation';
import { Token } from 'cdktf';
import { DEFAULT_NAME_PREFIX } from '../lib/config/schema';
import { environmentFor } from '../lib/config/settings';
import { DEFAULT_TERRAFORM_KEY } from '../lib/provisioning/terraform-event';
import { PROVISIONER } from '../lib/stages/registry';
import { connectionSettings, type ConnectionSettingsProps } from './connection-settings';
import { givenOptions, libraryHandler, PipelineFunction, type PipelineFunctionProps } from './pipeline-function';
import { admitAwsProviderVersions } from './aws-provider-versions';


/** The connection settings every pipeline function gets, plus what the provisioner keeps in AEP. */
export interface AepProvisioningProps extends ConnectionSettingsProps {
  /**
   * Prefix of the AEP resource names (field group, schema, dataset), so several pipelines share a sandbox.
   * @default 'cmle'
   */
  readonly namePrefix?: string | undefined;
  /**
   * Keep the scores dataset, and the schema it needs, on `cdktf destroy`.
   * @default true
   */
  readonly retainDatasetOnDestroy?: boolean | undefined;
  /**
   * Keep the feature datasets the featurize stage made (`<namePrefix>_training_features`,
   * `<namePrefix>_scoring_features`, one row per profile) on `cdktf destroy`.
   * @default false: destroy deletes them
   */
  readonly retainFeatureDatasets?: boolean | undefined;
  /**
   * The S3 destination of the dataset export, provisioned at deploy time: AEP's base connection (the
   * role it assumes) and target connection (bucket and folder). Only the role ARN and names reach the
   * invocation input; no key.
   * @default none; the export stage creates the destination at its first run
   */
  readonly exportDestination?: AepExportDestinationProps;
  /**
   * The S3 folder AEP ingests the scores from, provisioned at deploy time with the dataflow that
   * reads it every 15 minutes into the scores dataset (S3 source, data lake target, mapping set, flow).
   * Bucket and folder only reach the invocation input: the S3 source authenticates without keys.
   * @default none; no ingestion dataflow
   */
  readonly ingestionSource?: AepIngestionSourceProps;
  /**
   * SNS topic for the provisioner function's alarms.
   * @default the function creates its own
   */
  readonly alarmTopicArn?: string;
  /**
   * Resources the provisioning must wait for, e.g. the policy of the role AEP assumes, which AEP may
   * check when the S3 connection is created.
   * @default none beyond the provisioner function itself
   */
  readonly waitFor?: ITerraformDependable[];
  /**
   * Anything else for the provisioner function (memory, log retention, bundling, tags).
   * @default the PipelineFunction defaults, with a 300 s timeout
   */
  readonly functionOptions?: Omit<PipelineFunctionProps, 'entry' | 'prebuiltBundle' | 'environment' | 'secretArns' | 'alarmTopicArn'>;
}

export interface AepExportDestinationProps {
  /** ARN of the role AEP assumes to write to the bucket (e.g. the AepAccessRole construct's). */
  readonly roleArn: string;
  /** The bucket AEP writes to. */
  readonly bucket: string;
  /** The bucket folder AEP writes under, without a leading slash, e.g. `egress`. */
  readonly path: string;
  /** @default 'parquet' */
  readonly format?: 'parquet' | 'json';
  /** @default 'gzip' */
  readonly compression?: 'gzip' | 'none';
}

export interface AepIngestionSourceProps {
  /** The bucket the score stage writes to. */
  readonly bucket: string;
  /** The bucket folder the scores are under, without slashes at either end, e.g. `ingress`; AEP reads `<path>/<scoresDatasetId>/`. */
  readonly path: string;
}

/**
 * Provisions the AEP resources the pipeline needs at deploy time. AEP has no Terraform provider, so a
 * provisioner Lambda is driven by `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`: it creates on
 * `cdktf deploy`, updates when the inputs change and deletes on `cdktf destroy`. Its input and result
 * hold names and ids only; the credentials stay in Secrets Manager.
 */
export class AepProvisioning extends Construct {
  readonly function: PipelineFunction;
  readonly invocation: LambdaInvocation;
  /** The provisioner's result, decoded: the ids below are lookups into it. */
  readonly result: unknown;
  readonly tenantId: string;
  readonly fieldGroupId: string;
  readonly schemaId: string;
  readonly scoresDatasetId: string;
  readonly scoresTable: string;
  /** Flow Service id of the export's base connection; empty without `exportDestination`. */
  readonly exportBaseConnectionId: string;
  /** Flow Service id of the export's target connection; empty without `exportDestination`. */
  readonly exportTargetConnectionId: string;
  /** Flow Service id of the scores ingestion dataflow, whose runs the ingestion check watches; empty without `ingestionSource`. */
  readonly ingestionFlowId: string;
  /** Data Prep id of the ingestion's mapping set; empty without `ingestionSource`. */
  readonly ingestionMappingSetId: string;

  constructor(scope: Construct, id: string, props: AepProvisioningProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    let environment: Record<string, string>;
    try {
      environment = environmentFor(PROVISIONER.settings, connectionSettings(props), (value) => Token.isUnresolved(value));
    } catch (error) {
      throw new Error(`AepProvisioning ${this.node.path}: ${(error as Error).message}`);
    }
    this.function = new PipelineFunction(this, 'Function', {
      timeoutSeconds: PROVISIONER.timeoutSeconds,
      memorySize: PROVISIONER.memorySize,
      description: `The AEP provisioner: ${PROVISIONER.description}`,
      ...givenOptions(props.functionOptions),
      ...libraryHandler(PROVISIONER),
      environment,
      secretArns: [props.credentialsSecretArn],
      alarmTopicArn: props.alarmTopicArn,
    });

    this.invocation = new LambdaInvocation(this, 'Invocation', {
      functionName: this.function.functionName,
      input: JSON.stringify({
        namePrefix: props.namePrefix ?? DEFAULT_NAME_PREFIX,
        scores: { retainDatasetOnDestroy: props.retainDatasetOnDestroy ?? true },
        features: { retainDatasetsOnDestroy: props.retainFeatureDatasets ?? false },
        ...(props.exportDestination && {
          export: {
            roleArn: props.exportDestination.roleArn,
            bucket: props.exportDestination.bucket,
            path: props.exportDestination.path,
            format: props.exportDestination.format ?? 'parquet',
            compression: props.exportDestination.compression ?? 'gzip',
          },
        }),
        ...(props.ingestionSource && { ingestion: { bucket: props.ingestionSource.bucket, path: props.ingestionSource.path } }),
      }),
      lifecycleScope: 'CRUD',
      terraformKey: DEFAULT_TERRAFORM_KEY,
      // On destroy the invocation's delete must run while the function can still read the secret and log.
      dependsOn: [this.function.function, this.function.policy, this.function.logGroup, ...(props.waitFor ?? [])],
    });

    this.result = Fn.jsondecode(this.invocation.result);
    const field = (name: string) => Fn.lookup(this.result, name, '') as string;
    this.tenantId = field('tenantId');
    this.fieldGroupId = field('fieldGroupId');
    this.schemaId = field('schemaId');
    this.scoresDatasetId = field('scoresDatasetId');
    this.scoresTable = field('scoresTable');
    this.exportBaseConnectionId = field('exportBaseConnectionId');
    this.exportTargetConnectionId = field('exportTargetConnectionId');
    this.ingestionFlowId = field('ingestionFlowId');
    this.ingestionMappingSetId = field('ingestionMappingSetId');
  }
}
