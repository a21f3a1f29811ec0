import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { createS3Client, S3ObjectStore } from '../aws/s3-object-store';
import { loadConfig } from '../config/load';
import type { PipelineConfig } from '../config/schema';
import { systemClock, type Clock } from '../ports/clock';
import { AepStandIn, type AepStandInOptions } from './aep/server';
import { ObjectStoreServer } from './object-store/server';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './postgres';
import type { TimedWork } from './time/timed-work';
import { runOnTimers } from './time/timers';

export interface EmbeddedPlatformOptions {
  /** Folder for this platform's files; the bucket's objects are kept under `<dataDir>/objects` after the run. */
  dataDir: string;
  bucket?: string;
  orgId?: string;
  sandbox?: string;
  tenantId?: string;
  /**
   * The S3 API AEP's export runs write to and its ingestion dataflows read from, when the bucket lives
   * elsewhere (an AWS emulator the stack was deployed into).
   * @default the embedded object store
   */
  aepObjectStore?: AepStandInOptions['objectStore'];
  /**
   * Options of the AEP stand-in, e.g. `exportReadyAfterMs` to see "not ready for dataset export" answers,
   * or `ingestionIntervalMs`, how often the ingestion dataflows look for new files (default 1000).
   */
  aep?: Pick<AepStandInOptions, 'exportReadyAfterMs' | 'exportRunDelayMs' | 'exportRowsPerFile' | 'ingestionIntervalMs' | 'segmentJobDelayMs' | 'segmentationSchedule'>;
  /**
   * The one clock of the AEP stand-in and the object store. Given one (a simulator's SimulatedClock),
   * the platform starts no timers for its time-driven work and leaves `timedWork` to the caller; without
   * one, the system clock, the ingestion dataflows look every `aep.ingestionIntervalMs` and the
   * lifecycle sweep runs on timers.
   * @default the system clock
   */
  clock?: Clock;
}

/** The loopback store accepts any key; these placate the SDK's credential chain without touching real AWS. */
export const EMBEDDED_S3_CREDENTIALS = { accessKeyId: 'embedded-store', secretAccessKey: 'any-key-is-accepted-locally' };
/**
 * What the AEP stand-in's dataset export and ingestion runs sign their requests to the store with: as AEP
 * holds its own credentials for the bucket, so the store's hooks can tell AEP's requests from the pipeline's.
 */
export const EMBEDDED_AEP_S3_CREDENTIALS = { accessKeyId: 'embedded-aep', secretAccessKey: 'any-key-is-accepted-locally' };

export interface EmbeddedPlatform {
  /**
   * The sandbox's tenant id. Deliberately not in the configuration: like a first run against a real
   * sandbox, the pipeline reads it from the Schema Registry.
   */
  tenantId: string;
  /** Pipeline configuration pointing every endpoint at the embedded platform. */
  config: PipelineConfig;
  /**
   * The same configuration as environment variables, as a deployed Lambda reads it. The client secret is
   * made anew for every platform, so nothing secret outlives the run.
   */
  env: Record<string, string>;
  /**
   * What the platform stands in for, on top of the environment a deployed stack gives a function: its
   * endpoints, the credential the stack's secret would hold, and the store's keys for the AWS SDK.
   */
  connectionEnv: Record<string, string>;
  objectStoreDir: string;
  postgres: EmbeddedPostgres;
  objectStore: ObjectStoreServer;
  aep: AepStandIn;
  /** The bucket, through the same S3 adapter the stages use. */
  bucket: S3ObjectStore;
  /**
   * What the platform does on its own at set times, for a simulator to run on its clock: the ingestion
   * dataflows' looks for new files (every 15 minutes, AEP's least interval for cloud storage sources)
   * and the bucket lifecycle sweep (each 00:00 UTC).
   */
  timedWork: TimedWork[];
  /** Every enabled ingestion dataflow looks for new files now, off its schedule; resolves when those runs end. */
  lookForNewFiles(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the embedded platform in-process on loopback ports chosen at run time: PGlite behind the
 * Postgres wire protocol as Query Service, an S3-compatible store keeping plain files, and the AEP
 * stand-in. Stops whatever started if a later part fails.
 */
export async function startEmbeddedPlatform(options: EmbeddedPlatformOptions): Promise<EmbeddedPlatform> {
  const orgId = options.orgId ?? 'EMBEDDED0000000000000000@AdobeOrg';
  const sandbox = options.sandbox ?? 'embedded';
  const tenantId = options.tenantId ?? 'embedded';
  const bucketName = options.bucket ?? 'aep-pipeline-local';
  const clientId = 'embedded-pipeline-client';
  const clientSecret = randomBytes(24).toString('base64url');
  const objectStoreDir = path.join(options.dataDir, 'objects');
  fs.mkdirSync(objectStoreDir, { recursive: true });

  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      await stop().catch(() => undefined);
    }
    stops.length = 0;
  };

