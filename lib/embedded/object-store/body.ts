import * as fs from 'fs';
import * as http from 'http';
import { Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { AwsChunkedDecoder } from './aws-chunked';
import { CHECKSUM_ALGORITHMS, Checksum, ChecksumAlgorithm, DigestStream } from './checksums';
import { S3Error } from './errors';
import { header } from './http';

const MAX_XML_BODY = 8 * 1024 * 1024;

export interface BodyInfo {
  size: number;
  md5: Buffer;
  /** The checksum the client sent, verified against the body. */
  checksum?: Checksum | undefined;
}

/** Buffers a small request body (XML documents), refusing anything beyond the limit. */
class CollectSink extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      callback(new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.'));
      return;
    }
    this.chunks.push(chunk);
    callback();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export function drainRequest(req: http.IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

/**
 * Streams the request body (decoding aws-chunked if needed) into `out`, verifying every integrity
 * header the client sent. Throws S3Error on mismatch; the caller discards whatever `out` received.
 */
async function receiveBody(req: http.IncomingMessage, out: Writable): Promise<BodyInfo> {
  const contentEncoding = header(req, 'content-encoding') ?? '';
  const contentSha = header(req, 'x-amz-content-sha256') ?? '';
  const chunked =
    contentEncoding.split(',').some((e) => e.trim().toLowerCase() === 'aws-chunked') || contentSha.startsWith('STREAMING-');

  let algorithm: ChecksumAlgorithm | undefined;
  let expectedChecksum: string | undefined;
  let trailerName: string | undefined;
  for (const a of CHECKSUM_ALGORITHMS) {
    const v = header(req, `x-amz-checksum-${a}`);
    if (v !== undefined) {
      algorithm = a;
      expectedChecksum = v.trim();
      break;
    }
  }
  if (!algorithm && chunked) {
    for (const name of (header(req, 'x-amz-trailer') ?? '').split(',').map((s) => s.trim().toLowerCase())) {
      const a = name.replace(/^x-amz-checksum-/, '') as ChecksumAlgorithm;
      if (name.startsWith('x-amz-checksum-') && CHECKSUM_ALGORITHMS.includes(a)) {
        algorithm = a;
        trailerName = name;
        break;
      }
    }
  }
  const verifySha256 = !chunked && /^[0-9a-fA-F]{64}$/.test(contentSha);
  const decoder = chunked ? new AwsChunkedDecoder() : undefined;
  const digest = new DigestStream({ sha256: verifySha256, checksum: algorithm });
  const head: Writable = decoder ?? digest;
  const done = decoder ? pipeline(decoder, digest, out) : pipeline(digest, out);

  // req is piped by hand rather than included in pipeline(): pipeline would destroy the request (and
  // with it the socket) on a validation error, leaving no way to send the S3 error response.
  const onClose = () => {
    if (!req.complete) head.destroy(new S3Error(400, 'IncompleteBody', 'The request body ended unexpectedly.'));
  };
  const onError = (e: Error) => head.destroy(e);
  req.on('close', onClose);
  req.on('error', onError);
  req.pipe(head);
  try {
    await done;
  } catch (e) {
    req.unpipe(head);
    throw e;
  } finally {
    req.off('close', onClose);
    req.off('error', onError);
  }

  if (decoder) {
    const decodedLength = header(req, 'x-amz-decoded-content-length');
    if (decodedLength !== undefined && decodedLength !== '' && Number(decodedLength) !== digest.size) {
      throw new S3Error(400, 'IncompleteBody', `x-amz-decoded-content-length is ${decodedLength} but the body decoded to ${digest.size} bytes.`);
    }
    if (trailerName) {
      expectedChecksum = decoder.trailers.get(trailerName);
      if (expectedChecksum === undefined) {
        throw new S3Error(400, 'MalformedTrailerError', `The request declared trailer ${trailerName} but did not send it.`);
      }
    }
  }
  const contentMd5 = header(req, 'content-md5');
  if (contentMd5 !== undefined) {
    const expected = Buffer.from(contentMd5.trim(), 'base64');
    if (expected.length !== 16) throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
    if (!expected.equals(digest.md5)) throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  if (verifySha256 && digest.sha256Hex !== contentSha.toLowerCase()) {
    throw new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  let checksum: Checksum | undefined;
  if (algorithm && expectedChecksum !== undefined && digest.checksum) {
    const actual = digest.checksum.toString('base64');
    if (actual !== expectedChecksum) {
      throw new S3Error(400, 'BadDigest', `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`);
    }
    checksum = { algorithm, value: actual };
  }
  return { size: digest.size, md5: digest.md5, checksum };
}

/** Receives a request body into a new file, removing the file again if anything fails. */
export async function receiveToFile(req: http.IncomingMessage, file: string): Promise<BodyInfo> {
  try {
    return await receiveBody(req, fs.createWriteStream(file, { flags: 'wx' }));
  } catch (e) {
    await fs.promises.rm(file, { force: true });
    throw e;
  }
}

/** Reads a small XML request body (Delete, CompleteMultipartUpload), verifying its integrity headers. */
export async function readXmlBody(req: http.IncomingMessage): Promise<string> {
  const sink = new CollectSink(MAX_XML_BODY);
  await receiveBody(req, sink);
  return sink.text();
}
