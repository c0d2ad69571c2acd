// Writes weft's protobuf schema table (src/api/protobuf/messages/*.ts) from upstream's
// facts: message and field numbers from the generated.proto files of kubernetes/api and
// kubernetes/apimachinery, JSON names, inlining and whether a zero is kept from the Go
// struct tags beside them. Run it when a Kubernetes release adds fields:
//
//   node scripts/protobuf-schema.ts API_DIR APIMACHINERY_DIR TAG
//
// where the two directories are checkouts of github.com/kubernetes/api and
// github.com/kubernetes/apimachinery at the same release tag (v0.36.3 for the table in the
// repository), named as TAG in the files' headers.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Upstream package directory → weft's table prefix, for every package weft serves or refers to. */
const packages: { repo: 'api' | 'apimachinery'; dir: string; prefix: string; file: string }[] = [
  { repo: 'apimachinery', dir: 'pkg/apis/meta/v1', prefix: 'meta.v1', file: 'meta-v1' },
  { repo: 'apimachinery', dir: 'pkg/runtime', prefix: 'runtime', file: 'runtime' },
  { repo: 'apimachinery', dir: 'pkg/util/intstr', prefix: 'intstr', file: 'intstr' },
  { repo: 'apimachinery', dir: 'pkg/api/resource', prefix: 'resource', file: 'resource' },
  { repo: 'api', dir: 'core/v1', prefix: 'core.v1', file: 'core-v1' },
  { repo: 'api', dir: 'apps/v1', prefix: 'apps.v1', file: 'apps-v1' },
  { repo: 'api', dir: 'batch/v1', prefix: 'batch.v1', file: 'batch-v1' },
  { repo: 'api', dir: 'policy/v1', prefix: 'policy.v1', file: 'policy-v1' },
  { repo: 'api', dir: 'autoscaling/v1', prefix: 'autoscaling.v1', file: 'autoscaling-v1' },
  { repo: 'api', dir: 'autoscaling/v2', prefix: 'autoscaling.v2', file: 'autoscaling-v2' },
  { repo: 'api', dir: 'networking/v1', prefix: 'networking.v1', file: 'networking-v1' },
  { repo: 'api', dir: 'discovery/v1', prefix: 'discovery.v1', file: 'discovery-v1' },
  { repo: 'api', dir: 'coordination/v1', prefix: 'coordination.v1', file: 'coordination-v1' },
  { repo: 'api', dir: 'rbac/v1', prefix: 'rbac.v1', file: 'rbac-v1' },
  { repo: 'api', dir: 'scheduling/v1', prefix: 'scheduling.v1', file: 'scheduling-v1' },
  { repo: 'api', dir: 'storage/v1', prefix: 'storage.v1', file: 'storage-v1' },
  { repo: 'api', dir: 'certificates/v1', prefix: 'certificates.v1', file: 'certificates-v1' },
  { repo: 'api', dir: 'authentication/v1', prefix: 'authentication.v1', file: 'authentication-v1' },
  { repo: 'api', dir: 'authorization/v1', prefix: 'authorization.v1', file: 'authorization-v1' },
  { repo: 'api', dir: 'events/v1', prefix: 'events.v1', file: 'events-v1' },
]

/**
 * Messages whose JSON is not an object of their fields (their Go types marshal themselves).
 * Named by upstream package and message.
 */
const specialForms: Record<string, string> = {
  'meta.v1.Time': 'time',
  'meta.v1.MicroTime': 'microTime',
  'meta.v1.Duration': 'duration',
  'meta.v1.FieldsV1': 'fieldsV1',
  'meta.v1.Verbs': 'stringList',
  'runtime.RawExtension': 'rawExtension',
  'intstr.IntOrString': 'intOrString',
  'resource.Quantity': 'quantity',
  'authentication.v1.ExtraValue': 'stringList',
  'authorization.v1.ExtraValue': 'stringList',
  'certificates.v1.ExtraValue': 'stringList',
}

/** Kept out of the table: runtime's own envelope types (envelope.ts reads them) and unused relics. */
const skipped = new Set(['runtime.Unknown', 'runtime.TypeMeta', 'meta.v1.Fields', 'resource.QuantityValue', 'core.v1.List'])

const [apiDir, machineryDir, tag] = process.argv.slice(2)
if (!apiDir || !machineryDir || !tag) {
  process.stderr.write('usage: node scripts/protobuf-schema.ts API_DIR APIMACHINERY_DIR TAG\n')
  process.exit(2)
}

interface ProtoField {
  name: string
  number: number
  repeated: boolean
  type: string
  mapValue?: string
}

interface GoField {
  json: string
  inline: boolean
  keepZero: boolean
}

const protoPackagePrefix = new Map<string, string>()
for (const p of packages) {
  const goPackage = p.repo === 'api' ? `k8s.io.api.${p.dir.replace(/\//g, '.')}` : `k8s.io.apimachinery.${p.dir.replace(/\//g, '.')}`
  protoPackagePrefix.set(goPackage, p.prefix)
}

function tableName(type: string, ownPrefix: string): string {
  if (!type.startsWith('.')) return `${ownPrefix}.${type}`
  const cut = type.lastIndexOf('.')
  const pkg = type.slice(1, cut)
  const prefix = protoPackagePrefix.get(pkg)
  if (prefix === undefined) throw new Error(`message ${type} is in package ${pkg}, which the table does not cover`)
  return `${prefix}.${type.slice(cut + 1)}`
}

