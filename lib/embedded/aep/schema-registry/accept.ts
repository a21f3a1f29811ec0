/**
 * The Accept-header variants the registry documents: which view of a list, a resource or the
 * descriptors the caller asked for. An Accept header the registry does not know is a 400, as in AEP.
 */
import { xdmError } from '../errors';
import { ApiError, header, RequestContext } from '../http';

/** A lookup's view: `xed` or `xed-full` (fields resolved), with or without titles and descriptions. */
export interface LookupFormat {
  full: boolean;
  titles: boolean;
  descriptions: boolean;
  version: number;
}

/** The descriptor list's view: grouped by type (v1) or paged (v2), as ids, links or whole descriptors. */
export interface DescriptorListFormat {
  v2: boolean;
  kind: 'id' | 'link' | 'full';
}

/** Splits an Accept header into its media ranges. */
function acceptValues(ctx: RequestContext): string[] {
  return (header(ctx.headers, 'accept') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function acceptParams(value: string): { media: string; version?: string | undefined } {
  // split gives at least one part.
  const [media = '', ...params] = value.split(';').map((s) => s.trim());
  let version: string | undefined;
  for (const p of params) {
    const [k = '', v] = p.split('=').map((s) => s.trim());
    if (k.toLowerCase() === 'version') version = v;
  }
  return { media: media.toLowerCase(), version };
}

function invalidAccept(ctx: RequestContext, expected: string, code: string): ApiError {
  const given = header(ctx.headers, 'accept') ?? '(none)';
  return xdmError(400, `The supplied Accept header is not valid: ${given} - A valid Accept value should look like ${expected}`, code, 'Accept header invalid');
}

export function listFormat(ctx: RequestContext): 'id' | 'full' {
  const values = acceptValues(ctx);
  for (const v of values) {
    const { media, version } = acceptParams(v);
    if ((media === 'application/vnd.adobe.xed-id+json' || media === 'application/vnd.adobe.xed+json') && version === undefined) {
      return media === 'application/vnd.adobe.xed-id+json' ? 'id' : 'full';
    }
  }
  throw invalidAccept(ctx, "application/vnd.adobe.'{xed|xdm'}+json", '1006');
}

export function lookupFormat(ctx: RequestContext): LookupFormat {
  const values = acceptValues(ctx);
  for (const v of values) {
    const { media, version } = acceptParams(v);
    const m = /^application\/vnd\.adobe\.xed(-full)?(-notext|-desc)?\+json$/.exec(media);
    if (!m || version === undefined || !/^\d+$/.test(version)) continue;
    const full = m[1] !== undefined;
    const variant = m[2];
    return {
      full,
      titles: variant === undefined,
      descriptions: variant === undefined || variant === '-desc',
      version: Number(version),
    };
  }
  throw invalidAccept(ctx, "application/vnd.adobe.'{xed|xdm'}+json; version=1 (Version should be specified)", '1007');
}

export function descriptorListFormat(ctx: RequestContext): DescriptorListFormat {
  for (const v of acceptValues(ctx)) {
    const { media } = acceptParams(v);
    const m = /^application\/vnd\.adobe\.xdm(-v2)?(-id|-link)?\+json$/.exec(media);
    if (m) return { v2: m[1] !== undefined, kind: m[2] === '-id' ? 'id' : m[2] === '-link' ? 'link' : 'full' };
  }
  throw invalidAccept(ctx, 'application/vnd.adobe.xdm-id+json', '1008');
}
