/**
 * Compares a lesson's expected output with what its program printed.
 *
 * The expected text is read line by line. Inside a line, the markers `<int>`,
 * `<num>`, `<pid>` and `<any>` stand for varying text; a line `...` stands for
 * zero or more whole lines; the lines between `<unordered>` and
 * `</unordered>` match as many actual lines in any order. Everything else is
 * literal. Trailing whitespace and trailing empty lines are ignored on both
 * sides. See lessons/_runner/README.md.
 *
 * Pure TypeScript with no imports, so that `bun test` can load it as it is.
 *
 * @module
 */

/** What each marker inside a line stands for, as a regular expression. */
export const MARKERS: Readonly<Record<string, string>> = {
  "<int>": "-?\\d+",
  "<num>": "-?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?",
  "<pid>": "[1-9]\\d*",
  "<any>": ".*?",
};

/** A line of the expected output that matches one actual line. */
export interface ExpectedLine {
  /** Index of this line among the expected lines (0-based). */
  index: number;
  /** The line as written in the lesson. */
  text: string;
  /** The line as an anchored regular expression. */
  pattern: RegExp;
}

/** One step of the expected output. */
export type ExpectedItem =
  | { kind: "line"; line: ExpectedLine }
  | { kind: "skip"; index: number }
  | { kind: "unordered"; index: number; lines: ExpectedLine[] };

/** Where the expected output and the actual output part ways. */
export interface Mismatch {
  /** Index (0-based) of the expected line at fault; `null` when the expected lines had all been used. */
  expectedIndex: number | null;
  /** Index (0-based) of the actual line at fault; `null` when the actual lines had all been used. */
  actualIndex: number | null;
  /** What went wrong, in words, with 1-based line numbers. */
  reason: string;
}

/** The outcome of {@linkcode matchOutput}. */
export interface MatchResult {
  ok: boolean;
  /** The expected lines, normalised as they were compared. */
  expected: string[];
  /** The actual lines, normalised as they were compared. */
  actual: string[];
  /** Why they differ (the mismatch furthest into the actual output); `null` when `ok`. */
  mismatch: Mismatch | null;
}

/** Thrown by {@linkcode compileExpected} when the expected output is malformed. */
export class ExpectedFormatError extends Error {
  /** Index (0-based) of the offending expected line. */
  readonly index: number;
  constructor(message: string, index: number) {
    super(message);
    this.name = "ExpectedFormatError";
    this.index = index;
  }
}

/** Splits text into lines, without trailing whitespace and without trailing empty lines. */
export function splitLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n").map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

const MARKER_SPLIT = new RegExp(`(${Object.keys(MARKERS).join("|")})`);

/**
 * Turns one expected line into an anchored regular expression. Trailing
 * spaces and tabs are allowed, so that `Error: <any>` matches `Error: `.
 */
