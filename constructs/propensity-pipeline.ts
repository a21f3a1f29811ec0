import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { AepAccessRole } from './aep-access-role';
import { AepCredentialsSecret } from './aep-credentials-secret';
import { AepProvisioning } from './aep-provisioning';
import { AlarmTopic } from './alarm-topic';
import { Token } from 'cdktf';
import { DEFAULT_NAME_PREFIX, MODEL_DEFAULTS, trainingWindowIssue } from '../lib/config/schema';
import { environmentFor, type SettingValues } from '../lib/config/settings';
import { validateSpec, type FeatureSpec } from '../lib/features/spec';
import { STAGE_NAMES, STAGES, type BucketAccess, type BucketFolder, type StageDefinition, type StageName } from '../lib/stages/registry';
import { connectionSettings } from './connection-settings';
import { PipelineBucket, type PipelineBucketProps } from './pipeline-bucket';
import { givenOptions, libraryHandler, PipelineFunction, type PipelineFunctionProps } from './pipeline-function';
import { PropensityAudience } from './propensity-audience';
import { StageSchedule } from './stage-schedule';
import { admitAwsProviderVersions } from './aws-provider-versions';

export interface PropensityPipelineAepProps {
  /** IMS organization id (`…@AdobeOrg`); also the external id of the role AEP assumes. */
  readonly imsOrgId: string;
  /**
   * Sandbox name.
   * @default 'prod'
   */
  readonly sandbox?: string;
  /**
   * Tenant id without its underscore.
   * @default read from the Schema Registry at run time
   */
  readonly tenantId?: string;
  /**
   * A Secrets Manager secret already holding `{"clientId","clientSecret"}`.
   * @default an empty secret is created; fill it with `aws secretsmanager put-secret-value` and deploy again
   */
  readonly credentialsSecretArn?: string | undefined;
  /**
   * Prefix of the names of the AEP resources the pipeline creates.
   * @default 'cmle'
   */
  readonly namePrefix?: string;
  /**
   * Keep the scores dataset (and the schema it needs) on `cdktf destroy`.
   * @default true
   */
  readonly retainDatasetsOnDestroy?: boolean;
  /**
   * Keep the feature datasets the featurize stage made (`<namePrefix>_training_features`,
   * `<namePrefix>_scoring_features`, one row per profile) on `cdktf destroy`.
   * @default false: destroy deletes them
   */
  readonly retainFeatureDatasets?: boolean;
  /**
   * Adobe's IAM role that reads Amazon S3 sources (shown under "Add IAM role to allow list" when you add
   * an Amazon S3 account in the AEP UI, or returned by Flow Service's
   * `GET /connectionSpecs/ecadc60c-7455-4d87-84dc-2a0e293d997b/configs?authType=IamBasedAuthentication`).
   * The S3 source authenticates without keys: the bucket's policy must allow this role to list the
   * bucket and read the ingress folder, which this construct adds to the policy of the bucket it creates.
   * @default none; allow the role in the bucket's policy yourself, or the ingestion runs fail with access denied
   */
  readonly ingestionSourceRoleArn?: string;
}

/** A scheduled stage of the pipeline: its function and the schedule that invokes it. */
export interface PipelineStage {
  readonly function: PipelineFunction;
  readonly schedule: StageSchedule;
}

/** When and how a scheduled stage runs. */
export interface StageOptions {
  /**
   * EventBridge Scheduler expression.
   * @default the stage's own (see each stage)
   */
  readonly schedule?: string;
  /**
   * Time zone of the schedule.
   * @default 'UTC'
   */
  readonly timezone?: string;
  /**
   * Anything else for the stage's function (memory, timeout, log retention).
   * @default the PipelineFunction defaults, with the stage's timeout
   */
  readonly functionOptions?: Omit<PipelineFunctionProps, 'entry' | 'prebuiltBundle' | 'environment' | 'secretArns' | 'alarmTopicArn' | 'bucketAccess'>;
}

