/** An error that is answered with an S3 error document carrying `status` and `code`. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const noSuchBucket = (bucket: string) => new S3Error(404, 'NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
export const noSuchKey = () => new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
export const noSuchUpload = () =>
  new S3Error(404, 'NoSuchUpload', 'The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
export const methodNotAllowed = () => new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
export const notImplemented = (what: string) => new S3Error(501, 'NotImplemented', `${what} is not implemented by the local object store.`);
export const invalidArgument = (message: string) => new S3Error(400, 'InvalidArgument', message);
export const preconditionFailed = () => new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
export const conditionalRequestConflict = () =>
  new S3Error(409, 'ConditionalRequestConflict', 'A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.');
export const keyConflict = (key: string) =>
  new S3Error(409, 'KeyPathConflict', `Key "${key}" conflicts with an existing object or key prefix: the local store keeps objects as plain files, so "a" and "a/b" cannot both exist.`);
/** S3's answers when it fails on its side; the AWS SDK retries both. */
export const internalError = () => new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.');
export const slowDown = () => new S3Error(503, 'SlowDown', 'Please reduce your request rate.');
export const malformedXml = () =>
  new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');

/** The `code` of a Node.js system error (ENOENT, ...), if it has one. */
export function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
}