  try {
    const postgres = await startEmbeddedPostgres();
    stops.push(() => postgres.stop());

    const clock = options.clock ?? systemClock;
    const simulated = options.clock !== undefined;
    const objectStore = new ObjectStoreServer({ rootDir: objectStoreDir, clock });
    const { endpoint: s3Endpoint } = await objectStore.start();
    stops.push(() => objectStore.stop());

    const aep = new AepStandIn({
      db: postgres.db,
      orgId,
      sandbox,
      clientId,
      clientSecret,
      tenantId,
      queryService: { host: postgres.host, port: postgres.port },
      // Dataset export runs write to the bucket through the store's S3 API, as AEP writes to S3.
      objectStore: options.aepObjectStore ?? { endpoint: s3Endpoint, region: 'us-east-1', credentials: EMBEDDED_AEP_S3_CREDENTIALS },
      ...options.aep,
      clock,
      // A simulator runs the flows' schedules itself, on its clock.
      ...(simulated && { ingestionIntervalMs: 0 }),
    });
    const { baseUrl } = await aep.start();
    stops.push(() => aep.stop());

    const connectionEnv: Record<string, string> = {
      AEP_CLIENT_ID: clientId,
      AEP_CLIENT_SECRET: clientSecret,
      AEP_IMS_ENDPOINT: baseUrl,
      AEP_PLATFORM_ENDPOINT: baseUrl,
      AEP_QUERY_SERVICE_HOST: postgres.host,
      AEP_QUERY_SERVICE_PORT: String(postgres.port),
      AEP_QUERY_SERVICE_SSL: 'false',
      AEP_QUERY_DIALECT: 'postgres',
      PIPELINE_S3_ENDPOINT: s3Endpoint,
      PIPELINE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: EMBEDDED_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMBEDDED_S3_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    const env: Record<string, string> = { AEP_ORG_ID: orgId, AEP_SANDBOX: sandbox, PIPELINE_BUCKET: bucketName, ...connectionEnv };
    // The embedded platform answers in milliseconds; short HTTP timeouts make a hang show at once.
    const { config } = loadConfig({ env, overrides: { http: { timeoutMs: 60_000, maxAttempts: 4, baseDelayMs: 50, maxDelayMs: 1000 } } });

    const s3 = createS3Client(config.storage, EMBEDDED_S3_CREDENTIALS);
    const exists = await s3.send(new HeadBucketCommand({ Bucket: bucketName })).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await s3.send(new CreateBucketCommand({ Bucket: bucketName }));
    }

    const timedWork: TimedWork[] = [
      ...aep.timedWork,
      ...objectStore.timedWork,
    ];
    if (!simulated) {
      const stopTimers = runOnTimers(objectStore.timedWork, clock, (work, error) =>
        process.emitWarning(`Embedded platform: ${work.name} failed: ${(error as Error)?.stack ?? String(error)}`),
      );
      stops.push(async () => stopTimers());
    }

    return {
      tenantId,
      config,
      env,
      connectionEnv,
      objectStoreDir,
      postgres,
      objectStore,
      aep,
      bucket: new S3ObjectStore(s3, bucketName),
      timedWork,
      lookForNewFiles: () => aep.lookForNewFiles(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
