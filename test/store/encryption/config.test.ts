// EncryptionConfiguration as kube-apiserver reads it: good shapes parse, every bad one is
// refused with an error naming the field, and the file must be private.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import t, { type Test } from 'tap'
import { loadEncryptionConfig, parseEncryptionConfig, parseGroupResource, groupResourceString } from '../../../src/store/encryption/config.ts'
import { isEncryptionError } from '../../../src/store/encryption/errors.ts'

const dir = mkdtempSync(join(tmpdir(), 'weft-enc-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const k16 = Buffer.alloc(16, 1).toString('base64')
const k24 = Buffer.alloc(24, 2).toString('base64')
const k32 = Buffer.alloc(32, 3).toString('base64')
const k32b = Buffer.alloc(32, 4).toString('base64')

const header = 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n'

function doc(resources: unknown): string {
  return JSON.stringify({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration', resources })
}

/** The error's message, failing the test when parsing succeeds. */
function refusal(t: Test, text: string): string {
  try {
    parseEncryptionConfig(text, 'test.yaml')
  } catch (err) {
    t.ok(isEncryptionError(err, 'InvalidConfig'), 'an InvalidConfig error')
    return (err as Error).message
  }
  t.fail('the config was accepted')
  return ''
}

t.test('upstream example config in YAML', async (t) => {
  const config = parseEncryptionConfig(`${header}resources:
- resources:
  - events
  providers:
  - identity: {}
- resources:
  - secrets
  - configmaps
  - pandas.awesome.bears.example
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: c2VjcmV0IGlzIHNlY3VyZQ==
- resources:
  - '*.apps'
  providers:
  - aescbc:
      keys:
      - name: key2
        secret: ${k32}
- resources:
  - '*.*'
  providers:
  - secretbox:
      keys:
      - name: key3
        secret: ${k32b}
    # a comment
  - aesgcm:
      keys:
      - {name: g1, secret: ${k16}}
      - {name: g2, secret: ${k24}}
  - identity: {}
`)
  t.equal(config.resources.length, 4)
  t.same(config.resources[1].resources, [
    { group: '', resource: 'secrets' },
    { group: '', resource: 'configmaps' },
    { group: 'awesome.bears.example', resource: 'pandas' },
  ])
  t.same(config.resources[2].resources, [{ group: 'apps', resource: '*' }])
  t.same(config.resources[3].resources, [{ group: '*', resource: '*' }])
  t.same(config.resources[3].providers.map((p) => p.type), ['secretbox', 'aesgcm', 'identity'])
  const cbc = config.resources[1].providers[0]
  t.equal(cbc.type, 'aescbc')
  if (cbc.type !== 'identity') {
    t.equal(cbc.keys[0].name, 'key1')
    t.equal(Buffer.from(cbc.keys[0].secret).toString(), 'secret is secure', 'the secret is base64-decoded')
  }
})

t.test('JSON parses the same', async (t) => {
  const config = parseEncryptionConfig(doc([{ resources: ['secrets'], providers: [{ aesgcm: { keys: [{ name: 'k', secret: k32 }] } }, { identity: {} }] }]))
  t.same(config.resources[0].providers.map((p) => p.type), ['aesgcm', 'identity'])
})

t.test('a key never shows its secret in JSON, inspect or toString', async (t) => {
  const config = parseEncryptionConfig(doc([{ resources: ['secrets'], providers: [{ aescbc: { keys: [{ name: 'k', secret: k32 }] } }] }]))
  for (const text of [JSON.stringify(config), inspect(config, { depth: 10, showHidden: true }), String((config.resources[0].providers[0] as { keys: unknown[] }).keys[0])]) {
    t.notOk(text.includes(k32), 'no base64 secret')
    t.notOk(text.includes(Buffer.alloc(32, 3).toString('hex')), 'no hex secret')
    t.match(text, /REDACTED/)
  }
})

t.test('resource names as upstream parses them', async (t) => {
  t.same(parseGroupResource('secrets'), { group: '', resource: 'secrets' })
  t.same(parseGroupResource('*.'), { group: '', resource: '*' })
  t.same(parseGroupResource('deployments.apps'), { group: 'apps', resource: 'deployments' })
  t.same(parseGroupResource('*.*'), { group: '*', resource: '*' })
  for (const s of ['secrets', '*.', 'deployments.apps', '*.*', 'pandas.awesome.bears.example']) t.equal(groupResourceString(parseGroupResource(s)), s)
})

const aescbc = (secret = k32, name = 'k1') => ({ aescbc: { keys: [{ name, secret }] } })

const bad: [string, string, RegExp][] = [
  ['empty file', '  \n', /is empty/],
  ['not YAML', 'a: [1', /not valid YAML or JSON: \w+ at line \d+, column \d+/],
  ['two documents', `${header}---\n${header}`, /not valid YAML or JSON/],
  ['duplicate YAML keys', `${header}kind: EncryptionConfiguration\n`, /not valid YAML or JSON: DUPLICATE_KEY/],
  ['not an object', '[1, 2]', /<root>: Invalid value: must be an object, not a list/],
  ['wrong apiVersion', doc([{ resources: ['secrets'], providers: [aescbc()] }]).replace('config.k8s.io/v1', 'config.k8s.io/v1beta1'), /apiVersion: Unsupported value: "apiserver.config.k8s.io\/v1beta1"/],
  ['wrong kind', doc([{ resources: ['secrets'], providers: [aescbc()] }]).replace('"EncryptionConfiguration"', '"EncryptionConfig"'), /kind: Unsupported value: "EncryptionConfig"/],
  ['missing kind', JSON.stringify({ apiVersion: 'apiserver.config.k8s.io/v1', resources: [{ resources: ['secrets'], providers: [aescbc()] }] }), /kind: Required value/],
  ['unknown top-level field', `${header}resources: [{resources: [secrets], providers: [{identity: {}}]}]\nresouces: []\n`, /unknown field "resouces"/],
  ['no resources', header, /resources: Required value: at least one resources is required/],
  ['empty resources', doc([]), /resources: Required value: at least one resources is required/],
  ['entry without resources', doc([{ providers: [aescbc()] }]), /resources\[0\]\.resources: Required value: at least one resources\[0\]\.resources is required/],
  ['entry with empty providers', doc([{ resources: ['secrets'], providers: [] }]), /resources\[0\]\.providers: Required value: at least one resources\[0\]\.providers is required/],
  ['entry without providers', doc([{ resources: ['secrets'] }]), /resources\[0\]\.providers: Required value/],
  ['unknown entry field', doc([{ resources: ['secrets'], providers: [aescbc()], provider: [] }]), /unknown field "resources\[0\]\.provider"/],
  ['resource not a string', doc([{ resources: ['secrets', 7], providers: [aescbc()] }]), /resources\[0\]\.resources\[1\]: Invalid value: 7: must be a string/],
  ['resource listed twice in one entry', doc([{ resources: ['secrets', 'secrets'], providers: [aescbc()] }]), /resources\[0\]\.resources: Invalid value: \["secrets","secrets"\]: the same resource cannot be specified multiple times/],
  ['resource listed in two entries', doc([{ resources: ['secrets'], providers: [aescbc()] }, { resources: ['configmaps', 'secrets'], providers: [{ identity: {} }] }]), /resources\[1\]\.resources\[1\]: Invalid value: "secrets": the same resource cannot be specified multiple times \(also at resources\[0\]\.resources\[0\]\)/],
  ['overlap in one entry', doc([{ resources: ['secrets', '*.'], providers: [aescbc()] }]), /using overlapping resources such as 'secrets' and '\*\.' in the same resource list is not allowed/],
  ['masked by an earlier wildcard', doc([{ resources: ['*.'], providers: [aescbc()] }, { resources: ['secrets'], providers: [aescbc()] }]), /resources\[1\]\.resources\[0\]: Invalid value: "secrets": resource "secrets" is masked by earlier rule "\*\."/],
  ['masked by an earlier *.*', doc([{ resources: ['*.*'], providers: [aescbc()] }, { resources: ['deployments.apps'], providers: [aescbc()] }]), /resource "deployments.apps" is masked by earlier rule "\*\.\*"/],
  ['capital letters', doc([{ resources: ['Secrets'], providers: [aescbc()] }]), /resource name should not contain capital letters/],
  ['bare star', doc([{ resources: ['*'], providers: [aescbc()] }]), /use '\*\.' to encrypt all the resources from core API group/],
  ['non-REST resource', doc([{ resources: ['serviceipallocations'], providers: [aescbc()] }]), /resources which do not have REST API\/s cannot be encrypted/],
  ['events.k8s.io', doc([{ resources: ['events.events.k8s.io'], providers: [aescbc()] }]), /Use 'events' instead/],
  ['extensions', doc([{ resources: ['deployments.extensions'], providers: [aescbc()] }]), /'extensions' group has been removed/],
  ['resource across groups', doc([{ resources: ['secrets.*'], providers: [aescbc()] }]), /encrypting the same resource across groups is not supported/],
  ['path characters in a resource', doc([{ resources: ['secrets/../pods'], providers: [aescbc()] }]), /resources\[0\]\.resources\[0\]: Invalid value: "secrets\/..\/pods": not a resource name/],
  ['empty provider', doc([{ resources: ['secrets'], providers: [{}] }]), /resources\[0\]\.providers\[0\]: Invalid value: \[\]: provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity/],
  ['two providers in one element', doc([{ resources: ['secrets'], providers: [{ ...aescbc(), identity: {} }] }]), /more than one provider specified in a single element, should split into different list elements/],
  ['unknown provider', doc([{ resources: ['secrets'], providers: [{ aesctr: {} }] }]), /unknown field "resources\[0\]\.providers\[0\]\.aesctr"/],
  ['kms', doc([{ resources: ['secrets'], providers: [{ kms: { name: 'k', endpoint: 'unix:///kms.sock' } }] }]), /resources\[0\]\.providers\[0\]\.kms: Unsupported value: kms is not supported by weft/],
  ['identity with fields', doc([{ resources: ['secrets'], providers: [{ identity: { on: true } }] }]), /unknown field "resources\[0\]\.providers\[0\]\.identity\.on"/],
  ['identity: null', `${header}resources:\n- resources: [secrets]\n  providers:\n  - identity:\n`, /resources\[0\]\.providers\[0\]\.identity: Invalid value: must be an object, not null/],
  ['no keys', doc([{ resources: ['secrets'], providers: [{ aescbc: { keys: [] } }] }]), /resources\[0\]\.providers\[0\]\.aescbc\.keys: Required value: at least one keys is required/],
  ['unknown key field', doc([{ resources: ['secrets'], providers: [{ aesgcm: { keys: [{ name: 'a', secret: k32, algo: 'x' }] } }] }]), /unknown field "resources\[0\]\.providers\[0\]\.aesgcm\.keys\[0\]\.algo"/],
  ['key without name', doc([{ resources: ['secrets'], providers: [{ aescbc: { keys: [{ secret: k32 }] } }] }]), /aescbc\.keys\[0\]\.name: Required value: name is a mandatory field for a key/],
  ['key name with a colon', doc([{ resources: ['secrets'], providers: [aescbc(k32, 'a:b')] }]), /aescbc\.keys\[0\]\.name: Invalid value: "a:b": must be a string of printable characters without spaces or ':'/],
  ['key without secret', doc([{ resources: ['secrets'], providers: [{ aescbc: { keys: [{ name: 'a' }] } }] }]), /aescbc\.keys\[0\]\.secret: Required value: secret is a mandatory field for a key/],
  ['secret not base64', doc([{ resources: ['secrets'], providers: [aescbc('not base64!')] }]), /aescbc\.keys\[0\]\.secret: Invalid value: "REDACTED": secrets must be base64 encoded/],
  ['secret without padding', doc([{ resources: ['secrets'], providers: [aescbc(k32.replace('=', ''))] }]), /secrets must be base64 encoded/],
  ['aes key of 8 bytes', doc([{ resources: ['secrets'], providers: [aescbc(Buffer.alloc(8).toString('base64'))] }]), /secret is not of the expected length, got 8, expected one of \[16 24 32\]/],
  ['secretbox key of 16 bytes', doc([{ resources: ['secrets'], providers: [{ secretbox: { keys: [{ name: 'a', secret: k16 }] } }] }]), /secretbox\.keys\[0\]\.secret: Invalid value: "REDACTED": secret is not of the expected length, got 16, expected one of \[32\]/],
  ['duplicate key names', doc([{ resources: ['secrets'], providers: [{ aescbc: { keys: [{ name: 'a', secret: k32 }, { name: 'a', secret: k32b }] } }] }]), /aescbc\.keys\[1\]\.name: Invalid value: "a": duplicate key name/],
  ['duplicate key names across two aescbc providers', doc([{ resources: ['secrets'], providers: [aescbc(k32, 'a'), aescbc(k32b, 'a')] }]), /providers\[1\]\.aescbc\.keys\[0\]\.name: Invalid value: "a": duplicate key name.*also at resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.name/],
]

t.test('bad configs are refused, naming the field', async (t) => {
  for (const [name, text, want] of bad) {
    t.test(name, async (t) => {
      const message = refusal(t, text)
      t.match(message, want)
      t.match(message, /^encryption provider configuration file "test\.yaml"/)
    })
  }
})

t.test('errors never quote a secret, even from the YAML parser', async (t) => {
  const secret = 'c2VjcmV0IGlzIHNlY3VyZQ=='
  for (const text of [
    `${header}resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: a\n        secret: ${secret}\n   bad: [`,
    doc([{ resources: ['secrets'], providers: [aescbc(secret.slice(0, 20))] }]),
    doc([{ resources: ['secrets'], providers: [{ secretbox: { keys: [{ name: 'a', secret }] } }] }]),
    doc([{ resources: ['secrets'], providers: [{ secretbox: { keys: [secret] } }] }]),
    doc([{ resources: ['secrets'], providers: [{ secretbox: { keys: secret } }] }]),
    doc([{ resources: ['secrets'], providers: [{ aesctr: { keys: [{ name: 'a', secret }] } }] }]),
  ]) {
    const message = refusal(t, text)
    t.notOk(message.includes(secret.slice(0, 12)), `no secret in: ${message}`)
  }
})

t.test('several problems are reported together', async (t) => {
  const message = refusal(t, doc([{ resources: ['Secrets'], providers: [{ kms: {} }] }, { resources: [], providers: [aescbc()] }]))
  t.match(message, /capital letters/)
  t.match(message, /kms is not supported/)
  t.match(message, /resources\[1\]\.resources: Required value/)
})

t.test('the config file must be private', async (t) => {
  const path = join(dir, 'enc.yaml')
  writeFileSync(path, doc([{ resources: ['secrets'], providers: [aescbc()] }]))
  chmodSync(path, 0o644)
  t.throws(() => loadEncryptionConfig(path), { code: 'ConfigFile', message: /has mode 0644: it holds encryption keys.*chmod 600/ })
  chmodSync(path, 0o640)
  t.throws(() => loadEncryptionConfig(path), { code: 'ConfigFile', message: /has mode 0640/ })
  chmodSync(path, 0o600)
  t.equal(loadEncryptionConfig(path).resources.length, 1)
  chmodSync(path, 0o400)
  t.equal(loadEncryptionConfig(path).resources.length, 1, 'read-only for the owner is fine')
  t.throws(() => loadEncryptionConfig(join(dir, 'missing.yaml')), { code: 'ConfigFile', message: /error opening encryption provider configuration file ".*missing\.yaml"/ })
  t.throws(() => loadEncryptionConfig(dir), { code: 'ConfigFile', message: /is not a regular file/ }, 'a directory is refused')
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', ['-m', '600', fifo])
  t.throws(() => loadEncryptionConfig(fifo), { code: 'ConfigFile', message: /is not a regular file/ }, 'a FIFO is refused without waiting for a writer')
  const big = join(dir, 'big.yaml')
  writeFileSync(big, `# ${'x'.repeat(1 << 20)}\n`, { mode: 0o600 })
  t.throws(() => loadEncryptionConfig(big), { code: 'ConfigFile', message: /is larger than/ })
  const invalid = join(dir, 'invalid.yaml')
  writeFileSync(invalid, doc([]), { mode: 0o600 })
  t.throws(() => loadEncryptionConfig(invalid), { code: 'InvalidConfig', message: new RegExp(`file "${invalid}" is invalid`) })
})
