import * as z from 'zod';
import { inputIssues, ProvisioningInputError } from './errors';

/**
 * What the AEP provisioner is asked to keep in place: the declarative input of the Terraform
 * `aws_lambda_invocation` resource. It lands in Terraform state, so it holds names and flags only,
 * never a credential.
 */

/** An IAM role ARN, in any AWS partition. */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** The S3 destination AEP exports the feature datasets to. Names and the role ARN only: no keys. */
export const exportDestinationPlanSchema = z
  .object({
    /** The role AEP assumes to write to the bucket. */
    roleArn: z.string({ error: 'must be an IAM role ARN' }).regex(ROLE_ARN, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)'),
    bucket: z.string({ error: 'must be a bucket name' }).min(1, 'must be a bucket name'),
    /** The bucket folder AEP writes under, e.g. `egress`. */
    path: z.string({ error: 'must be a string' }).min(1, 'must not be empty').regex(/^[^/]/, 'must not start with "/"'),
    format: z.enum(['parquet', 'json'], { error: 'must be "parquet" or "json"' }).default('parquet'),
    compression: z.enum(['gzip', 'none'], { error: 'must be "gzip" or "none"' }).default('gzip'),
  })
  .strict();

/** S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens, a letter or digit at each end. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The S3 folder AEP ingests the scores from. Bucket and folder only: the S3 source authenticates
 * without keys (its base connection names the bucket, whose policy allows Adobe's IAM role).
 */
export const ingestionSourcePlanSchema = z
  .object({
    bucket: z.string({ error: 'must be a bucket name' }).regex(BUCKET_NAME, 'must be an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)'),
    /** The bucket folder the score stage writes under, e.g. `ingress`; the flow reads `<path>/<scoresDatasetId>/`. */
    path: z
      .string({ error: 'must be a string' })
      .min(1, 'must not be empty')
      .regex(/^[^/]/, 'must not start with "/"')
      .regex(/^[^*]*$/, 'must not contain "*"'),
  })
  .strict();

const NAME_PREFIX = /^[A-Za-z0-9_-](?:[A-Za-z0-9 _-]{0,38}[A-Za-z0-9_-])?$/;

export const provisioningPlanSchema = z
  .object({
    /** Starts the title or name of every AEP resource the plan provisions, so several pipelines can share a sandbox. */
    namePrefix: z
      .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
      .regex(
        NAME_PREFIX,
        'must be 1-40 letters, digits, spaces, "_" or "-", and must not start or end with a space',
      ),
    scores: z
      .object({
        /**
         * Keep the scores dataset (with the profiles' propensities in it) when the plan is destroyed or
         * its names change. The schema, identity descriptor and field group the dataset is built on are
         * then kept with it: AEP refuses to delete a schema a dataset uses.
         */
        retainDatasetOnDestroy: z.boolean({ error: 'must be true or false' }).default(true),
      })
      .strict()
      .default({ retainDatasetOnDestroy: true }),
    features: z
      .object({
        /**
         * Keep the feature datasets the featurize stage made with CREATE TABLE AS
         * (`<prefix>_training_features`, `<prefix>_scoring_features`) when the plan is destroyed or its
         * names change. Off by default: they hold one row per profile and the pipeline rebuilds them.
         */
        retainDatasetsOnDestroy: z.boolean({ error: 'must be true or false' }).default(false),
      })
      .strict()
      .default({ retainDatasetsOnDestroy: false }),
    /**
     * The S3 destination of the dataset export (its base and target connections), which needs no
     * dataset and so is provisioned at deploy time. The export stage adds the source connection and flow.
     */
    export: exportDestinationPlanSchema.optional(),
    /**
     * The ingestion of the scores from S3 into the scores dataset: the S3 source's base and source
     * connections, the data lake target connection, the Data Prep mapping set and the CloudStorageToAEP
     * flow, run by AEP every 15 minutes.
     */
    ingestion: ingestionSourcePlanSchema.optional(),
  })
  .strict();

export type ProvisioningPlan = z.infer<typeof provisioningPlanSchema>;
export type ExportDestinationPlan = z.infer<typeof exportDestinationPlanSchema>;
export type IngestionSourcePlan = z.infer<typeof ingestionSourcePlanSchema>;
export type ProvisioningPlanInput = z.input<typeof provisioningPlanSchema>;

/** Validates a plan; `at` prefixes the paths in error messages (e.g. `tf.prev_input`). */
export function parseProvisioningPlan(input: unknown, at = ''): ProvisioningPlan {
  const parsed = provisioningPlanSchema.safeParse(input);
  if (!parsed.success) {
    throw new ProvisioningInputError(`Invalid provisioning plan${at ? ` in ${at}` : ''}`, inputIssues(parsed.error, at, 'provisioning plan'));
  }
  return parsed.data;
}

/** The AEP names a plan gives its resources. */
export interface ResourceNames {
  /** Title of the tenant field group holding `_<tenant>.propensity` and `_<tenant>.userid`. */
  fieldGroup: string;
  /** Title of the profile schema made of the profile class and that field group. */
  schema: string;
  /** Name of the dataset the scores are ingested into. */
  scoresDataset: string;
}

export function resourceNames(plan: Pick<ProvisioningPlan, 'namePrefix'>): ResourceNames {
  return {
    fieldGroup: `${plan.namePrefix} propensity`,
    schema: `${plan.namePrefix} propensity profiles`,
    scoresDataset: `${plan.namePrefix} propensity scores`,
  };
}

export function sameNames(a: ResourceNames, b: ResourceNames): boolean {
  return a.fieldGroup === b.fieldGroup && a.schema === b.schema && a.scoresDataset === b.scoresDataset;
}
