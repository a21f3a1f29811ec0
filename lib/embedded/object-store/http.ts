import * as http from 'http';

/** A request header as one string; repeated headers are joined with commas. */
export function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** ETags are stored unquoted and quoted on the wire. */
export function quote(etag: string): string {
  return `"${etag}"`;
}

export function sendEmpty(res: http.ServerResponse, status: number): void {
  res.statusCode = status;
  if (status !== 204 && status !== 304) res.setHeader('Content-Length', '0');
  res.end();
}

export function sendXml(res: http.ServerResponse, status: number, body: string, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', String(Buffer.byteLength(body)));
  res.end(headOnly ? undefined : body);
}
