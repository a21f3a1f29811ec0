import * as z from 'zod';
import type { AepCredentialsConfig } from '../config/schema';
import { ConfigError } from '../config/errors';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** Yields the OAuth client credentials when they are needed, so a secret is fetched late and never stored in config. */
export type CredentialsSource = () => Promise<ClientCredentials>;

/** A Secrets Manager secret holding the credential, in our field names or the notebook's. */
const secretPayload = z
  .object({
    clientId: z.string().min(1).optional(),
    client_id: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    client_secret: z.string().min(1).optional(),
  })
  .transform((s, ctx) => {
    const clientId = s.clientId ?? s.client_id;
    const clientSecret = s.clientSecret ?? s.client_secret;
    if (!clientId || !clientSecret) {
      ctx.addIssue({ code: 'custom', message: 'the secret must be JSON with clientId and clientSecret (or client_id and client_secret)' });
      return z.NEVER;
    }
    return { clientId, clientSecret };
  });

export type SecretFetcher = (arn: string) => Promise<unknown>;

/** Reads a secret with Powertools' cached Secrets Manager provider (five-minute cache, one call per warm Lambda). */
export const powertoolsSecretFetcher: SecretFetcher = async (arn) => {
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  return getSecret(arn, { transform: 'json', maxAge: 300 });
};

export function credentialsFrom(config: AepCredentialsConfig, fetchSecret: SecretFetcher = powertoolsSecretFetcher): CredentialsSource {
  if ('clientId' in config) {
    const credentials = { clientId: config.clientId, clientSecret: config.clientSecret };
    return async () => credentials;
  }
  return async () => {
    let raw: unknown;
    try {
      raw = await fetchSecret(config.secretArn);
    } catch (error) {
      // A secret the construct created stays empty until the user fills it; say how.
      throw new ConfigError('Cannot read the AEP credentials secret', [
        {
          path: 'aep.credentials.secretArn',
          source: config.secretArn,
          message:
            `${(error as Error).message}. If the secret has no value yet, put one: aws secretsmanager put-secret-value ` +
            `--secret-id ${config.secretArn} --secret-string '{"clientId":"...","clientSecret":"..."}'`,
        },
      ]);
    }
    const parsed = secretPayload.safeParse(raw);
    if (!parsed.success) {
      // The ARN is not secret; the payload is, so it never appears in the message.
      throw new ConfigError('The AEP credentials secret is unusable', [
        { path: 'aep.credentials.secretArn', source: config.secretArn, message: parsed.error.issues.map((i) => i.message).join('; ') },
      ]);
    }
    return parsed.data;
  };
}
