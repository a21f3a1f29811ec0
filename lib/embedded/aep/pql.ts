/**
 * The part of Profile Query Language (PQL, `pql/text`) the embedded segmentation evaluates: comparisons
 * of profile fields with literals, joined by `and`, `or`, `not` and parentheses.
 *
 *   expr       := or
 *   or         := and ('or' and)*
 *   and        := unary ('and' unary)*
 *   unary      := 'not' unary | '(' expr ')' | comparison
 *   comparison := operand ('=' | '!=' | '<' | '<=' | '>' | '>=') operand
 *   operand    := field path (`_tenant.propensity`) | number | "string" | true | false
 *
 * Anything else PQL has (functions such as `.equals(...)`, `exists`, `in`, arrays, `xEvent`, time
 * functions) is refused with an error naming it and its position. Semantics: a comparison with a
 * missing (or null) field, or between values of different types, is false; numbers compare as doubles.
 */

export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Operand = { kind: 'field'; path: string[] } | { kind: 'literal'; value: number | string | boolean };

export type PqlExpression =
  | { kind: 'and' | 'or'; left: PqlExpression; right: PqlExpression }
  | { kind: 'not'; operand: PqlExpression }
  | { kind: 'comparison'; operator: ComparisonOperator; left: Operand; right: Operand };

