import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, configFromNotebookIni, loadConfig, parseConfigIni } from '../../lib/config';

const validEnv = {
  AEP_ORG_ID: '0123456789ABCDEF01234567@AdobeOrg',
  AEP_CLIENT_ID: 'client-id',
  AEP_CLIENT_SECRET: 'client-secret',
  PIPELINE_BUCKET: 'my-pipeline-bucket',
};

function tempFile(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-test-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads the environment and fills AEP defaults', () => {
    const { config } = loadConfig({ env: validEnv });
    expect(config.aep.orgId).toBe(validEnv.AEP_ORG_ID);
    expect(config.aep.sandbox).toBe('prod');
    expect(config.aep.imsEndpoint).toBe('https://ims-na1.adobelogin.com');
    expect(config.aep.platformEndpoint).toBe('https://platform.adobe.io');
    expect(config.aep.scopes).toBe('openid,AdobeID,read_organizations,additional_info.projectedProductContext,session');
    expect(config.aep.queryService).toEqual({ port: 80, ssl: true, dialect: 'data-distiller' });
    expect(config.storage.prefixes).toEqual({ egress: 'egress/', ingress: 'ingress/', staging: 'ingress_staging/', models: 'models/', runs: 'runs/' });
    expect(config.aep.credentials).toEqual({ clientId: 'client-id', clientSecret: 'client-secret' });
  });

  it('fails on missing configuration, listing every problem with the variable to set', () => {
    const error = configError(() => loadConfig({ env: {} }));
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['aep', 'storage']));
    expect(error.message).toContain('Invalid configuration');
  });

  it('lists every invalid value at once and names its source', () => {
    const error = configError(() =>
      loadConfig({
        env: { ...validEnv, AEP_ORG_ID: 'not-an-org', PIPELINE_BUCKET: 'Bad_Bucket', AEP_QUERY_SERVICE_PORT: 'eighty', AEP_PLATFORM_ENDPOINT: 'ftp://x' },
      }),
    );
    const byPath = Object.fromEntries(error.issues.map((i) => [i.path, i]));
    expect(byPath['aep.orgId']?.source).toBe('AEP_ORG_ID');
    expect(byPath['aep.orgId']?.message).toMatch(/IMS org id/);
    expect(byPath['storage.bucket']?.source).toBe('PIPELINE_BUCKET');
    expect(byPath['aep.queryService.port']?.message).toMatch(/port/);
    expect(byPath['aep.platformEndpoint']?.message).toMatch(/http/);
    expect(error.issues).toHaveLength(4);
    for (const path of Object.keys(byPath)) expect(error.message).toContain(path);
  });

  it('reads the audience band and refuses one that is upside down or outside [0, 1]', () => {
    const band = { PIPELINE_AUDIENCE_NAME: 'likely subscribers', PIPELINE_AUDIENCE_LOW: '0.8', PIPELINE_AUDIENCE_HIGH: '1' };
    expect(loadConfig({ env: { ...validEnv, ...band } }).config.audience).toEqual({ name: 'likely subscribers', low: 0.8, high: 1, onDemandPerDay: 2 });
    const upsideDown = configError(() => loadConfig({ env: { ...validEnv, ...band, PIPELINE_AUDIENCE_LOW: '0.9', PIPELINE_AUDIENCE_HIGH: '0.2' } }));
    expect(upsideDown.issues).toEqual([expect.objectContaining({ path: 'audience.low', source: 'PIPELINE_AUDIENCE_LOW', message: 'low (0.9) must not be above high (0.2)' })]);
    const overBudget = configError(() => loadConfig({ env: { ...validEnv, ...band, PIPELINE_AUDIENCE_ON_DEMAND_PER_DAY: '3' } }));
    expect(overBudget.issues).toEqual([expect.objectContaining({ path: 'audience.onDemandPerDay', message: "must be at most 2, AEP's daily allowance" })]);
    const outside = configError(() => loadConfig({ env: { ...validEnv, ...band, PIPELINE_AUDIENCE_HIGH: '1.5' } }));
    expect(outside.issues).toEqual([expect.objectContaining({ path: 'audience.high', source: 'PIPELINE_AUDIENCE_HIGH', message: 'must be within [0, 1] (a propensity is a probability), got 1.5' })]);
  });

  it('requires either a client id and secret or a secret ARN', () => {
    const { AEP_CLIENT_SECRET: _omit, ...withoutSecret } = validEnv;
    const error = configError(() => loadConfig({ env: withoutSecret }));
    expect(error.issues[0]?.path).toBe('aep.credentials');
    expect(error.issues[0]?.source).toContain('AEP_CREDENTIALS_SECRET_ARN');

    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aep-credentials-AbCdEf';
    const { config } = loadConfig({ env: { AEP_ORG_ID: validEnv.AEP_ORG_ID, PIPELINE_BUCKET: 'b-u-c', AEP_CREDENTIALS_SECRET_ARN: arn } });
    expect(config.aep.credentials).toEqual({ secretArn: arn });

    expect(() => loadConfig({ env: { ...withoutSecret, AEP_CREDENTIALS_SECRET_ARN: 'arn:aws:s3:::bucket' } })).toThrow(ConfigError);
  });

  it('layers config.ini, then the JSON file, then the environment, then overrides', () => {
    const ini = tempFile('config.ini', '[Platform]\nims_org_id = AAAA1111@AdobeOrg\nsandbox_name = from-ini\n[Authentication]\nclient_id = ini-id\nclient_secret = ini-secret\n[AWS]\ns3_bucket_name = ini-bucket\n');
    const json = tempFile('config.json', JSON.stringify({ aep: { sandbox: 'from-json' }, storage: { region: 'eu-west-1' } }));
    const { config } = loadConfig({ env: { AEP_SANDBOX: 'from-env' }, configIni: ini, file: json, overrides: { storage: { bucket: 'override-bucket' } } });
    expect(config.aep.orgId).toBe('AAAA1111@AdobeOrg');
    expect(config.aep.sandbox).toBe('from-env');
    expect(config.storage.region).toBe('eu-west-1');
    expect(config.storage.bucket).toBe('override-bucket');
    expect(config.aep.credentials).toEqual({ clientId: 'ini-id', clientSecret: 'ini-secret' });
  });

  it('reports an unreadable or non-JSON configuration file by name', () => {
    const broken = tempFile('broken.json', '{ "aep": ');
    expect(() => loadConfig({ env: validEnv, file: broken })).toThrow(/not valid JSON[\s\S]*broken\.json/);
    expect(() => loadConfig({ env: validEnv, file: path.join(os.tmpdir(), 'no-such-config.json') })).toThrow(/Cannot read the configuration file/);
  });

  it('reads a feature specification as JSON and names bad JSON', () => {
    const { config } = loadConfig({ env: { ...validEnv, PIPELINE_FEATURE_SPEC: '{"seed":"s","features":[]}' } });
    expect(config.featureSpec).toEqual({ seed: 's', features: [] });
    const error = configError(() => loadConfig({ env: { ...validEnv, PIPELINE_FEATURE_SPEC: '{"seed":' } }));
    expect(error.issues[0]).toMatchObject({ path: 'featureSpec', source: 'PIPELINE_FEATURE_SPEC', message: expect.stringMatching(/must be JSON/) });
  });

  it('reads the training settings, with defaults, and names a bad one with its variable', () => {
    const defaults = { name: 'cmle_propensity_model', seed: 42, testFraction: 0.2, threshold: 0.5, promotionTolerance: 0, minAuc: 0.6, baselineMargin: 0.01, minRows: 200, trainingWindowDays: 28, retrainEveryDays: 7 };
    expect(loadConfig({ env: validEnv }).config.model).toEqual(defaults);
    const { config } = loadConfig({
      env: {
        ...validEnv,
        PIPELINE_MODEL_SEED: '7',
        PIPELINE_MODEL_TEST_FRACTION: '0.25',
        PIPELINE_MODEL_THRESHOLD: '0.3',
        PIPELINE_MODEL_PROMOTION_TOLERANCE: '0.005',
        PIPELINE_MODEL_MIN_AUC: '0.7',
        PIPELINE_MODEL_BASELINE_MARGIN: '0.02',
        PIPELINE_MODEL_MIN_ROWS: '1000',
        PIPELINE_MODEL_TRAINING_WINDOW_DAYS: '14',
        PIPELINE_MODEL_RETRAIN_EVERY_DAYS: '3',
        PIPELINE_EGRESS_RETENTION_DAYS: '30',
      },
    });
    expect(config.model).toEqual({ ...defaults, seed: 7, testFraction: 0.25, threshold: 0.3, promotionTolerance: 0.005, minAuc: 0.7, baselineMargin: 0.02, minRows: 1000, trainingWindowDays: 14, retrainEveryDays: 3 });
    expect(config.storage.egressRetentionDays).toBe(30);
    const error = configError(() =>
      loadConfig({ env: { ...validEnv, PIPELINE_MODEL_TEST_FRACTION: '0.9', PIPELINE_MODEL_PROMOTION_TOLERANCE: '-1', PIPELINE_MODEL_MIN_AUC: '0.3', PIPELINE_MODEL_TRAINING_WINDOW_DAYS: '1.5', PIPELINE_MODEL_RETRAIN_EVERY_DAYS: '0' } }),
    );
    expect(error.issues.map((i) => [i.path, i.source, i.message])).toEqual([
      ['model.testFraction', 'PIPELINE_MODEL_TEST_FRACTION', 'must be below 0.5'],
      ['model.promotionTolerance', 'PIPELINE_MODEL_PROMOTION_TOLERANCE', 'must be 0 or more'],
      ['model.minAuc', 'PIPELINE_MODEL_MIN_AUC', 'must be at least 0.5'],
      ['model.trainingWindowDays', 'PIPELINE_MODEL_TRAINING_WINDOW_DAYS', 'must be a whole number of days'],
      ['model.retrainEveryDays', 'PIPELINE_MODEL_RETRAIN_EVERY_DAYS', 'must be at least 1'],
    ]);
  });

  it('rejects unknown keys in a configuration file rather than ignoring a typo', () => {
    const file = tempFile('typo.json', JSON.stringify({ aep: { sandbx: 'dev' } }));
    const error = configError(() => loadConfig({ env: validEnv, file }));
    expect(error.message).toMatch(/sandbx/);
  });
});

