import {
  createFieldGroup,
  createSchema,
  EE_CLASS,
  EE_FIELD_GROUPS,
  expectStatus,
  PROFILE_CLASS,
  SR,
  StandInFixture,
  startStandIn,
  TENANT,
  tenantFieldGroup,
} from './stand-in-helpers';

const LIST = { Accept: 'application/vnd.adobe.xed-id+json' };
const LIST_FULL = { Accept: 'application/vnd.adobe.xed+json' };
const ONE = { Accept: 'application/vnd.adobe.xed+json; version=1' };
const ONE_FULL = { Accept: 'application/vnd.adobe.xed-full+json; version=1' };

describe('Schema Registry stand-in', () => {
  let f: StandInFixture;
  beforeAll(async () => {
    f = await startStandIn();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('reports the tenant id in /stats', async () => {
    const res = await f.api.get(`${SR}/stats`);
    expectStatus(res, 200);
    expect(res.data.tenantId).toBe(TENANT);
    expect(res.data.imsOrg).toBe('EMBEDDED0000000000000000@AdobeOrg');
    expect(res.data.counts).toEqual(expect.objectContaining({ schemas: expect.any(Number), mixins: expect.any(Number) }));
  });

  it('creates a field group with tenant ids and finds it by title', async () => {
    const fg = await createFieldGroup(f, 'Propensity fields');
    expect(fg.$id).toMatch(new RegExp(`^https://ns\\.adobe\\.com/${TENANT}/mixins/[0-9a-f]{32}$`));
    expect(fg['meta:altId']).toMatch(new RegExp(`^_${TENANT}\\.mixins\\.[0-9a-f]{32}$`));
    expect(fg.version).toBe('1.0');
    expect(fg['meta:resourceType']).toBe('mixins');
    expect(fg['meta:tenantNamespace']).toBe(`_${TENANT}`);

    const found = await f.api.get(`${SR}/tenant/fieldgroups`, { headers: LIST, params: { property: 'title==Propensity fields' } });
    expectStatus(found, 200);
    expect(found.data.results).toEqual([{ $id: fg.$id, 'meta:altId': fg['meta:altId'], version: '1.0', title: 'Propensity fields' }]);
    expect(found.data._page.count).toBe(1);

    const none = await f.api.get(`${SR}/tenant/fieldgroups`, { headers: LIST, params: { property: 'title==No such title' } });
    expect(none.data.results).toEqual([]);

    // by URL-encoded $id and by altId
    const byId = await f.api.get(`${SR}/tenant/fieldgroups/${encodeURIComponent(String(fg.$id))}`, { headers: ONE });
    expectStatus(byId, 200);
    expect(byId.data.definitions.customFields.properties[`_${TENANT}`].properties.userid.type).toBe('string');
    const byAlt = await f.api.get(`${SR}/tenant/fieldgroups/${String(fg['meta:altId'])}`, { headers: ONE });
    expect(byAlt.data.$id).toBe(fg.$id);
  });

  it('rejects a second resource with the same title with 409', async () => {
    await createFieldGroup(f, 'Unique title');
    const res = await f.api.post(`${SR}/tenant/fieldgroups`, tenantFieldGroup('Unique title'));
    expect(res.status).toBe(409);
    expect(res.data.status).toBe(409);
    expect(res.data.title).toBe('Conflict');
    expect(res.data.detail).toMatch(/Title must be unique/);
  });

  it('validates field groups the way AEP does', async () => {
    const noExtend = { ...tenantFieldGroup('Bad 1') };
    delete noExtend['meta:intendedToExtend'];
    const r1 = await f.api.post(`${SR}/tenant/fieldgroups`, noExtend);
    expect(r1.status).toBe(400);
    expect(r1.data.detail).toMatch(/meta:intendedToExtend/);

    const outsideNamespace = {
      ...tenantFieldGroup('Bad 2'),
      definitions: { customFields: { properties: { propensity: { type: 'number' } } } },
    };
    const r2 = await f.api.post(`${SR}/tenant/fieldgroups`, outsideNamespace);
    expect(r2.status).toBe(400);
    expect(r2.data.detail).toMatch(/'propensity'.*tenant namespace/);

    const badType = {
      ...tenantFieldGroup('Bad 3'),
      definitions: { customFields: { properties: { [`_${TENANT}`]: { type: 'object', properties: { x: { type: 'decimal' } } } } } },
    };
    const r3 = await f.api.post(`${SR}/tenant/fieldgroups`, badType);
    expect(r3.status).toBe(400);
    expect(r3.data.detail).toMatch(/x.*decimal/);

    const r4 = await f.api.post(`${SR}/tenant/fieldgroups`, { ...tenantFieldGroup('Bad 4'), allOf: [{ $ref: '#/definitions/missing' }] });
    expect(r4.status).toBe(400);
    expect(r4.data.detail).toMatch(/#\/definitions\/missing/);

    const r5 = await f.api.post(`${SR}/tenant/fieldgroups`, { ...tenantFieldGroup('Bad 5'), title: undefined });
    expect(r5.status).toBe(400);
    expect(r5.data.detail).toMatch(/title/);
  });

  it('creates a schema from a class and field groups, and validates it', async () => {
    const fg = await createFieldGroup(f, 'Event fields');
    const schema = await createSchema(f, 'Events', EE_CLASS, [...EE_FIELD_GROUPS, String(fg.$id)]);
    expect(schema['meta:class']).toBe(EE_CLASS);
    expect(schema.$id).toMatch(/\/schemas\/[0-9a-f]{32}$/);

    const full = await f.api.get(`${SR}/tenant/schemas/${encodeURIComponent(String(schema.$id))}`, { headers: ONE_FULL });
    expectStatus(full, 200);
    expect(Object.keys(full.data.properties)).toEqual(
      expect.arrayContaining(['_id', 'timestamp', 'eventType', 'identityMap', 'web', 'commerce', 'directMarketing', 'advertising', '_experience', `_${TENANT}`]),
    );
    expect(full.data.properties.timestamp).toEqual(expect.objectContaining({ type: 'string', format: 'date-time' }));
    expect(full.data.properties[`_${TENANT}`].properties.propensity.type).toBe('number');

    const unknownRef = await f.api.post(`${SR}/tenant/schemas`, {
      title: 'Bad schema',
      type: 'object',
      allOf: [{ $ref: EE_CLASS }, { $ref: 'https://ns.adobe.com/xdm/context/no-such-group' }],
    });
    expect(unknownRef.status).toBe(400);
    expect(unknownRef.data.detail).toContain('https://ns.adobe.com/xdm/context/no-such-group');

    const twoClasses = await f.api.post(`${SR}/tenant/schemas`, { title: 'Two classes', type: 'object', allOf: [{ $ref: EE_CLASS }, { $ref: PROFILE_CLASS }] });
    expect(twoClasses.status).toBe(400);
    expect(twoClasses.data.detail).toMatch(/exactly one class/);

    const noClass = await f.api.post(`${SR}/tenant/schemas`, { title: 'No class', type: 'object', allOf: [{ $ref: String(fg.$id) }] });
    expect(noClass.status).toBe(400);
    expect(noClass.data.detail).toMatch(/exactly one class/);

    const incompatible = await f.api.post(`${SR}/tenant/schemas`, {
      title: 'Profile with web',
      type: 'object',
      allOf: [{ $ref: PROFILE_CLASS }, { $ref: EE_FIELD_GROUPS[0] }],
    });
    expect(incompatible.status).toBe(400);
    expect(incompatible.data.detail).toMatch(/not compatible/);
  });

  it('honours the Accept variants and rejects missing ones', async () => {
    const fg = await createFieldGroup(f, 'Accept fields');
    await createSchema(f, 'Accept schema', PROFILE_CLASS, [String(fg.$id)]);
    const full = await f.api.get(`${SR}/tenant/schemas`, { headers: LIST_FULL, params: { property: 'title==Accept schema' } });
    expectStatus(full, 200);
    expect(full.data.results[0]['meta:class']).toBe(PROFILE_CLASS);
    expect(full.data.results[0].allOf).toHaveLength(2);

    const noAccept = await f.api.get(`${SR}/tenant/schemas`, { headers: { Accept: 'application/json' } });
    expect(noAccept.status).toBe(400);
    expect(noAccept.data.type).toMatch(/XDM-1006-400/);

    const noVersion = await f.api.get(`${SR}/tenant/fieldgroups/${encodeURIComponent(String(fg.$id))}`, { headers: { Accept: 'application/vnd.adobe.xed+json' } });
    expect(noVersion.status).toBe(400);
    expect(noVersion.data.type).toMatch(/XDM-1007-400/);

    const notext = await f.api.get(`${SR}/tenant/fieldgroups/${encodeURIComponent(String(fg.$id))}`, {
      headers: { Accept: 'application/vnd.adobe.xed-notext+json; version=1' },
    });
    expectStatus(notext, 200);
    expect(notext.data.title).toBeUndefined();
    expect(notext.data.description).toBeUndefined();
  });

  it('pages with orderby, limit and start', async () => {
    for (const t of ['Page a', 'Page b', 'Page c']) await createFieldGroup(f, t);
    const first = await f.api.get(`${SR}/tenant/fieldgroups`, { headers: LIST, params: { orderby: 'title', limit: 2, property: 'title~Page ' } });
    expectStatus(first, 200);
    expect(first.data.results.map((r: { title: string }) => r.title)).toEqual(['Page a', 'Page b']);
    expect(first.data._page.next).toBe('Page b');
    expect(first.data._links.next).toContain('start=Page+b');
    const second = await f.api.get(`${SR}/tenant/fieldgroups`, {
      headers: LIST,
      params: { orderby: 'title', limit: 2, property: 'title~Page ', start: first.data._page.next },
    });
    expect(second.data.results.map((r: { title: string }) => r.title)).toEqual(['Page c']);
    expect(second.data._page.next).toBeUndefined();
  });

  it('answers unknown ids with 404 in the registry error shape', async () => {
    const id = `https://ns.adobe.com/${TENANT}/schemas/00000000000000000000000000000000`;
    const res = await f.api.get(`${SR}/tenant/schemas/${encodeURIComponent(id)}`, { headers: ONE });
    expect(res.status).toBe(404);
    expect(res.data).toEqual(
      expect.objectContaining({
        type: 'http://ns.adobe.com/aep/errors/XDM-1012-404',
        title: 'Resource Not Found',
        status: 404,
        detail: expect.stringContaining(id),
        report: expect.objectContaining({ 'detailed-message': expect.any(String) }),
      }),
    );
    expect((await f.api.delete(`${SR}/tenant/fieldgroups/_${TENANT}.mixins.nothing`)).status).toBe(404);
    expect((await f.api.get(`${SR}/tenant/descriptors/nothing`)).status).toBe(404);
  });

  it('creates identity descriptors and rejects paths that are not in the schema', async () => {
    const fg = await createFieldGroup(f, 'Identity fields');
    const schema = await createSchema(f, 'Identity schema', PROFILE_CLASS, [String(fg.$id)]);
    const descriptor = {
      '@type': 'xdm:descriptorIdentity',
      'xdm:sourceSchema': schema.$id,
      'xdm:sourceVersion': 1,
      'xdm:sourceProperty': `/_${TENANT}/userid`,
      'xdm:namespace': 'ECID',
      'xdm:property': 'xdm:code',
      'xdm:isPrimary': true,
    };
    const created = await f.api.post(`${SR}/tenant/descriptors`, descriptor);
    expectStatus(created, 201);
    expect(created.data['@id']).toMatch(/^[0-9a-f]{40}$/);
    expect(created.data['xdm:namespace']).toBe('ECID');

    const again = await f.api.post(`${SR}/tenant/descriptors`, descriptor);
    expect(again.status).toBe(409);

    const badPath = await f.api.post(`${SR}/tenant/descriptors`, { ...descriptor, 'xdm:sourceProperty': `/_${TENANT}/nope`, 'xdm:isPrimary': false });
    expect(badPath.status).toBe(400);
    expect(badPath.data.detail).toContain(`/_${TENANT}/nope`);

    const notString = await f.api.post(`${SR}/tenant/descriptors`, { ...descriptor, 'xdm:sourceProperty': `/_${TENANT}/propensity`, 'xdm:isPrimary': false });
    expect(notString.status).toBe(400);
    expect(notString.data.detail).toMatch(/string/);

    const listed = await f.api.get(`${SR}/tenant/descriptors`, { headers: { Accept: 'application/vnd.adobe.xdm-v2+json' } });
    expectStatus(listed, 200);
    expect(listed.data.results.map((d: { '@id': string }) => d['@id'])).toContain(created.data['@id']);
    const grouped = await f.api.get(`${SR}/tenant/descriptors`, { headers: { Accept: 'application/vnd.adobe.xdm-id+json' } });
    expect(grouped.data['xdm:descriptorIdentity']).toContain(created.data['@id']);
    const badAccept = await f.api.get(`${SR}/tenant/descriptors`, { headers: { Accept: 'application/vnd.adobe.xed+json' } });
    expect(badAccept.status).toBe(400);

    expect((await f.api.get(`${SR}/tenant/descriptors/${created.data['@id']}`)).status).toBe(200);
    expect((await f.api.delete(`${SR}/tenant/descriptors/${created.data['@id']}`)).status).toBe(204);
    expect((await f.api.get(`${SR}/tenant/descriptors/${created.data['@id']}`)).status).toBe(404);
  });

  it('enables a schema for Profile with a JSON Patch and lists it in the unions', async () => {
    const fg = await createFieldGroup(f, 'Union fields');
    const schema = await createSchema(f, 'Union schema', PROFILE_CLASS, [String(fg.$id)]);
    const before = await f.api.get(`${SR}/tenant/unions`, { headers: LIST });
    expectStatus(before, 200);
    expect(before.data.results).toEqual([]);

    const patched = await f.api.patch(`${SR}/tenant/schemas/${encodeURIComponent(String(schema.$id))}`, [
      { op: 'add', path: '/meta:immutableTags', value: ['union'] },
    ]);
    expectStatus(patched, 200);
    expect(patched.data['meta:immutableTags']).toEqual(['union']);
    expect(patched.data.version).toBe('1.1');

    const unions = await f.api.get(`${SR}/tenant/unions`, { headers: LIST_FULL });
    expect(unions.data.results).toHaveLength(1);
    expect(unions.data.results[0].$id).toBe(`${PROFILE_CLASS}__union`);
    expect(unions.data.results[0]['meta:extends']).toContain(schema.$id);

    const replaced = await f.api.patch(`${SR}/tenant/schemas/${encodeURIComponent(String(schema.$id))}`, [
      { op: 'replace', path: '/description', value: 'new words' },
      { op: 'remove', path: '/meta:immutableTags' },
    ]);
    expectStatus(replaced, 200);
    expect(replaced.data.description).toBe('new words');
    expect((await f.api.get(`${SR}/tenant/unions`, { headers: LIST })).data.results).toEqual([]);

    const notArray = await f.api.patch(`${SR}/tenant/schemas/${encodeURIComponent(String(schema.$id))}`, { op: 'add' });
    expect(notArray.status).toBe(400);
  });

  it('deletes schemas and field groups, refusing a field group still in use', async () => {
    const fg = await createFieldGroup(f, 'Delete fields');
    const schema = await createSchema(f, 'Delete schema', PROFILE_CLASS, [String(fg.$id)]);
    const inUse = await f.api.delete(`${SR}/tenant/fieldgroups/${encodeURIComponent(String(fg.$id))}`);
    expect(inUse.status).toBe(409);
    expect((await f.api.delete(`${SR}/tenant/schemas/${encodeURIComponent(String(schema.$id))}`)).status).toBe(204);
    expect((await f.api.delete(`${SR}/tenant/fieldgroups/${encodeURIComponent(String(fg.$id))}`)).status).toBe(204);
    expect((await f.api.get(`${SR}/tenant/schemas/${encodeURIComponent(String(schema.$id))}`, { headers: ONE })).status).toBe(404);
  });
});
