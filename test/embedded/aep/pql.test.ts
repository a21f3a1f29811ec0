import { evaluatePql, fieldPaths, parsePql, PqlError } from '../../../lib/embedded/aep/pql';

const profile = { _acme: { propensity: 0.42, userid: 'u1', tier: 'gold', active: true }, score: 7 };

function qualifies(rule: string, p: Record<string, unknown> = profile): boolean {
  return evaluatePql(parsePql(rule), p);
}

describe('parsePql', () => {
  it('parses the week-5 band rule into two comparisons joined by and', () => {
    expect(parsePql('_acme.propensity >= 0.8 and _acme.propensity <= 1')).toEqual({
      kind: 'and',
      left: { kind: 'comparison', operator: '>=', left: { kind: 'field', path: ['_acme', 'propensity'] }, right: { kind: 'literal', value: 0.8 } },
      right: { kind: 'comparison', operator: '<=', left: { kind: 'field', path: ['_acme', 'propensity'] }, right: { kind: 'literal', value: 1 } },
    });
  });

  it('binds and tighter than or, and honours parentheses and not', () => {
    expect(parsePql('a = 1 or b = 2 and c = 3').kind).toBe('or');
    expect(parsePql('(a = 1 or b = 2) and c = 3').kind).toBe('and');
    expect(parsePql('not a = 1').kind).toBe('not');
  });

  it('reads numbers exactly, with exponents and signs', () => {
    const rule = parsePql('x >= 0.30000000000000004 and y > -2.5e-3 and z = 12');
    expect(JSON.stringify(rule)).toContain('0.30000000000000004');
    expect(JSON.stringify(rule)).toContain('-0.0025');
  });

  it('lists the fields a rule reads, once each', () => {
    expect(fieldPaths(parsePql('_acme.propensity >= 0.2 and _acme.propensity <= 0.4 or score > 1'))).toEqual([['_acme', 'propensity'], ['score']]);
  });

  it.each([
    ['homeAddress.countryCode.equals("US", false)', /Function calls such as 'homeAddress\.countryCode\.equals\(\.\.\.\)' are not supported/],
    ['x in [1, 2]', /'in' is not supported/],
    ['x >= 1 and', /Expected a field or a value but found the end of the rule/],
    ['x == 1', /'==' is not a PQL operator/],
    ['x >= 1 y <= 2', /Unexpected 'y' after a complete condition/],
    ['(x >= 1', /Expected '\)' but found the end of the rule/],
    ['x >= 1 & y < 2', /Unsupported character '&'/],
    ['1 < 2', /names no profile field/],
    ['x = "open', /Unterminated string literal/],
    ['x >= 1.2.3', /Malformed number/],
    ['exists(x)', /'exists' is not supported/],
    ['   ', /The rule is empty/],
  ])('refuses %p, naming what and where', (rule, message) => {
    expect(() => parsePql(rule)).toThrow(PqlError);
    expect(() => parsePql(rule)).toThrow(message);
    expect(() => parsePql(rule)).toThrow(/\(at character \d+\)/);
  });
});

describe('evaluatePql', () => {
  it('evaluates the band rule with both ends included', () => {
    const band = '_acme.propensity >= 0.42 and _acme.propensity <= 0.5';
    expect(qualifies(band)).toBe(true);
    expect(qualifies(band, { _acme: { propensity: 0.5 } })).toBe(true);
    expect(qualifies(band, { _acme: { propensity: 0.5000000000000001 } })).toBe(false);
    expect(qualifies(band, { _acme: { propensity: 0.41999999999999993 } })).toBe(false);
  });

  it('compares numbers, strings and booleans, with literals on either side', () => {
    expect(qualifies('score > 6 and 8 > score')).toBe(true);
    expect(qualifies('_acme.tier = "gold" and _acme.tier != "silver"')).toBe(true);
    expect(qualifies('_acme.active = true')).toBe(true);
    expect(qualifies('_acme.tier < "h"')).toBe(true);
    expect(qualifies('not (score < 7) and (score = 1 or score = 7)')).toBe(true);
  });

  it('treats a missing field, a null or a type mismatch as not qualifying', () => {
    expect(qualifies('_acme.missing >= 0')).toBe(false);
    expect(qualifies('_acme.propensity >= 0', { _acme: { propensity: null } })).toBe(false);
    expect(qualifies('_acme.propensity >= 0', { _acme: 'flat' })).toBe(false);
    expect(qualifies('_acme.userid > 0')).toBe(false);
    expect(qualifies('_acme.active > false')).toBe(false);
  });
});
