// The GraphQL-over-HTTP conformance audit of the `graphql-http` package (`serverAudits`),
// run against the real server binary: every audit must pass; a failure (MUST) or a warning
// (SHOULD) fails the test. Notices (MAY) are listed but do not fail it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { serverAudits, type AuditResult } from 'graphql-http';

import { Server } from './server.ts';

let server: Server;

before(async () => {
  server = await Server.start();
});

after(async () => {
  await server?.stop();
});

async function describe(result: AuditResult): Promise<string> {
  if (result.status === 'ok') return `ok      ${result.name}`;
  let body = '';
  try {
    body = await result.response.clone().text();
  } catch {
    // body already read
  }
  return `${result.status.padEnd(7)} ${result.name}: ${result.reason}\n        ${result.response.status} ${body.slice(0, 300)}`;
}

test('graphql-http serverAudits: no failure and no warning', async () => {
  const audits = serverAudits({ url: server.url, fetchFn: fetch });
  assert.ok(audits.length > 30, `the audit list is complete (${audits.length})`);
  const results: AuditResult[] = [];
  for (const audit of audits) results.push(await audit.fn());
  const lines = await Promise.all(results.map(describe));
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  for (const r of results) counts[r.status] += 1;
  console.log(`graphql-http audit: ${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ${counts.error} failures`);
  const bad = lines.filter((_, i) => results[i].status === 'warn' || results[i].status === 'error');
  const notices = lines.filter((_, i) => results[i].status === 'notice');
  if (notices.length) console.log(notices.join('\n'));
  assert.deepEqual(bad, [], `audits that failed or warned:\n${bad.join('\n')}`);
});
