// Writes load/report/result.schema.json from the format's description in schema.ts:
//   node load/report/write-schema.ts
import { writeFileSync } from 'node:fs'
import { resultJsonSchema } from './schema.ts'

export const resultSchemaFile = new URL('./result.schema.json', import.meta.url)

export function resultSchemaText(): string {
  return JSON.stringify(resultJsonSchema, null, 2) + '\n'
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) writeFileSync(resultSchemaFile, resultSchemaText())
