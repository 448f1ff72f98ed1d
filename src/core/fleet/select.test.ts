import { describe, expect, it } from 'vitest';
import { matchesSelector } from './select.ts';

describe('matchesSelector', () => {
  const cases: Array<{ name: string; labels: Record<string, string>; selector: Record<string, string | string[]>; want: boolean }> = [
    { name: 'empty selector matches every host', labels: { env: 'prod' }, selector: {}, want: true },
    { name: 'every key must match', labels: { env: 'prod', zone: 'a' }, selector: { env: 'prod', zone: 'a' }, want: true },
    { name: 'one key differs', labels: { env: 'prod', zone: 'b' }, selector: { env: 'prod', zone: 'a' }, want: false },
    { name: 'missing label does not match', labels: { env: 'prod' }, selector: { zone: 'a' }, want: false },
    { name: 'list means any of', labels: { zone: 'b' }, selector: { zone: ['a', 'b'] }, want: true },
    { name: 'list without the value', labels: { zone: 'c' }, selector: { zone: ['a', 'b'] }, want: false },
    { name: 'prototype names are not labels', labels: {}, selector: { constructor: 'x' }, want: false },
  ];
  for (const c of cases) {
    it(c.name, () => expect(matchesSelector(c.labels, c.selector)).toBe(c.want));
  }
});