export function linePattern(text: string): RegExp {
  const source = text.split(MARKER_SPLIT).map((part, i) =>
    i % 2 === 1 ? MARKERS[part] : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("");
  return new RegExp(`^${source}[ \\t]*$`);
}

/** Reads expected output into the steps the matcher follows. */
export function compileExpected(lines: readonly string[]): ExpectedItem[] {
  const items: ExpectedItem[] = [];
  let open: { index: number; lines: ExpectedLine[] } | null = null;
  lines.forEach((text, index) => {
    if (text === "<unordered>") {
      if (open) {
        throw new ExpectedFormatError(
          `Line ${index + 1}: <unordered> blocks cannot nest (one opened at line ${
            open.index + 1
          })`,
          index,
        );
      }
      open = { index, lines: [] };
    } else if (text === "</unordered>") {
      if (!open) {
        throw new ExpectedFormatError(`Line ${index + 1}: </unordered> without <unordered>`, index);
      }
      items.push({ kind: "unordered", index: open.index, lines: open.lines });
      open = null;
    } else if (text === "...") {
      if (open) {
        throw new ExpectedFormatError(
          `Line ${index + 1}: '...' is not allowed inside <unordered>`,
          index,
        );
      }
      items.push({ kind: "skip", index });
    } else {
      const line = { index, text, pattern: linePattern(text) };
      if (open) open.lines.push(line);
      else items.push({ kind: "line", line });
    }
  });
  if (open !== null) {
    const { index } = open;
    throw new ExpectedFormatError(`Line ${index + 1}: <unordered> is never closed`, index);
  }
  return items;
}

/**
 * Pairs every expected line with a distinct actual line it matches (a
 * bipartite matching, so overlapping markers cannot mislead it). Returns
 * `null` when all pair up, else an expected line left over and an actual line
 * left over.
 */
function pairUp(
  expected: readonly ExpectedLine[],
  actual: readonly string[],
): { expected: ExpectedLine; actual: number } | null {
  const owner: (number | null)[] = actual.map(() => null);
  const fits = expected.map((line) => actual.map((text) => line.pattern.test(text)));
  const place = (e: number, seen: boolean[]): boolean => {
    for (let a = 0; a < actual.length; a++) {
      if (!fits[e][a] || seen[a]) continue;
      seen[a] = true;
      const previous = owner[a];
      if (previous === null || place(previous, seen)) {
        owner[a] = e;
        return true;
      }
    }
    return false;
  };
  const unplaced = expected.findIndex((_, e) => !place(e, actual.map(() => false)));
  if (unplaced === -1) return null;
  // Place the rest too, so that the actual line named is one no expected line can take.
  for (let e = unplaced + 1; e < expected.length; e++) place(e, actual.map(() => false));
  return { expected: expected[unplaced], actual: Math.max(0, owner.indexOf(null)) };
}

/** Compares the expected output of a lesson with the actual output of its program. */
export function matchOutput(expectedText: string, actualText: string): MatchResult {
  const expected = splitLines(expectedText);
  const actual = splitLines(actualText);
  // Patterns are tried on the lines as printed: `x: <any>` must match a printed `x: `.
  const printed = actualText.replace(/\r\n?/g, "\n").split("\n").slice(0, actual.length);
  let items: ExpectedItem[];
  try {
    items = compileExpected(expected);
  } catch (error) {
    if (!(error instanceof ExpectedFormatError)) throw error;
    const reason = `The expected output is malformed: ${error.message}`;
    return {
      ok: false,
      expected,
      actual,
      mismatch: { expectedIndex: error.index, actualIndex: null, reason },
    };
  }

  // The mismatch reached furthest into the actual output (then into the expected) explains best.
  let worst: Mismatch | null = null;
  const note = (expectedIndex: number | null, actualIndex: number | null, reason: string) => {
    const depth = (
      m: Mismatch,
    ) => [m.actualIndex ?? actual.length, m.expectedIndex ?? expected.length];
    const candidate = { expectedIndex, actualIndex, reason };
    if (worst === null) worst = candidate;
    else {
      const [a1, e1] = depth(candidate);
      const [a0, e0] = depth(worst);
      if (a1 > a0 || (a1 === a0 && e1 > e0)) worst = candidate;
    }
  };

  const memo = new Map<number, boolean>();
  const from = (i: number, j: number): boolean => {
    const key = i * (actual.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result = false;
    if (i === items.length) {
      result = j === actual.length;
      if (!result) note(null, j, `Unexpected output from actual line ${j + 1} on`);
    } else {
      const item = items[i];
      if (item.kind === "line") {
        if (j === actual.length) {
          note(
            item.line.index,
            null,
            `The output ended before expected line ${item.line.index + 1}`,
          );
        } else if (!item.line.pattern.test(printed[j])) {
          note(
            item.line.index,
            j,
            `Expected line ${item.line.index + 1} does not match actual line ${j + 1}`,
          );
        } else {
          result = from(i + 1, j + 1);
        }
      } else if (item.kind === "skip") {
        for (let k = j; k <= actual.length && !result; k++) result = from(i + 1, k);
      } else {
        const count = item.lines.length;
        if (j + count > actual.length) {
          note(
            item.lines[0]?.index ?? item.index,
            null,
            `The output ended inside the <unordered> block at expected line ${item.index + 1} ` +
              `(${count} lines expected, ${actual.length - j} left)`,
          );
        } else {
          const leftOver = pairUp(item.lines, printed.slice(j, j + count));
          if (leftOver === null) result = from(i + 1, j + count);
          else {
            note(
              leftOver.expected.index,
              j + leftOver.actual,
              `Expected line ${leftOver.expected.index + 1} (in the <unordered> block at line ${
                item.index + 1
              }) ` +
                `matches none of the unclaimed actual lines ${j + 1}-${j + count}`,
            );
          }
        }
      }
    }
    memo.set(key, result);
    return result;
  };

  const ok = from(0, 0);
  return { ok, expected, actual, mismatch: ok ? null : worst };
}
