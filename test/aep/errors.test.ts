import { describeErrorBody, kindForStatus } from '../../lib/aep/errors';

describe('describeErrorBody', () => {
  it('reads the gateway shape', () => {
    expect(describeErrorBody({ error_code: '401013', message: 'Oauth token is not valid' })).toEqual({ code: '401013', title: 'Oauth token is not valid', detail: undefined });
  });
  it('reads the IMS shape', () => {
    expect(describeErrorBody({ error: 'invalid_client', error_description: 'invalid client_secret parameter' })).toMatchObject({ code: 'invalid_client', title: 'invalid client_secret parameter' });
  });
  it('reads RFC 7807 bodies and takes the AEP code from the type URI', () => {
    const body = { type: 'http://ns.adobe.com/aep/errors/CAT-2101-404', title: 'Not Found', status: 404, detail: 'Dataset abc was not found' };
    expect(describeErrorBody(body)).toEqual({ code: 'CAT-2101-404', title: 'Not Found', detail: 'Dataset abc was not found' });
  });
  it('reads the Schema Registry detailed message', () => {
    const body = { type: 'http://ns.adobe.com/aep/errors/XDM-1010-404', title: 'Resource not found', report: { 'detailed-message': 'No schema with id x' } };
    expect(describeErrorBody(body)).toMatchObject({ code: 'XDM-1010-404', detail: 'No schema with id x' });
  });
  it('reads lists of errors', () => {
    expect(describeErrorBody({ errors: [{ code: '53400', message: 'relation does not exist' }] })).toMatchObject({ code: '53400', title: 'relation does not exist' });
  });
  it('copes with text and empty bodies', () => {
    expect(describeErrorBody('Bad gateway')).toEqual({ detail: 'Bad gateway' });
    expect(describeErrorBody(undefined)).toEqual({});
  });
});

describe('kindForStatus', () => {
  it('classifies statuses', () => {
    expect([401, 403, 404, 409, 429, 400, 500, 503].map(kindForStatus)).toEqual(['auth', 'auth', 'not-found', 'conflict', 'throttled', 'invalid-request', 'server', 'server']);
  });
});
