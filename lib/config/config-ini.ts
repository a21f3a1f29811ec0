import { ConfigError } from './errors';
import type { PipelineConfigInput } from './schema';

export type IniSections = Record<string, Record<string, string>>;

/**
 * Parses the INI dialect of Python's configparser, which the CMLE notebooks write: `[section]` headers,
 * `key = value` or `key: value`, `#`/`;` comment lines and indented continuation lines. Anything else is
 * an error naming its line, rather than being skipped as lenient INI readers do, so a damaged file never
 * silently drops a setting.
 */
export function parseConfigIni(text: string, source = 'config.ini'): IniSections {
  const sections: IniSections = {};
  let current: Record<string, string> | undefined;
  let lastKey: string | undefined;
  const problems: { path: string; message: string }[] = [];

  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '' || /^\s*[#;]/.test(line)) {
      return;
    }
    if (/^\s/.test(line) && current && lastKey) {
      current[lastKey] = `${current[lastKey]}\n${line.trim()}`;
      return;
    }
    // The patterns' groups are not optional: they take part in every match.
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      if (sections[name]) {
        problems.push({ path: `${source}:${lineNo}`, message: `section [${name}] appears twice` });
      }
      current = sections[name] ?? {};
      sections[name] = current;
      lastKey = undefined;
      return;
    }
    const entry = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(line);
    if (!entry) {
      problems.push({ path: `${source}:${lineNo}`, message: `cannot read "${line.trim()}": expected [section] or key = value` });
      return;
    }
    if (!current) {
      problems.push({ path: `${source}:${lineNo}`, message: `"${entry[1]}" comes before any [section] header` });
      return;
    }
    // configparser folds key case; do the same so Client_ID and client_id are one key.
    lastKey = entry[1]!.trim().toLowerCase();
    current[lastKey] = entry[2]!.trim();
  });

  if (problems.length > 0) {
    throw new ConfigError(`${source} is malformed`, problems);
  }
  return sections;
}

const STAGE_ENDPOINTS = {
  imsEndpoint: 'https://ims-na1-stg1.adobelogin.com',
  platformEndpoint: 'https://platform-stage.adobe.io',
};

/**
 * Maps a CMLE notebook config.ini onto our configuration. Settings we deliberately do not carry over
 * (JWT keys, static AWS keys) come back as warnings so the user knows why they were dropped.
 */
export function configFromNotebookIni(sections: IniSections): { input: PipelineConfigInput; warnings: string[] } {
  const warnings: string[] = [];
  const known = new Set(['Platform', 'Authentication', 'Cloud', 'AWS']);
  for (const name of Object.keys(sections)) {
    if (!known.has(name)) {
      warnings.push(`config.ini section [${name}] is not used by this pipeline`);
    }
  }
  const platform = sections.Platform ?? {};
  const auth = sections.Authentication ?? {};
  const cloud = sections.Cloud ?? {};
  const aws = sections.AWS ?? {};
  const value = (section: Record<string, string>, ...keys: string[]) => {
    for (const key of keys) {
      const v = section[key];
      if (v !== undefined && v !== '') {
        return v;
      }
    }
    return undefined;
  };

  const input: Record<'aep' | 'storage' | 'datasets' | 'export' | 'model', Record<string, unknown>> = { aep: {}, storage: {}, datasets: {}, export: {}, model: {} };
  const set = (section: keyof typeof input, key: string, v: unknown) => {
    if (v !== undefined) {
      input[section][key] = v;
    }
  };

  set('aep', 'orgId', value(platform, 'ims_org_id'));
  set('aep', 'sandbox', value(platform, 'sandbox_name'));
  const environment = value(platform, 'environment');
  if (environment === 'stage') {
    Object.assign(input.aep, STAGE_ENDPOINTS);
  } else if (environment !== undefined && environment !== 'prod') {
    warnings.push(`config.ini [Platform] environment "${environment}" is neither prod nor stage; using production endpoints`);
  }
  set('datasets', 'events', value(platform, 'dataset_id'));
  set('datasets', 'features', value(platform, 'featurized_dataset_id'));
  set('datasets', 'scores', value(platform, 'scoring_dataset_id'));

  const clientId = value(auth, 'client_id');
  const clientSecret = value(auth, 'client_secret');
  if (clientId !== undefined || clientSecret !== undefined) {
    input.aep.credentials = { clientId, clientSecret };
  }
  set('aep', 'scopes', value(auth, 'scopes'));
  for (const key of ['private_key_path', 'tech_acct_id']) {
    if (value(auth, key) !== undefined) {
      warnings.push(`config.ini [Authentication] ${key} is ignored: Adobe retired JWT credentials; OAuth server-to-server uses client_id and client_secret only`);
    }
  }

  set('storage', 'bucket', value(aws, 's3_bucket_name', 'bucket_name', 'bucket'));
  set('storage', 'region', value(aws, 'region', 'aws_region', 'region_name'));
  for (const key of ['aws_access_key_id', 'aws_secret_access_key']) {
    if (value(aws, key) !== undefined) {
      warnings.push(`config.ini [AWS] ${key} is ignored: the pipeline uses IAM roles, never static access keys`);
    }
  }
  const egress = value(cloud, 'export_path');
  const ingress = value(cloud, 'import_path');
  if (egress !== undefined || ingress !== undefined) {
    input.storage.prefixes = { egress, ingress };
  }
  set('export', 'format', value(cloud, 'data_format'));
  const compression = value(cloud, 'compression_type');
  set('export', 'compression', compression === 'uncompressed' ? 'none' : compression);
  set('model', 'name', value(cloud, 'model_name'));

  return { input: input as unknown as PipelineConfigInput, warnings };
}