describe('CMLE notebook config.ini', () => {
  const notebookIni = [
    '[Platform]',
    'ims_org_id = 0123456789ABCDEF01234567@AdobeOrg',
    'sandbox_name = cmle',
    'dataset_id = 64f0c0ffee0000000000abcd',
    'featurized_dataset_id = 64f0c0ffee0000000000abce',
    'scoring_dataset_id =',
    'environment = prod',
    '',
    '[Authentication]',
    'client_id = 1234abcd',
    'client_secret = p8e-secret',
    'private_key_path = /keys/private.key',
    'tech_acct_id = ABC@techacct.adobe.com',
    'scopes = openid,AdobeID,read_organizations',
    '',
    '[Cloud]',
    'export_path = cmle/egress',
    'import_path = cmle/ingress',
    'data_format = parquet',
    'compression_type = gzip',
    'model_name = cmle_propensity_model',
    '',
    '[AWS]',
    's3_bucket_name = cmle-notebook-bucket',
    'region = us-west-2',
    'aws_access_key_id = AKIAEXAMPLE',
    'aws_secret_access_key = example',
  ].join('\n');

  it('maps the notebook sections onto the configuration', () => {
    const { config, warnings } = loadConfig({ env: {}, configIni: tempFile('config.ini', notebookIni) });
    expect(config.aep).toMatchObject({ orgId: '0123456789ABCDEF01234567@AdobeOrg', sandbox: 'cmle', scopes: 'openid,AdobeID,read_organizations' });
    expect(config.aep.credentials).toEqual({ clientId: '1234abcd', clientSecret: 'p8e-secret' });
    expect(config.datasets).toEqual({ events: '64f0c0ffee0000000000abcd', features: '64f0c0ffee0000000000abce' });
    expect(config.storage).toMatchObject({ bucket: 'cmle-notebook-bucket', region: 'us-west-2' });
    expect(config.storage.prefixes).toMatchObject({ egress: 'cmle/egress/', ingress: 'cmle/ingress/' });
    expect(config.export).toEqual({ format: 'parquet', compression: 'gzip', intervalHours: 24 });
    expect(config.model.name).toBe('cmle_propensity_model');
    // Retired JWT settings and static AWS keys are dropped, each with a reason.
    expect(warnings.join('\n')).toMatch(/private_key_path is ignored/);
    expect(warnings.join('\n')).toMatch(/aws_access_key_id is ignored: the pipeline uses IAM roles/);
    expect(JSON.stringify(config)).not.toContain('AKIAEXAMPLE');
  });

  it('uses the stage endpoints for environment = stage', () => {
    const { input } = configFromNotebookIni(parseConfigIni('[Platform]\nenvironment = stage\n'));
    expect(input.aep).toMatchObject({ imsEndpoint: 'https://ims-na1-stg1.adobelogin.com', platformEndpoint: 'https://platform-stage.adobe.io' });
  });

  it('reads configparser syntax: colons, comments, folded key case, continuation lines', () => {
    const sections = parseConfigIni('# comment\n[Platform]\nIMS_ORG_ID: X@AdobeOrg\n; another\nsandbox_name = a\n  continued\n');
    expect(sections.Platform).toEqual({ ims_org_id: 'X@AdobeOrg', sandbox_name: 'a\ncontinued' });
  });

  it('names the line of a malformed file', () => {
    const file = tempFile('config.ini', '[Platform]\nims_org_id = X@AdobeOrg\nthis line is not a setting\n[AWS\n');
    const error = configError(() => loadConfig({ env: {}, configIni: file }));
    expect(error.message).toMatch(/malformed/);
    expect(error.issues.map((i) => i.path)).toEqual([`${file}:3`, `${file}:4`]);
  });

  it('refuses settings before any section and duplicate sections', () => {
    expect(() => parseConfigIni('client_id = x\n[Platform]\n')).toThrow(/before any \[section\]/);
    expect(() => parseConfigIni('[Platform]\n[Platform]\n')).toThrow(/appears twice/);
  });

  it('reports a missing config.ini by path', () => {
    expect(() => loadConfig({ env: {}, configIni: path.join(os.tmpdir(), 'missing-config.ini') })).toThrow(/Cannot read the notebook config\.ini/);
  });
});