function parseProto(text: string): Map<string, ProtoField[]> {
  const messages = new Map<string, ProtoField[]>()
  const noComments = text.replace(/\/\/[^\n]*/g, '')
  for (const m of noComments.matchAll(/^message (\w+) \{([^}]*)\}/gm)) {
    const fields: ProtoField[] = []
    for (const line of m[2].split(';')) {
      const s = line.trim()
      if (s === '') continue
      const mapMatch = /^map<string, ([.\w]+)> (\w+) = (\d+)$/.exec(s)
      if (mapMatch) {
        fields.push({ name: mapMatch[2], number: Number(mapMatch[3]), repeated: false, type: 'map', mapValue: mapMatch[1] })
        continue
      }
      const f = /^(optional|repeated) ([.\w]+) (\w+) = (\d+)$/.exec(s)
      if (!f) throw new Error(`cannot read the field "${s}" of message ${m[1]}`)
      fields.push({ name: f[3], number: Number(f[4]), repeated: f[1] === 'repeated', type: f[2] })
    }
    messages.set(m[1], fields)
  }
  return messages
}

/** Go struct name → protobuf field number → what its tags say. */
function parseGo(dir: string): Map<string, Map<number, GoField>> {
  const structs = new Map<string, Map<number, GoField>>()
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.go') || file.endsWith('_test.go') || file.startsWith('zz_generated') || file === 'generated.pb.go') continue
    const text = readFileSync(join(dir, file), 'utf8')
    for (const m of text.matchAll(/^type (\w+) struct \{\n([\s\S]*?)\n\}/gm)) {
      const fields = new Map<number, GoField>()
      for (const line of m[2].split('\n')) {
        const tag = /`([^`]*)`/.exec(line)?.[1]
        const proto = tag && /protobuf:"([^"]*)"/.exec(tag)?.[1]
        if (!proto) continue
        const number = Number(proto.split(',')[1])
        const jsonTag = /json:"([^"]*)"/.exec(tag!)?.[1] ?? ''
        const [jsonName, ...opts] = jsonTag.split(',')
        const decl = line.replace(/`[^`]*`/, '').trim().split(/\s+/)
        const embedded = decl.length === 1
        const goType = embedded ? decl[0] : decl[1]
        fields.set(number, {
          json: jsonName,
          inline: embedded && jsonName === '',
          keepZero: goType.startsWith('*') || !opts.includes('omitempty'),
        })
      }
      if (fields.size > 0) structs.set(m[1], fields)
    }
  }
  return structs
}

const scalars = new Set(['string', 'bool', 'int32', 'int64', 'bytes'])

/** `go` is undefined for the special forms, whose fields are named as in protobuf (lower-cased: FieldsV1 has `Raw`). */
function fieldCode(f: ProtoField, go: GoField | undefined, prefix: string): string {
  const json = go?.json || f.name[0].toLowerCase() + f.name.slice(1)
  const type = (t: string): string => (scalars.has(t) ? `'${t}'` : `{ message: '${tableName(t, prefix)}' }`)
  const parts = [`json: '${json}'`]
  if (f.type === 'map') parts.push(`type: ${type(f.mapValue!)}`, 'map: true')
  else parts.push(`type: ${type(f.type)}`)
  if (f.repeated) parts.push('repeated: true')
  if (go?.inline) parts.push('inline: true')
  // Only a scalar has a zero value that decoding could drop.
  if (go?.keepZero && !f.repeated && scalars.has(f.type)) parts.push('keepZero: true')
  return `{ ${parts.join(', ')} }`
}

const summary: string[] = []
const tables: { file: string; constName: string }[] = []
for (const p of packages) {
  const root = p.repo === 'api' ? apiDir : machineryDir
  const dir = join(root, p.dir)
  const messages = parseProto(readFileSync(join(dir, 'generated.proto'), 'utf8'))
  const goStructs = parseGo(dir)
  const lines: string[] = []
  for (const [name, fields] of messages) {
    const full = `${p.prefix}.${name}`
    if (skipped.has(full)) continue
    const as = specialForms[full]
    const go = goStructs.get(name)
    const body = fields.map((f) => {
      const goField = go?.get(f.number)
      if (goField === undefined && !as) throw new Error(`${full} field ${f.number} (${f.name}) has no Go struct tag`)
      return `      ${f.number}: ${fieldCode(f, as ? undefined : goField, p.prefix)},`
    })
    lines.push(`  '${full}': {${as ? `\n    as: '${as}',` : ''}\n    fields: {\n${body.join('\n')}\n    },\n  },`)
  }
  const constName = `${p.file.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Messages`
  const out = `// Generated by scripts/protobuf-schema.ts from ${p.repo === 'api' ? 'kubernetes/api' : 'kubernetes/apimachinery'} ${tag} ${p.dir}
// (generated.proto for the numbers, the Go struct tags for the JSON). Do not edit by hand.
import type { MessageSpec } from '../types.ts'

export const ${constName}: Record<string, MessageSpec> = {
${lines.join('\n')}
}
`
  writeFileSync(join('src/api/protobuf/messages', `${p.file}.ts`), out)
  tables.push({ file: p.file, constName })
  summary.push(`${p.file}: ${lines.length} messages`)
}
writeFileSync(
  'src/api/protobuf/messages/index.ts',
  `// Generated by scripts/protobuf-schema.ts. Do not edit by hand.
import type { Schema } from '../types.ts'
${tables.map((t) => `import { ${t.constName} } from './${t.file}.ts'`).join('\n')}

export const kubernetesMessages: Schema = {
${tables.map((t) => `  ...${t.constName},`).join('\n')}
}
`,
)
process.stdout.write(`${summary.join('\n')}\n`)