export interface PropensityPipelineFeatureProps {
  /** The AEP dataset of experience events to featurize (with `_<tenant>.userid`). */
  readonly eventsDatasetId: string;
  /**
   * The features: your own specification, or the week-2 set extended with `extendSpec`. Validated at synth.
   * @default WEEK2_FEATURES, the notebook's features
   */
  readonly spec?: FeatureSpec;
  /**
   * Featurize: submits the feature queries for new event snapshots.
   * @default daily at 03:00 (`cron(0 3 * * ? *)`)
   */
  readonly featurize?: StageOptions;
  /**
   * Export: runs the dataset export to egress/ once the queries finished, and verifies the files.
   * @default daily at 04:00, an hour after featurize (`cron(0 4 * * ? *)`)
   */
  readonly export?: StageOptions;
  /**
   * Hours between AEP's own scheduled exports (3, 6, 9, 12 or 24); the export stage also runs them at once.
   * @default 24
   */
  readonly exportIntervalHours?: 3 | 6 | 9 | 12 | 24;
}

/** The propensity model: its training, its champion/challenger registry and the scoring (notebook weeks 3 and 4). */
export interface PropensityPipelineModelProps {
  /**
   * Name of the model in the registry (`models/<name>/`).
   * @default 'cmle_propensity_model'
   */
  readonly name?: string;
  /**
   * How far below the production model's held-out AUC a retrained model may be and still replace it.
   * @default 0 (a challenger must be at least as good)
   */
  readonly promotionTolerance?: number;
  /**
   * The floor every model must reach to become production, the first one included: its held-out AUC,
   * from 0.5 to below 1. On a few hundred held-out users a model with no skill reaches about 0.55.
   * @default 0.6
   */
  readonly minAuc?: number;
  /**
   * The floor's other half: how far above the logistic baseline's held-out AUC, on the same rows, a
   * model's must be to become production (0 to 0.5).
   * @default 0.01
   */
  readonly baselineMargin?: number;
  /**
   * Days of exports, counted back from each train run, that a model learns from. It must be shorter
   * than the bucket's `egressExpirationDays` by at least a day, or training would read files the
   * lifecycle deletes; synth fails otherwise, naming both.
   * @default 28
   */
  readonly trainingWindowDays?: number;
  /**
   * Days between retrainings while production holds a model. The train function runs daily and skips
   * until the last run that trained is this old; without a production model every run with a new
   * export trains, so a failed or killed first training is retried the next day.
   * @default 7
   */
  readonly retrainEveryDays?: number;
  /**
   * Train: learns a model from the exports of its window, registers it, promotes it when it passes the
   * floor and is at least as good as production; runs daily and retrains every `retrainEveryDays`.
   * @default daily at 05:00 (`cron(0 5 * * ? *)`), 3,008 MB, 15 minutes
   */
  readonly train?: StageOptions;
  /**
   * Score: scores the newest scoring export with the production model and writes the CSV for AEP.
   * @default daily at 05:30, after export (`cron(30 5 * * ? *)`), 1,769 MB (one full vCPU), 15 minutes
   */
  readonly score?: StageOptions;
  /**
   * Ingestion check: confirms AEP's dataflow ingested every score file in full; fails (and alarms) otherwise.
   * @default hourly at minute 15 (`cron(15 * * * ? *)`)
   */
  readonly ingestionCheck?: StageOptions;
}

/** The audience of the scored profiles in a propensity band (notebook week 5). */
export interface PropensityPipelineAudienceProps {
  /**
   * Name of the segment definition.
   * @default '<namePrefix> propensity <low> to <high>'
   */
  readonly name?: string;
  /** Lowest propensity in the audience, included (0 to 1). */
  readonly low: number;
  /** Highest propensity in the audience, included (`low` to 1). */
  readonly high: number;
  /**
   * Audience stage: summarizes new scores (histogram, reach, the band's reach) and, once they are
   * ingested, records the qualified count of AEP's daily scheduled segmentation; schedule it after the
   * sandbox's segmentation time. It starts an on-demand segment job only when invoked with
   * `{"stage": "audience", "onDemand": true}`, within a budget kept in the ledger.
   * @default daily at 07:00 (`cron(0 7 * * ? *)`)
   */
  readonly evaluate?: StageOptions;
  /**
   * On-demand segment jobs the audience stage may start in any 24 hours (0 to 2, AEP's allowance).
   * @default 2
   */
  readonly onDemandPerDay?: number;
  /**
   * On-demand segment jobs the audience stage may start in any 365 days, counted in the ledger (0 to 100).
   * @default 100 in a development sandbox, else 50, as AEP allows
   */
  readonly onDemandPerYear?: number;
}

