/**
 * The lesson runner's output matcher (lessons/_runner/match.ts): markers,
 * `...`, `<unordered>` blocks, and where it says the first mismatch is.
 * Pure, so it runs under `deno test` and `bun test` alike.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  compileExpected,
  ExpectedFormatError,
  linePattern,
  matchOutput,
  splitLines,
} from "../lessons/_runner/match.ts";

const matches = (expected: string, actual: string): boolean => matchOutput(expected, actual).ok;

describe("lesson matcher: lines", () => {
  test("splitLines() drops trailing whitespace and trailing empty lines, keeps leading space", () => {
    assert.deepEqual(splitLines("  a  \r\nb\t\n\n\n"), ["  a", "b"]);
    assert.deepEqual(splitLines(""), []);
    assert.deepEqual(splitLines("\n\na\n"), ["", "", "a"]);
  });

  test("plain lines match literally, line by line", () => {
    assert.ok(matches("hello\nworld", "hello\nworld\n"));
    assert.ok(matches("hello  \nworld\n\n", "hello\nworld   \n"));
    assert.ok(!matches("hello\nworld", "hello\nWorld"));
    assert.ok(!matches("hello", " hello"), "leading whitespace counts");
    assert.ok(!matches("hello", "hello\nmore"));
    assert.ok(!matches("hello\nmore", "hello"));
    assert.ok(matches("", "\n\n"));
  });

  test("regular expression characters in a line are literal", () => {
    assert.ok(matches("a.b (c) [d] $1 ^x* y+? {2} | \\", "a.b (c) [d] $1 ^x* y+? {2} | \\"));
    assert.ok(!matches("a.b", "aXb"));
    assert.ok(!matches("(c)*", "(c)(c)"));
  });

  test("text in angle brackets that is not a marker is literal", () => {
    assert.ok(matches("<Buffer 01> <foo>", "<Buffer 01> <foo>"));
    assert.ok(!matches("<foo>", "bar"));
  });
});

describe("lesson matcher: markers", () => {
  test("<int> matches an integer, optionally negative", () => {
    for (const n of ["0", "42", "-7", "123456789012"]) assert.ok(matches("n=<int>;", `n=${n};`), n);
    for (const n of ["", "1.5", "+3", "x", "1e3", "- 1"]) {
      assert.ok(!matches("n=<int>;", `n=${n};`), n);
    }
  });

  test("<num> matches any decimal number", () => {
    for (const n of ["0", "-2", "3.14", "-0.5", ".5", "10.", "1e21", "2.5e-7"]) {
      assert.ok(matches("took <num> ms", `took ${n} ms`), n);
    }
    for (const n of ["", "abc", "1.2.3", "NaN", "1,5"]) {
      assert.ok(!matches("took <num> ms", `took ${n} ms`), n);
    }
  });

  test("<pid> matches a positive integer", () => {
    for (const n of ["1", "4242", "999999"]) assert.ok(matches("pid <pid>", `pid ${n}`), n);
    for (const n of ["0", "-1", "007", "null", ""]) assert.ok(!matches("pid <pid>", `pid ${n}`), n);
  });

  test("<any> matches any text within one line, even none", () => {
    assert.ok(matches("Error: <any>", "Error: boom at file:///x.ts:1:2"));
    assert.ok(matches("Error: <any>", "Error: "));
    assert.ok(matches("a<any>b<any>c", "a-b-b-c"));
    assert.ok(!matches("Error: <any>", "Error: one\ntwo"));
    assert.ok(!matches("<any>x", "xy"));
  });

  test("several markers in one line", () => {
    assert.ok(
      matches("<pid> sent <int> items in <num>s: <any>", "812 sent -3 items in 0.25s: ok, done"),
    );
    assert.equal(linePattern("a <int> b").source, "^a -?\\d+ b[ \\t]*$");
  });
});

describe("lesson matcher: '...'", () => {
  test("matches zero or more whole lines", () => {
    assert.ok(matches("start\n...\nend", "start\nend"));
    assert.ok(matches("start\n...\nend", "start\n1\n2\n3\nend"));
    assert.ok(matches("...\nend", "a\nb\nend"));
    assert.ok(matches("start\n...", "start"));
    assert.ok(matches("start\n...", "start\nx\ny"));
    assert.ok(matches("...", ""));
    assert.ok(!matches("start\n...\nend", "start\n1\n2"));
  });

  test("backtracks to find the right lines", () => {
    assert.ok(matches("...\nx <int>\n...\nx 2\ndone", "x 1\nx 2\nx 3\nx 2\ndone"));
    assert.ok(matches("a\n...\nb\n...\nb", "a\nb\nc\nb"));
  });

  test("only a line that is exactly '...' skips", () => {
    assert.ok(!matches("  ...", "anything"));
    assert.ok(matches("wait...", "wait..."));
  });
});

describe("lesson matcher: <unordered>", () => {
  test("matches the same number of lines in any order", () => {
    const expected =
      "begin\n<unordered>\nworker 1 done\nworker 2 done\nworker 3 done\n</unordered>\nend";
    assert.ok(matches(expected, "begin\nworker 2 done\nworker 3 done\nworker 1 done\nend"));
    assert.ok(matches(expected, "begin\nworker 1 done\nworker 2 done\nworker 3 done\nend"));
    assert.ok(!matches(expected, "begin\nworker 2 done\nworker 1 done\nend"), "one line short");
    assert.ok(
      !matches(expected, "begin\nworker 2 done\nworker 1 done\nworker 1 done\nend"),
      "a line twice",
    );
    assert.ok(
      !matches(expected, "begin\nworker 2 done\nworker 1 done\nworker 3 done\nworker 4 done\nend"),
      "a line too many",
    );
  });

  test("markers inside, each expected line taking a different actual line", () => {
    const expected = "<unordered>\n<any>\nchild <pid> says hi\n</unordered>";
    // A greedy pairing would give "child 12 says hi" to <any> and fail.
    assert.ok(matches(expected, "child 12 says hi\nparent waits"));
    assert.ok(matches(expected, "parent waits\nchild 12 says hi"));
    assert.ok(!matches(expected, "parent waits\nparent waits"));
    assert.ok(matches("<unordered>\n<int>\n<int>\n7\n</unordered>", "7\n-1\n3"));
  });

  test("repeated expected lines need as many actual lines", () => {
    assert.ok(matches("<unordered>\nx\nx\ny\n</unordered>", "x\ny\nx"));
    assert.ok(!matches("<unordered>\nx\nx\ny\n</unordered>", "x\ny\ny"));
  });

  test("works beside '...'", () => {
    assert.ok(matches("...\n<unordered>\nb\na\n</unordered>\n...", "x\na\nb\ny"));
    assert.ok(matches("<unordered>\n</unordered>\nz", "z"));
  });
});

describe("lesson matcher: where the first mismatch is", () => {
  test("a differing line is marked on both sides", () => {
    const result = matchOutput("one\ntwo <int>\nthree", "one\ntwo x\nthree");
    assert.equal(result.ok, false);
    assert.equal(result.mismatch?.expectedIndex, 1);
    assert.equal(result.mismatch?.actualIndex, 1);
    assert.match(result.mismatch?.reason ?? "", /expected line 2 does not match actual line 2/i);
  });

  test("output that ends early points past the actual lines", () => {
    const result = matchOutput("one\ntwo\nthree", "one\ntwo");
    assert.equal(result.mismatch?.expectedIndex, 2);
    assert.equal(result.mismatch?.actualIndex, null);
    assert.match(result.mismatch?.reason ?? "", /ended before expected line 3/);
  });

  test("extra output points past the expected lines", () => {
    const result = matchOutput("one", "one\nextra");
    assert.equal(result.mismatch?.expectedIndex, null);
    assert.equal(result.mismatch?.actualIndex, 1);
    assert.match(result.mismatch?.reason ?? "", /unexpected output from actual line 2/i);
  });

  test("after '...' the mismatch furthest into the output is reported", () => {
    const result = matchOutput("a\n...\nend", "a\nb\nc");
    assert.equal(result.ok, false);
    assert.equal(result.mismatch?.expectedIndex, 2);
    assert.equal(result.mismatch?.actualIndex, null);
  });

  test("an <unordered> line that finds no partner is named", () => {
    const result = matchOutput("<unordered>\na\nb\nc\n</unordered>", "c\nx\na");
    assert.equal(result.mismatch?.expectedIndex, 2);
    assert.equal(result.mismatch?.actualIndex, 1);
    assert.match(
      result.mismatch?.reason ?? "",
      /expected line 3 \(in the <unordered> block at line 1\)/i,
    );
  });

  test("a match reports the normalised lines and no mismatch", () => {
    const result = matchOutput("a  \n\n", "a\n");
    assert.deepEqual(result, { ok: true, expected: ["a"], actual: ["a"], mismatch: null });
  });
});

describe("lesson matcher: malformed expected output", () => {
  const malformed: [string, RegExp, number][] = [
    ["a\n<unordered>\nb", /line 2: <unordered> is never closed/i, 1],
    ["<unordered>\n<unordered>\n</unordered>", /cannot nest/, 1],
    ["<unordered>\n...\n</unordered>", /'\.\.\.' is not allowed inside <unordered>/, 1],
    ["a\n</unordered>", /line 2: <\/unordered> without <unordered>/i, 1],
  ];
  for (const [expected, message, index] of malformed) {
    test(`${JSON.stringify(expected)} is rejected with its line`, () => {
      assert.throws(() => compileExpected(splitLines(expected)), (error: unknown) => {
        assert.ok(error instanceof ExpectedFormatError);
        assert.match(error.message, message);
        assert.equal(error.index, index);
        return true;
      });
      const result = matchOutput(expected, "a\nb");
      assert.equal(result.ok, false);
      assert.match(result.mismatch?.reason ?? "", /^The expected output is malformed: /);
      assert.equal(result.mismatch?.expectedIndex, index);
    });
  }
});
