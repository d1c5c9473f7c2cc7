/**
 * The filter parser: recursive descent over the tokens, `or` < `and` < `not` < parentheses.
 *
 *   filter     := or END
 *   or         := and ("or" and)*
 *   and        := unary ("and" unary)*
 *   unary      := "not" unary | "(" or ")" | comparison
 *   comparison := FIELD OP VALUE
 */
import { isCairnError } from "../errors.js";
import { queryError, quoteToken } from "./error.js";
import { OPERATOR_LIST, tokenize, type Token } from "./tokenize.js";
import type { ComparisonNode, ComparisonOperator, FilterExpression, QueryValue } from "./types.js";
import { parseNumber } from "./value.js";

/** Nesting deeper than this (parentheses and `not`) is refused rather than overflowing the stack. */
export const MAX_DEPTH = 64;

const FIELD_CHAR = /[\p{L}\p{N}_.-]/u;
const KEYWORDS = new Set(["and", "or", "not"]);

function isKeyword(token: Token, keyword?: string): boolean {
  if (token.kind !== "word") return false;
  const lower = token.value.toLowerCase();
  return keyword === undefined ? KEYWORDS.has(lower) : lower === keyword;
}

/** The first character of a bare field name that is not allowed, with its offset. */
export function badFieldChar(name: string): { char: string; offset: number } | undefined {
  let offset = 0;
  for (const char of name) {
    if (!FIELD_CHAR.test(char)) return { char, offset };
    offset += char.length;
  }
  return undefined;
}

class Parser {
  private index = 0;
  private depth = 0;
  private readonly tokens: Token[];

  constructor(private readonly source: string) {
    this.tokens = tokenize(source);
  }

  parse(): FilterExpression {
    if (this.peek().kind === "end") {
      throw queryError("filter", this.source, 0, "expected a comparison such as status = running", {
        details: { expected: "comparison" },
      });
    }
    const expression = this.parseOr();
    const next = this.peek();
    if (next.kind === ")") {
      throw queryError("filter", this.source, next.position, 'unexpected ")"', {
        hint: 'there is no "(" to close',
        details: { expected: "and, or, end" },
      });
    }
    if (next.kind !== "end") this.failJoiner(next, false);
    return expression;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private previous(): Token | undefined {
    return this.tokens[this.index - 1];
  }

  private advance(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index += 1;
    return token;
  }

  /** Throws "expected X after <previous token>[, found Y]" at Y, or at the previous token at the end. */
  private fail(expected: string, expectedCode: string, hint?: string): never {
    const found = this.peek();
    const before = this.previous();
    const after = before ? ` after ${quoteToken(before.raw)}` : "";
    if (found.kind === "end") {
      throw queryError("filter", this.source, before ? before.position : 0, `expected ${expected}${after}`, {
        hint,
        details: { expected: expectedCode },
      });
    }
    throw queryError("filter", this.source, found.position, `expected ${expected}${after}, found ${quoteToken(found.raw)}`, {
      hint,
      details: { expected: expectedCode },
    });
  }

  private failJoiner(found: Token, insideParens: boolean): never {
    let hint: string | undefined;
    if (found.value === "&&") hint = 'write "and"';
    else if (found.value === "||") hint = 'write "or"';
    else if (this.tokens[this.index + 1]?.kind === "op") hint = 'join comparisons with "and" or "or"';
    else if (found.kind === "word" || found.kind === "string") hint = "put values that contain spaces in quotes";
    const options = insideParens ? '"and", "or" or ")"' : '"and", "or" or the end of the filter';
    this.fail(options, insideParens ? "and, or, )" : "and, or, end", hint);
  }

  private enter(token: Token): void {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) {
      throw queryError("filter", this.source, token.position, "the filter is nested too deeply", {
        hint: `at most ${MAX_DEPTH} levels of parentheses and "not"`,
        details: { expected: "less nesting" },
      });
    }
  }

