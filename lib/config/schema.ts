import * as z from 'zod';
import { bandOrderIssue, propensityFromText } from '../audience/band';

/** AEP's production endpoints and the IMS scopes the server-to-server credential asks for. */
export const AEP_DEFAULTS = {
  imsEndpoint: 'https://ims-na1.adobelogin.com',
  platformEndpoint: 'https://platform.adobe.io',
  scopes: 'openid,AdobeID,read_organizations,additional_info.projectedProductContext,session',
  queryServicePort: 80,
} as const;

/**
 * Where the score stage stages its CSV parts before publishing them: beside the ingress folder
 * (`ingress/` -> `ingress_staging/`), outside everything the ingestion dataflow watches.
 */
export function stagingPrefixFor(ingressPrefix: string): string {
  return `${ingressPrefix.replace(/\/+$/, '')}_staging/`;
}

/** The bucket's folders: egress (features from AEP), ingress (scores for AEP), its staging folder, models, runs. */
export const DEFAULT_PREFIXES = {
  egress: 'egress/',
  ingress: 'ingress/',
  staging: stagingPrefixFor('ingress/'),
  models: 'models/',
  runs: 'runs/',
} as const;

/** Prefix of the names of what the pipeline creates in AEP. */
export const DEFAULT_NAME_PREFIX = 'cmle';

/** Name of the model in the registry (`models/<name>/`). */
export const DEFAULT_MODEL_NAME = 'cmle_propensity_model';

const nonEmpty = (what: string) => z.string({ error: `${what} is required` }).trim().min(1, `${what} must not be empty`);

const httpUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .transform((value) => value.replace(/\/+$/, ''));

const prefix = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*\/?$/, 'must be a relative S3 key prefix such as "egress/"')
  .transform((value) => (value.endsWith('/') ? value : `${value}/`));

/** Client credentials given directly (local runs), or the ARN of a Secrets Manager secret holding them (Lambda). */
export const credentialsSchema = z.union(
  [
    z.object({ clientId: nonEmpty('client id'), clientSecret: nonEmpty('client secret') }).strict(),
    z
      .object({
        secretArn: z
          .string()
          .trim()
          .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'must be a Secrets Manager secret ARN'),
      })
      .strict(),
  ],
  { error: 'give either clientId and clientSecret, or secretArn (a Secrets Manager secret holding them)' },
);

/** A whole number of days, at least one. */
const wholeDays = () => z.coerce.number({ error: 'must be a whole number of days' }).int('must be a whole number of days').min(1, 'must be at least 1');

/**
 * Training defaults; a seed fixed by default so that scheduled runs are reproducible.
 *
 * - `trainingWindowDays`: four weeks of exports, two days inside the bucket's default 30-day egress
 *   retention, so the oldest file a run reads has days left before the lifecycle deletes it.
 * - `minAuc`: a held-out AUC of 0.5 is chance; on a few hundred held-out users a no-skill model
 *   reaches about 0.55 by luck, so 0.6 refuses noise while any model with real signal passes it
 *   (the week-2 features give about 0.98).
 * - `baselineMargin`: trees that do not beat a logistic regression on the same rows by a point of AUC
 *   learned nothing the transparent baseline did not, and may have learned noise.
 * - `retrainEveryDays`: weekly, the notebook's cadence; the train function runs daily, so a run that
 *   fails or is killed is retried the next day rather than the next week.
 */
export const MODEL_DEFAULTS = {
  seed: 42,
  testFraction: 0.2,
  threshold: 0.5,
  promotionTolerance: 0,
  minAuc: 0.6,
  baselineMargin: 0.01,
  minRows: 200,
  trainingWindowDays: 28,
  retrainEveryDays: 7,
} as const;

/**
 * Why a training window does not fit the bucket's egress retention, or undefined when it does: the
 * oldest export a train run reads must outlive the run by a day, so the window is shorter than the
 * retention by at least one day. An unknown retention (a bucket managed elsewhere) is not checked.
 */
export function trainingWindowIssue(trainingWindowDays: number, egressRetentionDays: number | undefined): string | undefined {
  if (egressRetentionDays === undefined || trainingWindowDays <= egressRetentionDays - 1) return undefined;
  return (
    `the training window of ${trainingWindowDays} days (model.trainingWindowDays) must be shorter than the ` +
    `egress retention of ${egressRetentionDays} days (the bucket's egressExpirationDays) by at least a day, ` +
    `or training would read exported files the lifecycle deletes: use at most ${egressRetentionDays - 1} days or keep exports longer`
  );
}

export const queryDialects = ['data-distiller', 'postgres'] as const;

