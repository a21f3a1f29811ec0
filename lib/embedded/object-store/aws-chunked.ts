import { Transform, TransformCallback } from 'stream';
import { S3Error } from './errors';

/**
 * Decodes `Content-Encoding: aws-chunked`: `<hex-size>[;chunk-signature=..]\r\n<data>\r\n` repeated,
 * then `0\r\n`, optional trailer lines (`x-amz-checksum-crc32:...`) and a blank line. The SDK uses it
 * for streaming bodies so it can append the checksum as a trailer.
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private line: Buffer[] = [];
  private lineLength = 0;
  private crlfSeen = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // Some encoders omit the blank line after the trailers.
    if (this.state === 'trailer' && this.lineLength > 0) this.handleLine(this.takeLine());
    if (this.state !== 'done' && this.state !== 'trailer') {
      callback(new S3Error(400, 'IncompleteBody', 'The aws-chunked request body ended before its final chunk.'));
      return;
    }
    this.state = 'done';
    callback();
  }

  private consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          this.push(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'data-crlf';
          break;
        }
        case 'data-crlf': {
          const expected = this.crlfSeen === 0 ? 0x0d : 0x0a;
          if (buf[i] !== expected) throw this.malformed('chunk data is not followed by CRLF');
          i++;
          if (++this.crlfSeen === 2) {
            this.crlfSeen = 0;
            this.state = 'size';
          }
          break;
        }
        case 'size':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl < 0 ? buf.length : nl;
          this.lineLength += end - i;
          if (this.lineLength > 8192) throw this.malformed('chunk header line too long');
          this.line.push(buf.subarray(i, end));
          i = nl < 0 ? buf.length : nl + 1;
          if (nl >= 0) this.handleLine(this.takeLine());
          break;
        }
        case 'done': {
          for (; i < buf.length; i++) {
            if (buf[i] !== 0x0d && buf[i] !== 0x0a) throw this.malformed('data after the final chunk');
          }
          break;
        }
      }
    }
  }

  private takeLine(): string {
    const text = Buffer.concat(this.line).toString('latin1');
    this.line = [];
    this.lineLength = 0;
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  private handleLine(line: string): void {
    if (this.state === 'size') {
      const sizeText = line.split(';')[0]!.trim(); // split gives at least one part
      if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) throw this.malformed(`bad chunk size "${sizeText.slice(0, 20)}"`);
      const size = parseInt(sizeText, 16);
      if (size === 0) {
        this.state = 'trailer';
      } else {
        this.remaining = size;
        this.state = 'data';
      }
      return;
    }
    if (line === '') {
      this.state = 'done';
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw this.malformed('bad trailer line');
    this.trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }

  private malformed(why: string): S3Error {
    return new S3Error(400, 'InvalidChunkedEncoding', `Malformed aws-chunked body: ${why}.`);
  }
}
