import fc from "fast-check";
import t from "tap";
import { blockedTermForm, normalizeContent } from "../../services/policy/content.ts";

/** Characters that each exercise a step: case, confusables, leetspeak, invisibles, marks, symbols. */
const tricky = fc.constantFrom(
  ...("aAmMiI10$+ -.ßΣσςЅаеοⅰﬁｆ\u200B\u00AD\u0301\u202E\uFE0F😀é€★".match(/./gu) as string[]),
  "𝐟",
  "\u{E0062}",
);
const text = fc
  .array(fc.oneof(fc.string({ unit: "binary-ascii", maxLength: 4 }), tricky), { maxLength: 30 })
  .map((parts) => parts.join(""));

t.test("input folded run by run (ASCII through a table) reads as the whole text folded at once", async (t) => {
  fc.assert(
    fc.property(text, (input) => {
      const whole = blockedTermForm(input); // one fold of the whole string
      const parts = normalizeContent(input).split("\n");
      return parts.at(-1) === whole || (parts.length === 1 && parts[0] === whole);
    }),
    { numRuns: 20_000 },
  );
  t.pass("property held");
});

const separators = fc.constantFrom(" ", ".", "-", "_", "\n", "\u200B", "\u00AD", "\u2060", "\u202E", "\uFE0F");
const words = fc.stringMatching(/^[a-z]{3,12}( [a-z]{3,12}){0,2}$/);

t.test("a term is found with separators or invisible characters put anywhere inside it", async (t) => {
  fc.assert(
    fc.property(words, fc.array(fc.tuple(fc.nat(), separators), { maxLength: 6 }), text, (term, cuts, around) => {
      const chars = [...term];
      for (const [at, separator] of cuts) chars.splice(at % (chars.length + 1), 0, separator);
      const input = `${around} ${chars.join("").toUpperCase()} ${around}`;
      return normalizeContent(input).includes(blockedTermForm(term));
    }),
    { numRuns: 5_000 },
  );
  t.pass("property held");
});

t.test("a term of separators only matches nothing; a term with a symbol keeps it", async (t) => {
  t.equal(blockedTermForm(" -- "), "");
  t.equal(blockedTermForm("C++"), "c++");
  t.ok(normalizeContent("I write C++ daily").includes(blockedTermForm("C++")));
  t.notOk(normalizeContent("I write C daily").includes(blockedTermForm("C++")));
});
