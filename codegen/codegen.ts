// GraphQL Code Generator: one typed client module per audience, from that audience's schema
// (printed by `platform-api print-schema --audience …`) and the operations its frontend sends.
// `npm run generate` writes generated/portal.ts and generated/operator.ts; never edit them.
import type { CodegenConfig } from '@graphql-codegen/cli';

export const scalars = {
  // IDs are opaque global ids (base64 strings).
  ID: { input: 'string', output: 'string' },
  // RFC 3339 timestamps, e.g. "2026-01-31T12:00:00Z".
  DateTime: { input: 'string', output: 'string' },
  // Money minor units and other 64-bit integers, sent as JSON numbers.
  Long: { input: 'number', output: 'number' },
  // Free-form JSON objects (contact and billing details, audit details).
  JSON: { input: 'unknown', output: 'unknown' },
};

export const pluginConfig = {
  scalars,
  strictScalars: true,
  enumsAsTypes: true,
  useTypeImports: true,
  avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
  documentMode: 'documentNode',
};

const audience = (name: 'portal' | 'operator') => ({
  schema: `schema.${name}.graphql`,
  documents: `operations/${name}/*.graphql`,
  // typescript-operations 6 emits the enums, inputs and scalars the operations use itself, so the
  // separate `typescript` plugin (all schema types) is not needed and would duplicate them.
  plugins: ['typescript-operations', 'typed-document-node'],
  config: pluginConfig,
});

const config: CodegenConfig = {
  overwrite: true,
  emitLegacyCommonJSImports: false,
  generates: {
    'generated/portal.ts': audience('portal'),
    'generated/operator.ts': audience('operator'),
  },
};

export default config;
