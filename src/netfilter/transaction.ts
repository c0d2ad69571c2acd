// A transaction on one nftables table: structured operations that render to the lines of
// one `nft -f -` run (applied all or nothing by the kernel), and that the in-memory fake
// applies the same way. Objects are named without the `family table` prefix. Every
// operation is checked against weft's nft grammar (tokens.ts) as it is added: a name or
// text outside it throws an NftTokenError there, and nothing of it reaches nft. The one
// exception is an operation pushed as `checked`: its every name and text (as rendered) has
// already passed the same checks (the proxy's per-port rules, checked once as they are built).
import { checkNftName, checkNftText, NftTokenError } from './tokens.ts'

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'bridge'
export type NftObjectKind = 'table' | 'chain' | 'set' | 'map'

export type NftOperation =
  | { verb: 'add' | 'create' | 'flush' | 'delete'; kind: 'table' }
  | { verb: 'add' | 'create'; kind: 'chain'; name: string; spec?: string }
  | { verb: 'flush' | 'delete'; kind: 'chain'; name: string }
  | { verb: 'add' | 'create'; kind: 'set' | 'map'; name: string; spec: string }
  | { verb: 'flush' | 'delete'; kind: 'set' | 'map'; name: string }
  | { verb: 'add'; kind: 'rule'; chain: string; rule: string }
  | { verb: 'add' | 'delete'; kind: 'element'; set: string; elements: readonly string[] }

export class Transaction {
  readonly family: NftFamily
  readonly table: string
  readonly operations: NftOperation[] = []

  constructor(family: NftFamily, table: string) {
    if (family !== 'ip' && family !== 'ip6' && family !== 'inet' && family !== 'bridge') throw new NftTokenError(`nft table family ${JSON.stringify(family)} is not ip, ip6, inet or bridge`)
    checkNftName('table name', table)
    this.family = family
    this.table = table
  }

  get size(): number {
    return this.operations.length
  }

  /**
   * Appends `op`; returns this, so calls chain. Throws an NftTokenError for anything outside
   * weft's nft grammar, unless `checked` says the caller has run the same checks on every
   * name and text of `op` as it renders (proxy/nftables/rules.ts checkServiceRules).
   */
  push(op: NftOperation, opts?: { checked?: boolean }): this {
    if (opts?.checked !== true) checkOperation(op)
    this.operations.push(op)
    return this
  }

  addTable(): this {
    return this.push({ verb: 'add', kind: 'table' })
  }

  /** `spec` is the inside of the braces of a base chain: `type nat hook output priority -100; policy accept;`. */
  addChain(name: string, spec?: string): this {
    return this.push({ verb: 'add', kind: 'chain', name, spec })
  }

  flushChain(name: string): this {
    return this.push({ verb: 'flush', kind: 'chain', name })
  }

  deleteChain(name: string): this {
    return this.push({ verb: 'delete', kind: 'chain', name })
  }

  /** `spec`: `type ipv4_addr . inet_proto . inet_service : verdict;` and any flags. */
  addMap(name: string, spec: string): this {
    return this.push({ verb: 'add', kind: 'map', name, spec })
  }

  addSet(name: string, spec: string): this {
    return this.push({ verb: 'add', kind: 'set', name, spec })
  }

  deleteSet(name: string): this {
    return this.push({ verb: 'delete', kind: 'set', name })
  }

  addRule(chain: string, rule: string): this {
    return this.push({ verb: 'add', kind: 'rule', chain, rule })
  }

  /** Elements as nft writes them: `10.96.0.1 . tcp . 80 : goto service-x`. */
  addElements(set: string, elements: readonly string[]): this {
    return elements.length ? this.push({ verb: 'add', kind: 'element', set, elements }) : this
  }

  deleteElements(set: string, elements: readonly string[]): this {
    return elements.length ? this.push({ verb: 'delete', kind: 'element', set, elements }) : this
  }

  /** The transaction as `nft -f` input, one command per line. */
  render(): string {
    let out = ''
    for (const op of this.operations) out += renderOperation(this.family, this.table, op) + '\n'
    return out
  }
}

function checkOperation(op: NftOperation): void {
  switch (op.kind) {
    case 'table':
      return
    case 'chain':
    case 'set':
    case 'map':
      checkNftName(`${op.kind} name`, op.name)
      if ('spec' in op && op.spec !== undefined && (op.kind !== 'chain' || op.spec !== '')) checkNftText('spec', op.spec)
      return
    case 'rule':
      checkNftName('chain name', op.chain)
      checkNftText('rule', op.rule)
      return
    case 'element':
      checkNftName('set name', op.set)
      for (const el of op.elements) checkNftText('element', el)
      return
    default:
      throw new NftTokenError(`unknown nft operation ${JSON.stringify(op)}`)
  }
}

export function renderOperation(family: NftFamily, table: string, op: NftOperation): string {
  const where = `${family} ${table}`
  switch (op.kind) {
    case 'table':
      return `${op.verb} table ${where}`
    case 'chain':
      return 'spec' in op && op.spec ? `${op.verb} chain ${where} ${op.name} { ${op.spec} }` : `${op.verb} chain ${where} ${op.name}`
    case 'set':
    case 'map':
      return 'spec' in op ? `${op.verb} ${op.kind} ${where} ${op.name} { ${op.spec} }` : `${op.verb} ${op.kind} ${where} ${op.name}`
    case 'rule':
      return `add rule ${where} ${op.chain} ${op.rule}`
    case 'element':
      return `${op.verb} element ${where} ${op.set} { ${op.elements.join(', ')} }`
  }
}
