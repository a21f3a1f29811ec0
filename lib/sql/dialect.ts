import type { QueryDialect } from '../config/schema';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Raised for any identifier that could change the meaning of generated SQL. */
export class UnsafeIdentifierError extends Error {
  constructor(what: string, value: string) {
    super(`Refusing ${what} ${JSON.stringify(value)}: identifiers must match ${IDENTIFIER} (letters, digits, underscore)`);
    this.name = 'UnsafeIdentifierError';
  }
}

export function assertIdentifier(what: string, value: string): string {
  if (!IDENTIFIER.test(value) || value.length > 128) {
    throw new UnsafeIdentifierError(what, value);
  }
  return value;
}

/** A string literal; the value is data, so quotes are doubled rather than refused. */
export function literal(value: string): string {
  if (value.includes('\0')) {
    throw new Error('SQL string literals cannot contain NUL characters');
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The two SQL dialects the pipeline speaks. Data Distiller reads XDM objects as nested structs
 * (`_acme.userid`); the embedded platform's PostgreSQL keeps each top-level XDM object in a jsonb column,
 * so the same path reads `("_acme"->>'userid')`. Everything else the pipeline emits is common SQL.
 */
export interface SqlDialect {
  name: QueryDialect;
  /** A table name, validated. */
  table(name: string): string;
  /** A top-level column, validated. */
  column(name: string): string;
  /** A nested XDM field as text, e.g. ['_acme', 'userid']. */
  textField(path: readonly string[]): string;
}

export const dataDistiller: SqlDialect = {
  name: 'data-distiller',
  table: (name) => assertIdentifier('table name', name),
  column: (name) => assertIdentifier('column name', name),
  textField: (path) => path.map((p) => assertIdentifier('field name', p)).join('.'),
};

export const postgres: SqlDialect = {
  name: 'postgres',
  table: (name) => `"${assertIdentifier('table name', name)}"`,
  column: (name) => `"${assertIdentifier('column name', name)}"`,
  textField: (path) => {
    const [column, ...rest] = path.map((p) => assertIdentifier('field name', p));
    if (rest.length === 0) return `"${column}"`;
    const last = rest.pop() as string;
    return `("${column}"${rest.map((p) => `->'${p}'`).join('')}->>'${last}')`;
  },
};

export function dialectFor(name: QueryDialect): SqlDialect {
  return name === 'postgres' ? postgres : dataDistiller;
}