export interface PropensityPipelineProps {
  readonly aep: PropensityPipelineAepProps;
  /** The featurize and export stages (notebook week 2). */
  readonly features: PropensityPipelineFeatureProps;
  /**
   * The storage bucket: options for a new one, or `existingBucket`.
   * @default a new bucket with the PipelineBucket defaults
   */
  readonly bucket?: PipelineBucketProps;
  /**
   * Email addresses subscribed to the pipeline's alarms.
   * @default none; subscribe to `alarmTopic.topicArn` as you like
   */
  readonly alarmEmails?: string[];
  /**
   * The model's training and scoring, and the check that AEP ingested the scores.
   * @default the defaults of each PropensityPipelineModelProps field
   */
  readonly model?: PropensityPipelineModelProps;
  /**
   * The audience built from the scores: a segment definition provisioned at deploy time, and the stage
   * that evaluates it.
   * @default none
   */
  readonly audience?: PropensityPipelineAudienceProps;
}

/**
 * The propensity pipeline of Adobe's AI/ML feature-pipeline notebooks as infrastructure: the bucket
 * (egress, ingress, models, runs), the role AEP assumes to use it, the AEP credentials secret, one
 * alarm topic, the AEP resources provisioned at deploy time, and one function and schedule per stage:
 * featurize, export, train, score, ingestion check and, with an audience, the audience stage. Every
 * inner construct is a public property for you to extend.
 */
export class PropensityPipeline extends Construct {
  readonly bucket: PipelineBucket;
  readonly aepAccessRole: AepAccessRole;
  readonly credentials: AepCredentialsSecret;
  readonly alarmTopic: AlarmTopic;
  readonly provisioning: AepProvisioning;
  readonly featurize: PipelineFunction;
  readonly featurizeSchedule: StageSchedule;
  readonly export: PipelineFunction;
  readonly exportSchedule: StageSchedule;
  readonly train: PipelineFunction;
  readonly trainSchedule: StageSchedule;
  readonly score: PipelineFunction;
  readonly scoreSchedule: StageSchedule;
  readonly ingestionCheck: PipelineFunction;
  readonly ingestionCheckSchedule: StageSchedule;
  /** The propensity audience, when `audience` is given. */
  readonly audience?: PropensityAudience;
  /** The audience stage's function and schedule, when `audience` is given. */
  readonly audienceStage?: PipelineFunction | undefined;
  readonly audienceSchedule?: StageSchedule | undefined;
  /** Every scheduled stage by name (the registry's), the audience stage only with `audience`. */
  readonly stages: Partial<Record<StageName, PipelineStage>>;
  /**
   * The settings the stage functions are given, by configuration path; each function's environment
   * holds those its stage reads (lib/stages/registry.ts), written by lib/config/settings.ts.
   */
  readonly settings: SettingValues;
  /** The bucket policy statements that let AEP's S3 source read the ingress folder; with `aep.ingestionSourceRoleArn` only. */
  readonly ingestionReadPolicy?: DataAwsIamPolicyDocument;

