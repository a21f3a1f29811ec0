import { AudienceInputError, decimalLiteral, propensityBandPql, validateBand, validateTenantId } from '../../lib/audience';

describe('validateBand', () => {
  it('accepts a band within [0, 1] with low <= high, including a single point and the whole range', () => {
    expect(validateBand({ low: 0.8, high: 1 })).toEqual({ low: 0.8, high: 1 });
    expect(validateBand({ low: 0.5, high: 0.5 })).toEqual({ low: 0.5, high: 0.5 });
    expect(validateBand({ low: 0, high: 1 })).toEqual({ low: 0, high: 1 });
  });

  it.each([
    [{ low: 0.9, high: 0.2 }, /low \(0\.9\) must not be above high \(0\.2\)/],
    [{ low: -0.1, high: 0.5 }, /low must be within \[0, 1\].*got -0\.1/],
    [{ low: 0.1, high: 1.5 }, /high must be within \[0, 1\].*got 1\.5/],
    [{ low: Number.NaN, high: 0.5 }, /low must be a finite number from 0 to 1, got NaN/],
    [{ low: 0, high: Number.POSITIVE_INFINITY }, /high must be a finite number from 0 to 1, got Infinity/],
    [{ low: '0.2', high: 0.5 }, /low must be a finite number from 0 to 1, got "0\.2"/],
    [{ low: undefined, high: 0.5 }, /low must be a finite number from 0 to 1, got nothing/],
  ])('refuses %p naming the bad value', (band, message) => {
    expect(() => validateBand(band as { low: unknown; high: unknown })).toThrow(AudienceInputError);
    expect(() => validateBand(band as { low: unknown; high: unknown })).toThrow(message);
  });

  it('names both ends when both are bad, with the caller\'s names for them', () => {
    expect(() => validateBand({ low: 2, high: -1 }, { low: 'props.low', high: 'props.high' })).toThrow(
      /props\.low must be within \[0, 1\].*got 2; props\.high must be within \[0, 1\].*got -1/,
    );
  });
});

describe('validateTenantId', () => {
  it('accepts letters and digits', () => {
    expect(validateTenantId('acme2')).toBe('acme2');
  });

  it.each([['_acme', /without the leading underscore/], ['ac me', /"ac me": must be letters and digits/], ['', /must be letters and digits/], [undefined, /nothing/]])(
    'refuses %p',
    (tenant, message) => {
      expect(() => validateTenantId(tenant)).toThrow(message);
    },
  );
});

describe('decimalLiteral', () => {
  it.each([
    [0, '0'],
    [1, '1'],
    [0.8, '0.8'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e-7, '0.0000001'],
    [1.5e-7, '0.00000015'],
    [5e-324, `0.${'0'.repeat(323)}5`],
    [1e21, '1000000000000000000000'],
    [-2.5e-8, '-0.000000025'],
  ])('writes %p as %s', (value, text) => {
    expect(decimalLiteral(value)).toBe(text);
    expect(Number(decimalLiteral(value))).toBe(value);
  });

  it('reads back exactly for many doubles', () => {
    let x = 0.123456789;
    for (let i = 0; i < 2000; i++) {
      x = (x * 9301 + 49297) % 1;
      const value = x * 10 ** -((i % 30) - 3);
      const text = decimalLiteral(value);
      expect(text).toMatch(/^\d+(\.\d+)?$/);
      expect(Number(text)).toBe(value);
    }
  });
});

describe('propensityBandPql', () => {
  it('is the week-5 rule on the tenant\'s propensity field, with both ends included', () => {
    expect(propensityBandPql('acme', { low: 0.8, high: 1 })).toBe('_acme.propensity >= 0.8 and _acme.propensity <= 1');
    expect(propensityBandPql('embedded', { low: 0, high: 0.05 })).toBe('_embedded.propensity >= 0 and _embedded.propensity <= 0.05');
  });

  it('prints the numbers exactly, without exponents', () => {
    expect(propensityBandPql('t1', { low: 1e-7, high: 0.30000000000000004 })).toBe('_t1.propensity >= 0.0000001 and _t1.propensity <= 0.30000000000000004');
  });

  it('refuses a bad band or tenant before writing anything', () => {
    expect(() => propensityBandPql('acme', { low: 0.9, high: 0.1 })).toThrow(/low \(0\.9\) must not be above high \(0\.1\)/);
    expect(() => propensityBandPql('acme"; drop', { low: 0, high: 1 })).toThrow(/Invalid tenant id/);
  });
});
