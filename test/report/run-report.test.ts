import type { ExplorationResult } from '../../lib/explore/explore';
import { renderRunReport, type RunReport } from '../../lib/report/run-report';

const exploration: ExplorationResult = {
  table: 'cmle_events',
  rows: 1060,
  users: 100,
  firstEvent: '2026-01-01T00:00:00Z',
  lastEvent: '2026-03-01T00:00:00Z',
  eventsPerUser: 10.6,
  subscribers: 15,
  subscriberShare: 0.15,
  eventTypes: [{ eventType: 'directMarketing.emailSent', events: 500, users: 100 }],
  funnel: [{ step: 'sent', eventType: 'directMarketing.emailSent', users: 100, shareOfPrevious: null }],
  correlations: [{ eventType: 'directMarketing.emailSent', correlation: 0.12 }],
};

const full: RunReport = {
  title: 'Pipeline run <local>',
  generatedAt: '2026-03-01T00:00:00Z',
  exploration,
  model: {
    name: 'propensity',
    version: 'v1',
    promoted: true,
    reason: 'No production model yet',
    trainingRows: 75,
    metrics: [
      { label: 'gradient-boosted trees', auc: 0.95, logLoss: 0.2, precision: 0.8, recall: 0.7, threshold: 0.5 },
      { label: 'logistic baseline', auc: 0.9, logLoss: 0.3, precision: 0.7, recall: 0.6, threshold: 0.5 },
    ],
    roc: { 'gradient-boosted trees': [{ x: 0, y: 0 }, { x: 0.1, y: 0.8 }, { x: 1, y: 1 }], 'logistic baseline': [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
    importances: [{ feature: 'emailsClicked', importance: 0.4 }],
  },
  scores: {
    profiles: 100,
    folder: 'ingress/ds/exportTime=20260301000000/',
    histogram: Array.from({ length: 20 }, (_, i) => (i < 10 ? 8 : 2)),
    reach: [
      { threshold: 0, above: 100, below: 0 },
      { threshold: 0.5, above: 20, below: 80 },
      { threshold: 1, above: 0, below: 100 },
    ],
  },
  audience: { name: 'likely <subscribers>', low: 0.5, high: 1, expected: 20, qualified: 20, segmentId: 'seg-1', jobId: 'job-1' },
  timings: [{ stage: 'train', ms: 1500 }],
};

it('renders every section, self-contained, with text escaped', () => {
  const html = renderRunReport(full);
  expect(html).toContain('<h2>Exploration (week 1)</h2>');
  expect(html).toContain('<h2>Model (weeks 3 and 4)</h2>');
  expect(html).toContain('<h2>Scores (week 5)</h2>');
  expect(html).toContain('<h2>Audience</h2>');
  expect(html).toContain('Pipeline run &lt;local&gt;');
  expect(html).toContain('likely &lt;subscribers&gt;');
  expect(html).not.toContain('<subscribers>');
  expect(html.match(/<rect /g)).toHaveLength(20);
  expect(html.match(/<path /g)).toHaveLength(3);
  expect(html).toContain('<td>0.9500</td>');
  expect(html).not.toMatch(/<script|src=|href=|https?:\/\//);
});

it('leaves out what the run did not reach, and says when the audience is not evaluated', () => {
  const partial = renderRunReport({ ...full, model: undefined, scores: undefined, audience: { ...full.audience!, qualified: undefined } });
  expect(partial).not.toContain('<h2>Model');
  expect(partial).not.toContain('<h2>Scores');
  expect(partial).toContain('not evaluated yet');
});