  constructor(scope: Construct, id: string, props: PropensityPipelineProps) {
    super(scope, id);
    admitAwsProviderVersions(this);
    this.bucket = new PipelineBucket(this, 'Bucket', props.bucket);
    this.aepAccessRole = new AepAccessRole(this, 'AepAccessRole', { imsOrgId: props.aep.imsOrgId, bucket: this.bucket });
    this.credentials = new AepCredentialsSecret(this, 'AepCredentials', { existingSecretArn: props.aep.credentialsSecretArn });
    this.alarmTopic = new AlarmTopic(this, 'Alarms', { emailSubscriptions: props.alarmEmails });
    this.provisioning = new AepProvisioning(this, 'AepProvisioning', {
      imsOrgId: props.aep.imsOrgId,
      sandbox: props.aep.sandbox,
      tenantId: props.aep.tenantId,
      credentialsSecretArn: this.credentials.secretArn,
      bucketName: this.bucket.bucketName,
      bucketRegion: this.bucket.region,
      namePrefix: props.aep.namePrefix,
      retainDatasetOnDestroy: props.aep.retainDatasetsOnDestroy,
      retainFeatureDatasets: props.aep.retainFeatureDatasets,
      alarmTopicArn: this.alarmTopic.topicArn,
      waitFor: [this.aepAccessRole.policy],
      // The export's S3 destination needs no dataset, so it is provisioned at deploy time; the export
      // stage finds it by name and adds the source connection and flow once the feature datasets exist.
      // Parquet with gzip: the export stage's defaults, which this construct does not override.
      exportDestination: {
        roleArn: this.aepAccessRole.roleArn,
        bucket: this.bucket.bucketName,
        path: this.bucket.prefixes.egress.replace(/\/+$/, ''),
        format: 'parquet',
        compression: 'gzip',
      },
      // The score files' dataflow into the scores dataset: it needs the dataset, which the same
      // invocation creates first, so the whole ingestion side is in place from the first deploy.
      ingestionSource: {
        bucket: this.bucket.bucketName,
        path: this.bucket.prefixes.ingress.replace(/\/+$/, ''),
      },
    });
    if (props.aep.ingestionSourceRoleArn !== undefined && this.bucket.policyDocument) {
      this.ingestionReadPolicy = new DataAwsIamPolicyDocument(this, 'AepIngestionRead', {
        statement: [
          {
            sid: 'AepSourceReadsIngress',
            effect: 'Allow',
            principals: [{ type: 'AWS', identifiers: [props.aep.ingestionSourceRoleArn] }],
            actions: ['s3:GetObject'],
            resources: [`${this.bucket.bucketArn}/${this.bucket.prefixes.ingress}*`],
          },
          {
            sid: 'AepSourceListsBucket',
            effect: 'Allow',
            principals: [{ type: 'AWS', identifiers: [props.aep.ingestionSourceRoleArn] }],
            actions: ['s3:ListBucket'],
            resources: [this.bucket.bucketArn],
          },
        ],
      });
      this.bucket.policyDocument.sourcePolicyDocuments = [this.ingestionReadPolicy.json];
    }

    const model = props.model ?? {};
    const windowIssue = trainingWindowIssue(model.trainingWindowDays ?? MODEL_DEFAULTS.trainingWindowDays, this.bucket.egressExpirationDays);
    if (windowIssue) throw new Error(`PropensityPipeline ${this.node.path}: ${windowIssue}`);
    const namePrefix = props.aep.namePrefix ?? DEFAULT_NAME_PREFIX;
    if (props.audience) {
      const { low, high } = props.audience;
      this.audience = new PropensityAudience(this, 'Audience', {
        provisioner: this.provisioning.function,
        name: props.audience.name ?? `${namePrefix} propensity ${low} to ${high}`,
        low,
        high,
        tenantId: props.aep.tenantId,
        // The rule reads _<tenant>.propensity, which the provisioned scores schema brings into the Profile union.
        waitFor: [this.provisioning.invocation],
      });
    }

    // Every setting a stage function may read, once; each function gets those its registry entry names.
    const { prefixes } = this.bucket;
    this.settings = {
      ...connectionSettings({ ...props.aep, credentialsSecretArn: this.credentials.secretArn, bucketName: this.bucket.bucketName, bucketRegion: this.bucket.region }),
      'storage.prefixes.egress': prefixes.egress,
      'storage.prefixes.ingress': prefixes.ingress,
      'storage.prefixes.staging': prefixes.staging,
      'storage.prefixes.models': prefixes.models,
      'storage.prefixes.runs': prefixes.runs,
      namePrefix,
      'datasets.events': props.features.eventsDatasetId,
      'datasets.scores': this.provisioning.scoresDatasetId,
      featureSpec: props.features.spec ? JSON.stringify(validateSpec(props.features.spec)) : undefined,
      'export.roleArn': this.aepAccessRole.roleArn,
      'export.intervalHours': props.features.exportIntervalHours,
      'model.name': model.name,
      'model.promotionTolerance': model.promotionTolerance,
      'model.minAuc': model.minAuc,
      'model.baselineMargin': model.baselineMargin,
      'model.trainingWindowDays': model.trainingWindowDays,
      'model.retrainEveryDays': model.retrainEveryDays,
      'storage.egressRetentionDays': this.bucket.egressExpirationDays,
      'audience.definitionId': this.audience?.definitionId,
      'audience.low': this.audience?.low,
      'audience.high': this.audience?.high,
      'audience.onDemandPerDay': props.audience?.onDemandPerDay,
      'audience.onDemandPerYear': props.audience?.onDemandPerYear,
    };

    const options: Record<StageName, StageOptions | undefined> = {
      featurize: props.features.featurize,
      export: props.features.export,
      train: model.train,
      score: model.score,
      'ingestion-check': model.ingestionCheck,
      audience: props.audience?.evaluate,
    };
    const stages: Partial<Record<StageName, PipelineStage>> = {};
    for (const name of STAGE_NAMES) {
      if (name === 'audience' && !this.audience) continue;
      stages[name] = this.stage(STAGES[name], options[name]);
    }
    this.stages = stages;
    const stage = (name: StageName) => stages[name] as PipelineStage;
    this.featurize = stage('featurize').function;
    this.featurizeSchedule = stage('featurize').schedule;
    this.export = stage('export').function;
    this.exportSchedule = stage('export').schedule;
    this.train = stage('train').function;
    this.trainSchedule = stage('train').schedule;
    this.score = stage('score').function;
    this.scoreSchedule = stage('score').schedule;
    this.ingestionCheck = stage('ingestion-check').function;
    this.ingestionCheckSchedule = stage('ingestion-check').schedule;
    this.audienceStage = stages.audience?.function;
    this.audienceSchedule = stages.audience?.schedule;
  }