/** A rule outside the supported subset, or not PQL at all; the message names what and where (1-based). */
export class PqlError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} (at character ${position})`);
    this.name = 'PqlError';
  }
}

type Token =
  | { type: 'identifier'; text: string; at: number }
  | { type: 'number'; value: number; text: string; at: number }
  | { type: 'string'; value: string; text: string; at: number }
  | { type: 'operator'; text: ComparisonOperator; at: number }
  | { type: 'punctuation'; text: '(' | ')' | '.'; at: number }
  | { type: 'end'; text: ''; at: number }
  /** Text that cannot start a token; reported when the parser reaches it, so errors come in reading order. */
  | { type: 'invalid'; text: string; message: string; at: number };

const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false']);
const UNSUPPORTED_WORDS = new Set(['in', 'exists', 'like', 'contains', 'matches', 'select', 'xevent', 'where', 'null', 'between', 'occurs']);
const SUPPORTED = 'the embedded platform evaluates comparisons (=, !=, <, <=, >, >=) of profile fields with number, string or boolean literals, joined by and, or, not and parentheses';

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    const at = i + 1;
    if (/\s/.test(ch)) {
      i++;
    } else if (/[A-Za-z_]/.test(ch)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0];
      tokens.push({ type: 'identifier', text: match, at });
      i += match.length;
    } else if (/[0-9]/.test(ch) || (ch === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const match = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i))![0];
      const after = text[i + match.length] ?? '';
      if (/^[A-Za-z_.]/.test(after)) {
        tokens.push({ type: 'invalid', text: match + after, message: `Malformed number '${match}${after}'`, at });
        break;
      }
      tokens.push({ type: 'number', value: Number(match), text: match, at });
      i += match.length;
    } else if (ch === '"') {
      let value = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\') {
          j++;
          if (j >= text.length) break;
        }
        value += text[j];
      }
      if (j >= text.length) {
        tokens.push({ type: 'invalid', text: text.slice(i), message: 'Unterminated string literal', at });
        break;
      }
      tokens.push({ type: 'string', value, text: text.slice(i, j + 1), at });
      i = j + 1;
    } else if (text.startsWith('<=', i) || text.startsWith('>=', i) || text.startsWith('!=', i)) {
      tokens.push({ type: 'operator', text: text.slice(i, i + 2) as ComparisonOperator, at });
      i += 2;
    } else if (text.startsWith('==', i)) {
      tokens.push({ type: 'invalid', text: '==', message: "'==' is not a PQL operator; PQL compares with '='", at });
      break;
    } else if (ch === '=' || ch === '<' || ch === '>') {
      tokens.push({ type: 'operator', text: ch, at });
      i++;
    } else if (ch === '(' || ch === ')' || ch === '.') {
      tokens.push({ type: 'punctuation', text: ch, at });
      i++;
    } else {
      tokens.push({ type: 'invalid', text: ch, message: `Unsupported character '${ch}': ${SUPPORTED}`, at });
      break;
    }
  }
  if (tokens[tokens.length - 1]?.type !== 'invalid') tokens.push({ type: 'end', text: '', at: text.length + 1 });
  return tokens;
}

function describe(token: Token): string {
  return token.type === 'end' ? 'the end of the rule' : `'${token.text}'`;
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Exclude<Token, { type: 'invalid' }> {
    const token = this.tokens[this.index];
    // tokenize ends the list with an 'end' or 'invalid' token, which the parser never reads past.
    if (token === undefined) throw new Error('The PQL parser read past the end of the rule');
    if (token.type === 'invalid') throw new PqlError(token.message, token.at);
    return token;
  }

  private next(): Exclude<Token, { type: 'invalid' }> {
    const token = this.peek();
    this.index++;
    return token;
  }

  private isWord(token: Token, word: string): boolean {
    return token.type === 'identifier' && token.text.toLowerCase() === word;
  }

  parse(): PqlExpression {
    const expression = this.or();
    const rest = this.peek();
    if (rest.type !== 'end') throw new PqlError(`Unexpected ${describe(rest)} after a complete condition; join conditions with and / or`, rest.at);
    return expression;
  }

  private or(): PqlExpression {
    let left = this.and();
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): PqlExpression {
    let left = this.unary();
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): PqlExpression {
    const token = this.peek();
    if (this.isWord(token, 'not')) {
      this.next();
      return { kind: 'not', operand: this.unary() };
    }
    if (token.type === 'punctuation' && token.text === '(') {
      this.next();
      const inner = this.or();
      const close = this.next();
      if (close.type !== 'punctuation' || close.text !== ')') throw new PqlError(`Expected ')' but found ${describe(close)}`, close.at);
      return inner;
    }
    return this.comparison();
  }

  private comparison(): PqlExpression {
    const left = this.operand();
    const operator = this.next();
    if (operator.type !== 'operator') {
      const found = operator.type === 'identifier' && UNSUPPORTED_WORDS.has(operator.text.toLowerCase()) ? `'${operator.text}' is not supported` : `found ${describe(operator)}`;
      throw new PqlError(`Expected a comparison operator (=, !=, <, <=, >, >=) after ${operandText(left)}; ${found}: ${SUPPORTED}`, operator.at);
    }
    const right = this.operand();
    if (left.kind === 'literal' && right.kind === 'literal') {
      throw new PqlError(`The comparison ${operandText(left)} ${operator.text} ${operandText(right)} names no profile field`, operator.at);
    }
    return { kind: 'comparison', operator: operator.text, left, right };
  }

  private operand(): Operand {
    const token = this.next();
    if (token.type === 'number') return { kind: 'literal', value: token.value };
    if (token.type === 'string') return { kind: 'literal', value: token.value };
    if (token.type === 'identifier') {
      const word = token.text.toLowerCase();
      if (word === 'true' || word === 'false') return { kind: 'literal', value: word === 'true' };
      if (KEYWORDS.has(word)) throw new PqlError(`Expected a field or a value but found '${token.text}'`, token.at);
      if (UNSUPPORTED_WORDS.has(word)) throw new PqlError(`'${token.text}' is not supported: ${SUPPORTED}`, token.at);
      const path = [token.text];
      while (this.peek().type === 'punctuation' && this.peek().text === '.') {
        this.next();
        const segment = this.next();
        if (segment.type !== 'identifier') throw new PqlError(`Expected a field name after '${path.join('.')}.' but found ${describe(segment)}`, segment.at);
        path.push(segment.text);
      }
      const after = this.peek();
      if (after.type === 'punctuation' && after.text === '(') {
        throw new PqlError(`Function calls such as '${path.join('.')}(...)' are not supported: ${SUPPORTED}`, after.at);
      }
      return { kind: 'field', path };
    }
    throw new PqlError(`Expected a field or a value but found ${describe(token)}`, token.at);
  }
}

function operandText(operand: Operand): string {
  if (operand.kind === 'field') return `'${operand.path.join('.')}'`;
  return JSON.stringify(operand.value);
}

/** Parses a `pql/text` rule; throws PqlError naming what is not supported. */
export function parsePql(text: string): PqlExpression {
  if (typeof text !== 'string' || text.trim() === '') throw new PqlError('The rule is empty', 1);
  return new Parser(tokenize(text)).parse();
}

/** Every comparison of a rule, in order. */
export function comparisons(expression: PqlExpression): Extract<PqlExpression, { kind: 'comparison' }>[] {
  switch (expression.kind) {
    case 'comparison':
      return [expression];
    case 'not':
      return comparisons(expression.operand);
    default:
      return [...comparisons(expression.left), ...comparisons(expression.right)];
  }
}

/** The field paths a rule reads, each once. */
export function fieldPaths(expression: PqlExpression): string[][] {
  const seen = new Map<string, string[]>();
  for (const c of comparisons(expression)) {
    for (const operand of [c.left, c.right]) if (operand.kind === 'field') seen.set(operand.path.join('.'), operand.path);
  }
  return [...seen.values()];
}

function resolve(operand: Operand, profile: Record<string, unknown>): unknown {
  if (operand.kind === 'literal') return operand.value;
  let current: unknown = profile;
  for (const segment of operand.path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = Object.prototype.hasOwnProperty.call(current, segment) ? (current as Record<string, unknown>)[segment] : undefined;
  }
  return current;
}

function compare(operator: ComparisonOperator, left: unknown, right: unknown): boolean {
  if (left === undefined || left === null || right === undefined || right === null) return false;
  if (typeof left !== typeof right || !['number', 'string', 'boolean'].includes(typeof left)) return false;
  if (typeof left === 'boolean' && operator !== '=' && operator !== '!=') return false;
  const a = left as number | string;
  const b = right as number | string;
  switch (operator) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** Whether a (merged) profile qualifies for the rule. */
export function evaluatePql(expression: PqlExpression, profile: Record<string, unknown>): boolean {
  switch (expression.kind) {
    case 'and':
      return evaluatePql(expression.left, profile) && evaluatePql(expression.right, profile);
    case 'or':
      return evaluatePql(expression.left, profile) || evaluatePql(expression.right, profile);
    case 'not':
      return !evaluatePql(expression.operand, profile);
    case 'comparison':
      return compare(expression.operator, resolve(expression.left, profile), resolve(expression.right, profile));
  }
}
