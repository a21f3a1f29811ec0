import { S3Client } from '@aws-sdk/client-s3';

/** Where export runs write and ingestion runs read: the S3-compatible store's endpoint and credentials. */
export interface ObjectStoreAccess {
  endpoint: string;
  region?: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Default true (path-style URLs, as the embedded store needs). */
  forcePathStyle?: boolean;
}

/** One S3 client for export and ingestion runs alike, made on first use and released on close. */
export class ObjectStore {
  private s3: S3Client | undefined;

  constructor(private readonly access: ObjectStoreAccess | undefined) {}

  /** Undefined when the stand-in was given no object store. */
  client(): S3Client | undefined {
    const store = this.access;
    if (!store) return undefined;
    if (!this.s3) {
      this.s3 = new S3Client({
        endpoint: store.endpoint,
        region: store.region ?? 'us-east-1',
        credentials: store.credentials,
        forcePathStyle: store.forcePathStyle ?? true,
      });
    }
    return this.s3;
  }

  close(): void {
    this.s3?.destroy();
    this.s3 = undefined;
  }
}