export const pipelineConfigSchema = z
  .object({
    aep: z
      .object({
        orgId: z
          .string({ error: 'IMS org id is required' })
          .trim()
          .regex(/^[A-Za-z0-9]+@AdobeOrg$/, 'must be an IMS org id such as 0123456789ABCDEF01234567@AdobeOrg'),
        sandbox: z
          .string()
          .trim()
          .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a sandbox name: lowercase letters, digits and hyphens')
          .default('prod'),
        /** Tenant id without the leading underscore; read from the Schema Registry when absent. */
        tenantId: z
          .string()
          .trim()
          .regex(/^[a-z0-9_]+$/, 'must be the tenant id without its leading underscore, e.g. "acme"')
          .optional(),
        credentials: credentialsSchema,
        scopes: z.string().trim().min(1).default(AEP_DEFAULTS.scopes),
        imsEndpoint: httpUrl.default(AEP_DEFAULTS.imsEndpoint),
        platformEndpoint: httpUrl.default(AEP_DEFAULTS.platformEndpoint),
        queryService: z
          .object({
            /** `<org-name>.platform-query.adobe.io`; read from Query Service's connection parameters when absent. */
            host: z
              .string()
              .trim()
              .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name')
              .optional(),
            port: z.coerce.number({ error: 'must be a port number' }).int().min(1).max(65535).default(AEP_DEFAULTS.queryServicePort),
            ssl: z.boolean().default(true),
            dialect: z.enum(queryDialects).default('data-distiller'),
          })
          .strict()
          .default({ port: AEP_DEFAULTS.queryServicePort, ssl: true, dialect: 'data-distiller' }),
      })
      .strict(),
    storage: z
      .object({
        bucket: z
          .string({ error: 'bucket is required' })
          .trim()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)'),
        region: z.string().trim().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1').default('us-east-1'),
        /** An S3-compatible endpoint (the embedded platform's store); AWS's own when absent. */
        endpoint: httpUrl.optional(),
        forcePathStyle: z.boolean().default(false),
        /** Days the bucket's lifecycle keeps exported features (PipelineBucket's egressExpirationDays); unknown for a bucket managed elsewhere. */
        egressRetentionDays: wholeDays().optional(),
        prefixes: z
          .object({
            egress: prefix.default(DEFAULT_PREFIXES.egress),
            ingress: prefix.default(DEFAULT_PREFIXES.ingress),
            models: prefix.default(DEFAULT_PREFIXES.models),
            runs: prefix.default(DEFAULT_PREFIXES.runs),
            /** Derived from the ingress prefix when absent. */
            staging: prefix.optional(),
          })
          .strict()
          .default({ egress: DEFAULT_PREFIXES.egress, ingress: DEFAULT_PREFIXES.ingress, models: DEFAULT_PREFIXES.models, runs: DEFAULT_PREFIXES.runs })
          .transform((prefixes) => ({ ...prefixes, staging: prefixes.staging ?? stagingPrefixFor(prefixes.ingress) })),
      })
      .strict(),
    /** Datasets the pipeline has created or been pointed at (a notebook's config.ini names them too). */
    datasets: z
      .object({
        events: z.string().trim().regex(/^[A-Za-z0-9]+$/, 'must be a dataset id').optional(),
        features: z.string().trim().regex(/^[A-Za-z0-9]+$/, 'must be a dataset id').optional(),
        scores: z.string().trim().regex(/^[A-Za-z0-9]+$/, 'must be a dataset id').optional(),
      })
      .strict()
      .default({}),
    /**
     * The feature specification (lib/features/spec.ts), as JSON; validated by the featurize and export
     * stages, which use the week-2 set when absent.
     */
    featureSpec: z
      .string()
      .trim()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined || text === '') return undefined;
        try {
          return JSON.parse(text) as unknown;
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `must be JSON: ${(error as Error).message}` });
          return z.NEVER;
        }
      }),
    /** Prefix of the names of what the pipeline creates in AEP (datasets, connections, flows). */
    namePrefix: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$/, 'must be 1-40 letters, digits, spaces, "_" or "-", starting with a letter or digit')
      .default(DEFAULT_NAME_PREFIX),
    export: z
      .object({
        format: z.enum(['parquet', 'json']).default('parquet'),
        compression: z.enum(['gzip', 'none']).default('gzip'),
        /** The role AEP assumes to write to the bucket (the AepAccessRole construct's). */
        roleArn: z
          .string()
          .trim()
          .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN')
          .optional(),
        /** Hours between AEP's scheduled exports (3, 6, 9, 12 or 24); the export stage also runs them at once. */
        intervalHours: z.coerce
          .number()
          .pipe(z.union([z.literal(3), z.literal(6), z.literal(9), z.literal(12), z.literal(24)], { error: 'must be 3, 6, 9, 12 or 24' }))
          .default(24),
      })
      .strict()
      .default({ format: 'parquet', compression: 'gzip', intervalHours: 24 }),
    model: z
      .object({
        name: z
          .string()
          .trim()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "_" or "-"')
          .default(DEFAULT_MODEL_NAME),
        /** Seed of the held-out split and the learners: the same export and seed train the same model. */
        seed: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0).default(MODEL_DEFAULTS.seed),
        /** Share of each class held out to measure the model. */
        testFraction: z.coerce.number({ error: 'must be a number' }).gt(0, 'must be above 0').lt(0.5, 'must be below 0.5').default(MODEL_DEFAULTS.testFraction),
        /** Score at or above which a profile counts as predicted positive, for precision and recall. */
        threshold: z.coerce.number({ error: 'must be a number' }).gt(0, 'must be above 0').lt(1, 'must be below 1').default(MODEL_DEFAULTS.threshold),
        /** How far below the champion's held-out AUC a challenger may be and still replace it. */
        promotionTolerance: z.coerce.number({ error: 'must be a number' }).min(0, 'must be 0 or more').max(0.5, 'must be at most 0.5').default(MODEL_DEFAULTS.promotionTolerance),
        /** Lowest held-out AUC a model may have and become production, the first one included. */
        minAuc: z.coerce.number({ error: 'must be a number' }).min(0.5, 'must be at least 0.5').lt(1, 'must be below 1').default(MODEL_DEFAULTS.minAuc),
        /** How much higher than the logistic baseline's held-out AUC, on the same rows, a model's must be to become production. */
        baselineMargin: z.coerce.number({ error: 'must be a number' }).min(0, 'must be 0 or more').max(0.5, 'must be at most 0.5').default(MODEL_DEFAULTS.baselineMargin),
        /** Fewest training rows (users) a model is learned from. */
        minRows: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(20, 'must be at least 20').default(MODEL_DEFAULTS.minRows),
        /** Days of exports a model learns from, counted back from the train run: inside the egress retention. */
        trainingWindowDays: wholeDays().max(3650, 'must be at most 3650').default(MODEL_DEFAULTS.trainingWindowDays),
        /** Days between retrainings while production holds a model; without one, every run with a new export trains. */
        retrainEveryDays: wholeDays().max(365, 'must be at most 365').default(MODEL_DEFAULTS.retrainEveryDays),
      })
      .strict()
      .default({ name: DEFAULT_MODEL_NAME, ...MODEL_DEFAULTS }),
    /** The propensity audience the audience stage evaluates (PropensityAudience provisions its definition). */
    audience: z
      .object({
        /** The segment definition's id; found by `name` when absent. */
        definitionId: z.string().trim().min(1).optional(),
        name: z.string().trim().min(1).optional(),
        /** The band, both ends included. */
        low: propensityFromText,
        high: propensityFromText,
        /** On-demand segment jobs (flexible audience evaluation) allowed in any 24 hours; AEP allows 2. */
        onDemandPerDay: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be 0 or more').max(2, "must be at most 2, AEP's daily allowance").default(2),
        /** ... and in any 365 days; absent, 100 in a development sandbox and 50 otherwise, as AEP allows. */
        onDemandPerYear: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be 0 or more').max(100, "must be at most 100, AEP's yearly allowance for a development sandbox").optional(),
      })
      .strict()
      .superRefine((band, ctx) => {
        const issue = bandOrderIssue(band);
        if (issue) ctx.addIssue({ code: 'custom', path: ['low'], message: issue });
      })
      .refine((band) => band.definitionId !== undefined || band.name !== undefined, { message: 'give the definition id or its name', path: ['definitionId'] })
      .optional(),
    /** How a stage waits on AEP's asynchronous work (export runs, segment jobs) within one invocation. */
    polling: z
      .object({
        intervalMs: z.coerce.number().int().min(10, 'must be at least 10 ms').default(15_000),
        /** Past it the run is recorded as pending and the next scheduled run checks again; keep it under the function's timeout. */
        budgetMs: z.coerce.number().int().min(0).default(600_000),
      })
      .strict()
      .default({ intervalMs: 15_000, budgetMs: 600_000 }),
    http: z
      .object({
        timeoutMs: z.coerce.number().int().min(100).default(30_000),
        maxAttempts: z.coerce.number().int().min(1).max(20).default(6),
        baseDelayMs: z.coerce.number().int().min(0).default(500),
        maxDelayMs: z.coerce.number().int().min(0).default(30_000),
      })
      .strict()
      .default({ timeoutMs: 30_000, maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 }),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type AepConfig = PipelineConfig['aep'];
export type StorageConfig = PipelineConfig['storage'];
export type AepCredentialsConfig = z.infer<typeof credentialsSchema>;
export type QueryDialect = (typeof queryDialects)[number];

/** Everything the configuration can hold, before defaults and validation. */
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
