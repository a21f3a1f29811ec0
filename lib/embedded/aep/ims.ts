/**
 * IMS stand-in: OAuth server-to-server (`client_credentials`) tokens, `POST /ims/token/v3`.
 */
import { randomBytes } from 'crypto';
import type { Clock } from '../../ports/clock';
import { imsError } from './errors';
import { mediaType, header, Reply, RequestContext, Router } from './http';

export interface ImsOptions {
  clientId: string;
  clientSecret: string;
  orgId: string;
  tokenTtlSeconds: number;
  /** Decides when a token was issued and whether it has expired. */
  clock: Clock;
}

interface IssuedToken {
  clientId: string;
  expiresAt: number;
}

export const DEFAULT_SCOPE = 'openid,AdobeID,read_organizations,additional_info.projectedProductContext,session';

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export class TokenStore {
  private tokens = new Map<string, IssuedToken>();

  constructor(private readonly options: ImsOptions) {}

  /** Issues a JWT-shaped access token (IMS tokens are JWTs; this one is not signed by anyone). */
  issue(scope: string): { token: string; expiresIn: number } {
    const now = this.options.clock.now().getTime();
    const ttl = this.options.tokenTtlSeconds;
    const head = base64url(JSON.stringify({ alg: 'RS256', x5u: 'ims_na1-key-at-1.cer', kid: 'ims_na1-key-at-1', itt: 'at' }));
    const payload = base64url(
      JSON.stringify({
        id: `${now}_${randomBytes(8).toString('hex')}`,
        type: 'access_token',
        client_id: this.options.clientId,
        user_id: `${this.options.clientId}@techacct.adobe.com`,
        as: 'ims-na1',
        org: this.options.orgId,
        scope,
        created_at: String(now),
        expires_in: String(ttl * 1000),
      }),
    );
    const token = `${head}.${payload}.${base64url(randomBytes(32))}`;
    this.tokens.set(token, { clientId: this.options.clientId, expiresAt: now + ttl * 1000 });
    return { token, expiresIn: ttl };
  }

  /** Whether the token was issued here, has not expired and has not been revoked. */
  isValid(token: string): boolean {
    const t = this.tokens.get(token);
    if (!t) return false;
    if (this.options.clock.now().getTime() >= t.expiresAt) {
      this.tokens.delete(token);
      return false;
    }
    return true;
  }

  /** Makes every issued token invalid (what clients see when a token expires). */
  revokeAll(): void {
    this.tokens.clear();
  }
}

/** Parses an `application/x-www-form-urlencoded` body; IMS also reads the fields from the query string. */
function formFields(ctx: RequestContext): URLSearchParams {
  const fields = new URLSearchParams(ctx.query);
  if (ctx.rawBody.length > 0) {
    for (const [k, v] of new URLSearchParams(ctx.rawBody.toString('utf8'))) fields.set(k, v);
  }
  return fields;
}

export function registerIms(router: Router, store: TokenStore, options: ImsOptions): void {
  router.add('POST', 'ims', '/ims/token/v3', (ctx): Reply => {
    const contentType = mediaType(header(ctx.headers, 'content-type'));
    if (ctx.rawBody.length > 0 && contentType !== 'application/x-www-form-urlencoded') {
      throw imsError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
    }
    const fields = formFields(ctx);
    const grantType = fields.get('grant_type');
    if (!grantType) throw imsError(400, 'invalid_request', 'grant_type parameter is required');
    if (grantType !== 'client_credentials') {
      throw imsError(400, 'unsupported_grant_type', `grant_type '${grantType}' is not supported; use client_credentials`);
    }
    const clientId = fields.get('client_id');
    if (!clientId) throw imsError(400, 'invalid_request', 'client_id parameter is required');
    if (clientId !== options.clientId) throw imsError(401, 'invalid_client', 'invalid client_id parameter');
    if (fields.get('client_secret') !== options.clientSecret) {
      throw imsError(401, 'invalid_client', 'invalid client_secret parameter');
    }
    const scope = fields.get('scope') || DEFAULT_SCOPE;
    const { token, expiresIn } = store.issue(scope);
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: expiresIn } };
  });
}
