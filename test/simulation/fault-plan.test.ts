import { DEFAULT_FAULT_RATES, FaultPlan, RETRY_AFTER_SECONDS, type InvocationFaults } from '../../lib/simulation/faults';

const DAY = Date.parse('2026-03-01T00:00:00Z');
const at = (day: number) => new Date(DAY + day * 86_400_000);

/** The decisions of `invocations` invocations of `requests` AEP and store requests each, as text. */
function decisions(plan: FaultPlan, invocations: number, requests: number, expected = 50): string[] {
  const out: string[] = [];
  for (let i = 0; i < invocations; i++) {
    const faults = plan.invocation(i, at(1), expected);
    out.push(`kill@${faults.killAtRequest ?? '-'}`);
    for (let r = 0; r < requests; r++) {
      out.push(JSON.stringify(faults.aepRequest('GET', '/data/foundation/catalog/dataSets') ?? null));
      out.push(JSON.stringify(faults.objectStoreRequest('PUT', 'bucket', `ingress/${r}.csv`) ?? null));
    }
  }
  return out;
}

const busy = { aepThrottle: 0.05, aepServerError: 0.05, aepTimeout: 0.05, tokenRevocation: 0.05, objectStoreError: 0.1, processKill: 0.3 };

it('draws the same faults from the same seed and different ones from another', () => {
  const first = decisions(new FaultPlan({ seed: 7, rates: busy }), 40, 50);
  expect(decisions(new FaultPlan({ seed: 7, rates: busy }), 40, 50)).toEqual(first);
  expect(decisions(new FaultPlan({ seed: 8, rates: busy }), 40, 50)).not.toEqual(first);
  expect(first.some((d) => d !== 'null' && !d.startsWith('kill@'))).toBe(true);
});

it("keeps an invocation's faults independent of the traffic of the invocations before it", () => {
  const plan = new FaultPlan({ seed: 3, rates: busy });
  const alone = plan.invocation(5, at(1));
  const aloneDraws = Array.from({ length: 100 }, () => JSON.stringify(alone.aepRequest('GET', '/x') ?? null));
  const other = new FaultPlan({ seed: 3, rates: busy });
  for (let r = 0; r < 500; r++) other.invocation(4, at(1)).aepRequest('GET', '/x');
  const after = other.invocation(5, at(1));
  expect(Array.from({ length: 100 }, () => JSON.stringify(after.aepRequest('GET', '/x') ?? null))).toEqual(aloneDraws);
});

it('injects nothing into invocations that begin outside the window', () => {
  const plan = new FaultPlan({
    seed: 1,
    rates: { aepThrottle: 1, aepServerError: 0, aepTimeout: 0, tokenRevocation: 0, objectStoreError: 1, processKill: 1 },
    window: { start: at(2), end: at(50) },
  });
  for (const day of [0, 1.99, 50, 59]) {
    const faults: InvocationFaults = plan.invocation(0, at(day));
    expect(faults.killAtRequest).toBeUndefined();
    expect(faults.aepRequest('GET', '/x')).toBeUndefined();
    expect(faults.objectStoreRequest('GET', 'b', 'k')).toBeUndefined();
  }
  for (const day of [2, 49.99]) {
    const faults = plan.invocation(0, at(day));
    expect(faults.killAtRequest).toBeDefined();
    expect(faults.aepRequest('GET', '/x')?.kind).toBe('aep-throttle');
    expect(faults.objectStoreRequest('GET', 'b', 'k')?.kind).toBe('object-store-error');
  }
});

