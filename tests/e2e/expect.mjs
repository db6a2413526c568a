// Field-by-field comparison that reports every mismatch of an object at once, so one failing
// test says exactly which fields the server got wrong.

import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { ISO_MS_RE, normMeta } from './harness.mjs';

const MATCHER = Symbol('matcher');

function matcher(describe, check) {
  return { [MATCHER]: true, describe, check };
}

/** Any ISO-8601 UTC timestamp with exactly millisecond precision. */
export const isIso = matcher('an ISO timestamp YYYY-MM-DDTHH:mm:ss.sssZ', (v) => typeof v === 'string' && ISO_MS_RE.test(v));

/** ISO timestamp between two epoch-ms bounds (inclusive). */
export function isoBetween(lo, hi) {
  return matcher(`an ISO timestamp within [${new Date(lo).toISOString()}, ${new Date(hi).toISOString()}]`,
    (v) => typeof v === 'string' && ISO_MS_RE.test(v) && Date.parse(v) >= lo && Date.parse(v) <= hi);
}

/** A number within eps of x. */
export function near(x, eps = 0.002) {
  return matcher(`a number within ${eps} of ${x}`, (v) => typeof v === 'number' && Math.abs(v - x) <= eps);
}

export function ofType(t) {
  return matcher(`a value of type ${t}`, (v) => typeof v === t);
}

/** Metadata compared after normMeta (top-level string values re-parsed as JSON). */
export function meta(expected) {
  return matcher(`metadata semantically equal to ${JSON.stringify(expected)}`, (v) => isDeepStrictEqual(normMeta(v), normMeta(expected)));
}

/** An object containing at least these key/values (deep-equal per key). */
export function containing(expected) {
  return matcher(`an object containing ${JSON.stringify(expected)}`,
    (v) => v !== null && typeof v === 'object' && Object.entries(expected).every(([k, x]) => isDeepStrictEqual(v[k], x)));
}

function fmt(v) {
  if (v === undefined) return 'undefined (missing)';
  const s = JSON.stringify(v);
  return s.length > 400 ? s.slice(0, 400) + '…' : s;
}

/** Collects mismatches of obj against exp (plain values deep-equal; matchers checked). */
export function mismatches(obj, exp, ctx) {
  const out = [];
  if (obj === null || typeof obj !== 'object') {
    return [`${ctx}: expected an object, got ${fmt(obj)}`];
  }
  for (const [k, want] of Object.entries(exp)) {
    const got = obj[k];
    if (want && want[MATCHER]) {
      if (!want.check(got)) out.push(`${ctx}.${k}: expected ${want.describe}, got ${fmt(got)}`);
    } else if (!isDeepStrictEqual(got, want)) {
      out.push(`${ctx}.${k}: expected ${fmt(want)}, got ${fmt(got)}`);
    }
  }
  return out;
}

/** Asserts every expectation; one AssertionError lists all mismatches. */
export function expectFields(obj, exp, ctx) {
  const m = mismatches(obj, exp, ctx);
  if (m.length) assert.fail(`${m.length} field mismatch(es):\n  ` + m.join('\n  '));
}

/** Runs several expectFields and fails once with all mismatches. */
export function expectAll(checks) {
  const all = [];
  for (const [obj, exp, ctx] of checks) all.push(...mismatches(obj, exp, ctx));
  if (all.length) assert.fail(`${all.length} field mismatch(es):\n  ` + all.join('\n  '));
}
