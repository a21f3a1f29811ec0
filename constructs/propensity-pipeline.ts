import { Construct } from 'constructs';
import { AepAccessRole } from './aep-access-role';
import { AepCredentialsSecret } from './aep-credentials-secret';
import { AepProvisioning } from './aep-provisioning';
import { AlarmTopic } from './alarm-topic';
import { PipelineBucket, type PipelineBucketProps } from './pipeline-bucket';

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
  readonly credentialsSecretArn?: string;
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
}

export interface PropensityPipelineProps {
  readonly aep: PropensityPipelineAepProps;
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
}

/**
 * The propensity pipeline of Adobe's AI/ML feature-pipeline notebooks as infrastructure: the bucket
 * (egress, ingress, models, runs), the role AEP assumes to use it, the AEP credentials secret, one
 * alarm topic, and the AEP resources provisioned at deploy time. Stage functions and their schedules
 * join as their stages are built. Every inner construct is a public property for you to extend.
 */
export class PropensityPipeline extends Construct {
  readonly bucket: PipelineBucket;
  readonly aepAccessRole: AepAccessRole;
  readonly credentials: AepCredentialsSecret;
  readonly alarmTopic: AlarmTopic;
  readonly provisioning: AepProvisioning;

  constructor(scope: Construct, id: string, props: PropensityPipelineProps) {
    super(scope, id);
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
      namePrefix: props.aep.namePrefix,
      retainDatasetOnDestroy: props.aep.retainDatasetsOnDestroy,
      alarmTopicArn: this.alarmTopic.topicArn,
    });
  }
}