  /** One stage's function and schedule, as its registry entry describes them. */
  private stage(definition: StageDefinition, options: StageOptions | undefined): PipelineStage {
    // `Audience` is the segment definition's construct; the stage that evaluates it is `AudienceStage`.
    const id = definition.name.split('-').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('') + (definition.name === 'audience' ? 'Stage' : '');
    const prefixes = (folders: readonly BucketFolder[]) => folders.map((folder) => this.bucket.prefixes[folder]);
    const access = definition.bucket as BucketAccess;
    let environment: Record<string, string>;
    try {
      environment = environmentFor(definition.settings, this.settings, (value) => Token.isUnresolved(value));
    } catch (error) {
      throw new Error(`PropensityPipeline ${this.node.path}: ${(error as Error).message}`);
    }
    const fn = new PipelineFunction(this, id, {
      timeoutSeconds: definition.timeoutSeconds,
      memorySize: definition.memorySize,
      description: `The ${definition.name} stage of the propensity pipeline: ${definition.description}`,
      ...givenOptions(options?.functionOptions),
      ...libraryHandler(definition),
      environment,
      secretArns: [this.credentials.secretArn],
      alarmTopicArn: this.alarmTopic.topicArn,
      bucketAccess: {
        bucketArn: this.bucket.bucketArn,
        read: prefixes(access.read),
        write: prefixes(access.write),
        delete: prefixes(access.delete),
        kmsKeyArn: this.bucket.kmsKeyArn,
      },
    });
    const schedule = new StageSchedule(this, `${id}Schedule`, {
      functionArn: fn.functionArn,
      stage: definition.name,
      scheduleExpression: options?.schedule ?? definition.schedule,
      timezone: options?.timezone,
      alarmTopicArn: this.alarmTopic.topicArn,
    });
    return { function: fn, schedule };
  }
}
