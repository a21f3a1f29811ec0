import { added, listedItems } from '../../lib/rehearsal/aep-resources';
import { documentedAsRetained } from '../../lib/rehearsal/rehearse';

describe('what the rehearsal finds left in AEP', () => {
  it("reads each of AEP's listing shapes: an array under a key, or Catalog's object keyed by id", () => {
    expect(listedItems({ items: [{ id: 'f1', name: 'flow' }] })).toEqual([{ id: 'f1', name: 'flow' }]);
    expect(listedItems({ segments: [{ id: 's1', name: 'band' }], page: { totalCount: 1 } })).toEqual([{ id: 's1', name: 'band' }]);
    expect(listedItems({ results: [{ $id: 'https://ns/schema', title: 'Scores' }] })).toEqual([{ $id: 'https://ns/schema', title: 'Scores' }]);
    expect(listedItems({ ds1: { name: 'events' }, ds2: { name: 'scores' }, _page: { count: 2 } })).toEqual([
      { id: 'ds1', name: 'events' },
      { id: 'ds2', name: 'scores' },
    ]);
    expect(listedItems(null)).toEqual([]);
  });

  it('counts what the destroy left that was not there before, twins included', () => {
    const before = ['dataset: events', 'schema: Events'];
    expect(added(before, ['dataset: events', 'dataset: events', 'schema: Events', 'flow: ingest'])).toEqual(['dataset: events', 'flow: ingest']);
    expect(added(before, before)).toEqual([]);
  });

  it('admits only what the README documents as retained: the scores dataset, its schema chain and the mapping set', () => {
    expect(['dataset: rehearsal propensity scores', 'schema: Scores', 'fieldGroup: Propensity', 'mappingSet: m'].every(documentedAsRetained)).toBe(true);
    expect(['dataset: rehearsal_training_features', 'flow: ingest', 'segmentDefinition: Likely subscribers', 'connection: s3'].some(documentedAsRetained)).toBe(false);
  });
});