it('lands each kind at about its rate, with AEP and S3 statuses and Retry-After as the services send them', () => {
  const rates = { aepThrottle: 0.02, aepServerError: 0.03, aepTimeout: 0.01, tokenRevocation: 0.01, objectStoreError: 0.04, processKill: 0.2 };
  const plan = new FaultPlan({ seed: 11, rates, holdMs: 2500 });
  const counts: Record<string, number> = {};
  const statuses = new Set<number>();
  const codes = new Set<string>();
  let kills = 0;
  const invocations = 2000;
  const requests = 50;
  for (let i = 0; i < invocations; i++) {
    const faults = plan.invocation(i, at(1), 30);
    if (faults.killAtRequest !== undefined) {
      kills += 1;
      expect(faults.killAtRequest).toBeGreaterThanOrEqual(1);
      expect(faults.killAtRequest).toBeLessThanOrEqual(30);
    }
    for (let r = 0; r < requests; r++) {
      const aep = faults.aepRequest('POST', '/data/foundation/import/batches');
      if (aep) {
        counts[aep.kind] = (counts[aep.kind] ?? 0) + 1;
        if (aep.kind === 'aep-throttle') {
          expect(aep.retryAfterSeconds).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS.min);
          expect(aep.retryAfterSeconds).toBeLessThanOrEqual(RETRY_AFTER_SECONDS.max);
        }
        if (aep.kind === 'aep-server-error') statuses.add(aep.status);
        if (aep.kind === 'aep-timeout') expect(aep.holdMs).toBe(2500);
      }
      const store = faults.objectStoreRequest('GET', 'b', 'k');
      if (store) {
        counts[store.kind] = (counts[store.kind] ?? 0) + 1;
        codes.add(`${store.status} ${store.code}`);
      }
    }
  }
  const draws = invocations * requests;
  const near = (observed: number | undefined, rate: number, n: number) => {
    expect(observed).toBeGreaterThan(rate * n * 0.85);
    expect(observed).toBeLessThan(rate * n * 1.15);
  };
  near(counts['aep-throttle'], rates.aepThrottle, draws);
  near(counts['aep-server-error'], rates.aepServerError, draws);
  near(counts['aep-timeout'], rates.aepTimeout, draws);
  near(counts['token-revocation'], rates.tokenRevocation, draws);
  near(counts['object-store-error'], rates.objectStoreError, draws);
  near(kills, rates.processKill, invocations);
  expect([...statuses].sort()).toEqual([500, 502, 503, 504]);
  expect([...codes].sort()).toEqual(['500 InternalError', '503 SlowDown']);
});

it('never revokes tokens on the request that asks IMS for one', () => {
  const plan = new FaultPlan({ seed: 5, rates: { aepThrottle: 0, aepServerError: 0, aepTimeout: 0, tokenRevocation: 1 } });
  const faults = plan.invocation(0, at(1));
  expect(faults.aepRequest('POST', '/ims/token/v3')).toBeUndefined();
  expect(faults.aepRequest('GET', '/data/foundation/catalog/dataSets')).toEqual({ kind: 'token-revocation' });
});

it('draws no faults at rate zero and refuses rates that are not probabilities', () => {
  const zero = { aepThrottle: 0, aepServerError: 0, aepTimeout: 0, tokenRevocation: 0, objectStoreError: 0, processKill: 0 };
  expect(decisions(new FaultPlan({ seed: 9, rates: zero }), 20, 50).every((d) => d === 'null' || d === 'kill@-')).toBe(true);
  expect(() => new FaultPlan({ seed: 1, rates: { processKill: 1.5 } })).toThrow(/processKill/);
  expect(() => new FaultPlan({ seed: 1, rates: { aepThrottle: 0.6, aepServerError: 0.6 } })).toThrow(/add up/);
  expect(() => new FaultPlan({ seed: 1, window: { start: at(3), end: at(3) } })).toThrow(/window/);
  expect(() => new FaultPlan({ seed: 1.5 })).toThrow(/seed/);
});

it('defaults give a 60-day run a handful of each kind at the estimated traffic', () => {
  // The estimate the defaults are sized on: a few hundred requests to each server a day, 200 invocations.
  const plan = new FaultPlan({ seed: 7 });
  expect(plan.rates).toEqual(DEFAULT_FAULT_RATES);
  const perKind: Record<string, number> = {};
  let kills = 0;
  for (let i = 0; i < 200; i++) {
    const faults = plan.invocation(i, at(i * 0.3));
    if (faults.killAtRequest !== undefined) kills += 1;
    for (let r = 0; r < 90; r++) {
      const aep = faults.aepRequest('GET', '/data/foundation/catalog/batches');
      if (aep) perKind[aep.kind] = (perKind[aep.kind] ?? 0) + 1;
      const store = faults.objectStoreRequest('GET', 'b', 'k');
      if (store) perKind[store.kind] = (perKind[store.kind] ?? 0) + 1;
    }
  }
  for (const kind of ['aep-throttle', 'aep-server-error', 'aep-timeout', 'token-revocation', 'object-store-error']) {
    expect(perKind[kind]).toBeGreaterThanOrEqual(2);
    expect(perKind[kind]).toBeLessThanOrEqual(60);
  }
  expect(kills).toBeGreaterThanOrEqual(3);
  expect(kills).toBeLessThanOrEqual(25);
});
