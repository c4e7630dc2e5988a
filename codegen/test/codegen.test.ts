// Type generation itself: the checked-in generated files are current, and an operation that
// asks the portal schema for an operator-only field fails generation (while the same
// operation generates against the operator schema).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { generate } from '@graphql-codegen/cli';

import config, { pluginConfig } from '../codegen.ts';

const codegenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Generates one file from `schema` and `documents` in memory (nothing is written). */
async function generateOne(schema: string, documents: string): Promise<string> {
  const [output] = await generate(
    {
      cwd: codegenDir,
      silent: true,
      generates: {
        'out.ts': {
          schema,
          documents,
          plugins: ['typescript-operations', 'typed-document-node'],
          config: pluginConfig,
        },
      },
    },
    false,
  );
  return output.content;
}

test('generated/portal.ts and generated/operator.ts are current', async () => {
  const outputs = await generate({ ...config, cwd: codegenDir, silent: true }, false);
  assert.equal(outputs.length, 2);
  for (const { filename, content } of outputs) {
    const checkedIn = readFileSync(path.join(codegenDir, filename), 'utf8');
    assert.ok(checkedIn === content, `${filename} is stale: run \`npm run generate\` in codegen/`);
  }
});

function withOperation(source: string, run: (documents: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'codegen-op-'));
  writeFileSync(path.join(dir, 'op.graphql'), source);
  return run(path.join(dir, '*.graphql')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

for (const [what, source, hidden] of [
  ['an operator-only query field', 'query Status { systemStatus { environment } }', 'Cannot query field "systemStatus" on type "Query"'],
  [
    'an operator-only mutation',
    'mutation P { createPartner(input: { slug: "p-two", name: "Two" }) { partner { slug } } }',
    'Cannot query field "createPartner" on type "Mutation"',
  ],
  [
    'an operator-only input field',
    'mutation Move($partner: String) { updateTenant(input: { tenant: "acme", partner: $partner }) { tenant { slug } } }',
    'Field "partner" is not defined by type "UpdateTenantInput"',
  ],
] as const) {
  test(`a portal operation asking for ${what} fails type generation`, async () => {
    await withOperation(source, async (documents) => {
      await assert.rejects(generateOne('schema.portal.graphql', documents), (error: unknown) => {
        const message = String((error as { message?: string }).message ?? error);
        assert.ok(message.includes('Validation failed'), message);
        assert.ok(message.includes(hidden), `expected «${hidden}» in: ${message}`);
        return true;
      });
      // The same operation is valid for the operator console.
      const content = await generateOne('schema.operator.graphql', documents);
      assert.match(content, /Document = /);
    });
  });
}