  private parseOr(): FilterExpression {
    const operands = [this.parseAnd()];
    while (isKeyword(this.peek(), "or")) {
      this.advance();
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? (operands[0] as FilterExpression) : { kind: "or", operands };
  }

  private parseAnd(): FilterExpression {
    const operands = [this.parseUnary()];
    while (isKeyword(this.peek(), "and")) {
      this.advance();
      operands.push(this.parseUnary());
    }
    return operands.length === 1 ? (operands[0] as FilterExpression) : { kind: "and", operands };
  }

  private parseUnary(): FilterExpression {
    const token = this.peek();
    if (isKeyword(token, "not")) {
      this.advance();
      this.enter(token);
      const operand = this.parseUnary();
      this.depth -= 1;
      return { kind: "not", operand };
    }
    if (token.kind === "(") {
      this.advance();
      this.enter(token);
      const inner = this.parseOr();
      const close = this.peek();
      if (close.kind === "end") {
        throw queryError("filter", this.source, token.position, 'expected ")" to close this "("', {
          details: { expected: ")" },
        });
      }
      if (close.kind !== ")") this.failJoiner(close, true);
      this.advance();
      this.depth -= 1;
      return inner;
    }
    if (token.kind === "field" || (token.kind === "word" && !isKeyword(token))) return this.parseComparison();
    const keywordField = isKeyword(token) && this.tokens[this.index + 1]?.kind === "op";
    this.fail("a comparison", "comparison", keywordField ? "put a field named like a keyword in backticks" : undefined);
  }

  private parseComparison(): ComparisonNode {
    const fieldToken = this.advance();
    const field = fieldToken.value;
    if (fieldToken.kind === "field") {
      if (field === "") {
        throw queryError("filter", this.source, fieldToken.position, "empty field name", {
          details: { expected: "field" },
        });
      }
    } else {
      const bad = badFieldChar(field);
      if (bad) {
        throw queryError("filter", this.source, fieldToken.position + bad.offset, `unexpected ${JSON.stringify(bad.char)} in field name ${JSON.stringify(field)}`, {
          hint: "field names use letters, digits, _, - and .; put other names in backticks",
          details: { expected: "field" },
        });
      }
    }
    const opToken = this.peek();
    if (opToken.kind !== "op") this.fail(`an operator (${OPERATOR_LIST})`, "operator");
    this.advance();
    const { value, text } = this.parseValue();
    return {
      kind: "compare",
      field,
      op: opToken.value as ComparisonOperator,
      value,
      text,
      position: fieldToken.position,
      source: this.source,
    };
  }

  private parseValue(): { value: QueryValue; text: string } {
    const token = this.peek();
    if (token.kind === "string") {
      this.advance();
      return { value: token.value, text: token.value };
    }
    if (token.kind !== "word" || isKeyword(token)) {
      this.fail(
        "a value",
        "value",
        isKeyword(token) ? `to compare with the word ${token.value}, quote it: "${token.value}"` : undefined,
      );
    }
    this.advance();
    const text = token.value;
    const lower = text.toLowerCase();
    if (lower === "true") return { value: true, text };
    if (lower === "false") return { value: false, text };
    if (lower === "null") return { value: null, text };
    const number = parseNumber(text);
    return { value: number ?? text, text };
  }
}

/**
 * Parses one filter. Comparisons are `FIELD OP VALUE` with OP one of `=` (or `==`), `!=`, `<`,
 * `<=`, `>`, `>=`, `~` (contains, case-insensitive); joined with `and`, `or`, `not`
 * (case-insensitive) and parentheses; `and` binds tighter than `or`.
 *
 * VALUE is a number (`0.01`, `1e-3`, `-2`, `nan`, `inf`), `true`/`false`/`null`, a quoted string
 * (`"ana smith"`, `'x'`, backslash escapes) or any other bare word (`running`, `resnet-50`,
 * `2026-01-01`). Quote a value to keep it a string, or to use the words and/or/not.
 * FIELD is letters, digits, `_`, `-`, `.`; or any text in backticks: `` `params.learning rate` ``.
 *
 * Throws CairnError INVALID_FILTER whose message quotes the filter, names the column, draws a
 * caret and says what was expected; `details.position` is the 0-based offset.
 *
 * @example
 * parseFilter("status = running and (params.lr < 1e-3 or user ~ ana)");
 * parseFilter("params.lr <"); // throws: Invalid filter "params.lr <": expected a value after "<" at column 11
 */
export function parseFilter(text: string): FilterExpression {
  if (typeof text !== "string") {
    throw queryError("filter", String(text), 0, `a filter must be a string, not ${typeof text}`);
  }
  return new Parser(text).parse();
}

/**
 * Parses several filters (the CLI's `--filter` is repeatable) and combines them with AND.
 * Blank strings are ignored; with none left the result is null (everything matches). An error
 * carries `details.index`, the index of the filter that failed.
 *
 * @example
 * const e = parseFilters(["status = running", "metrics.loss < 0.5"]);
 * rows.filter((row) => e === null || matchesFilter(e, row));
 */
export function parseFilters(texts: readonly string[]): FilterExpression | null {
  const operands: FilterExpression[] = [];
  texts.forEach((text, index) => {
    if (typeof text === "string" && text.trim() === "") return;
    let expression: FilterExpression;
    try {
      expression = parseFilter(text);
    } catch (error) {
      if (isCairnError(error)) error.details.index = index;
      throw error;
    }
    if (expression.kind === "and") operands.push(...expression.operands);
    else operands.push(expression);
  });
  if (operands.length === 0) return null;
  return operands.length === 1 ? (operands[0] as FilterExpression) : { kind: "and", operands };
}

/**
 * The distinct fields an expression names, in order of first appearance.
 *
 * @example
 * filterFields(parseFilter("params.lr < 1 or (status = running and params.lr > 0)")); // ["params.lr", "status"]
 */
export function filterFields(expression: FilterExpression): string[] {
  const seen = new Set<string>();
  const visit = (node: FilterExpression): void => {
    if (node.kind === "compare") seen.add(node.field);
    else if (node.kind === "not") visit(node.operand);
    else node.operands.forEach(visit);
  };
  visit(expression);
  return [...seen];
}
