/**
 * Preload for a control plane (`node --require <this>`): counts every query the process sends, by
 * statement name (or its first 60 characters), and on SIGUSR2 writes the counts since the last
 * signal to $COUNT_QUERIES_OUT and starts over. Used by api-reactions.ts; no effect elsewhere.
 */
/* global require, process, __filename */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload for `node --require` */
'use strict';
const { createRequire } = require('node:module');
const { writeFileSync } = require('node:fs');
const out = process.env.COUNT_QUERIES_OUT;
if (out) {
  const req = createRequire(process.argv[1] ?? __filename);
  const pg = req('pg');
  const counts = new Map();
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (q, ...rest) {
    const key = typeof q === 'string' ? q : (q && (q.name || q.text)) || '?';
    const k = key.replace(/\s+/g, ' ').slice(0, 60);
    counts.set(k, (counts.get(k) || 0) + 1);
    return original.call(this, q, ...rest);
  };
  process.on('SIGUSR2', () => {
    writeFileSync(out, JSON.stringify(Object.fromEntries(counts)));
    counts.clear();
  });
}
