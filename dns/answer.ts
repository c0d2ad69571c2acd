// Answers one question from a ZoneIndex, per the Kubernetes DNS-Based Service Discovery
// spec 1.1.0 (plus CoreDNS's SRV-at-the-Service-name convenience).
import type { Answer, Question, ResourceRecord } from './records.ts'
import { RRClass, RRType, Rcode } from './records.ts'
import type { HeadlessEndpoint, NamedPort, ServiceEntry, ZoneIndex } from './zone-index.ts'
import { ipFromDashed, ipFromReverseName, isIPv6Text, lowerName, reverseZoneOf } from './names.ts'

export const DNS_SCHEMA_VERSION = '1.1.0'
const MAX_CNAME_CHAIN = 8

/** What a name inside the zone denotes; undefined (in `locate`) when it does not exist. */
type Node =
  | { kind: 'apex' }
  | { kind: 'version' }
  | { kind: 'nameserver' }
  | { kind: 'empty' }
  | { kind: 'service'; service: ServiceEntry }
  | { kind: 'srv'; service: ServiceEntry; port: string; proto: string }
  | { kind: 'host'; service: ServiceEntry; endpoints: HeadlessEndpoint[] }
  | { kind: 'pod'; ip: string }

const EMPTY: Node = { kind: 'empty' }

/** The zone's answer to one question, or undefined when the name is not the index's to answer
 *  (outside the zone and not a reverse name it knows): the server forwards those. */
export function answer(index: ZoneIndex, question: Question): Answer | undefined {
  return answerName(index, question, lowerName(question.name), 0)
}

function answerName(index: ZoneIndex, question: Question, name: string, depth: number): Answer | undefined {
  const zone = index.zone
  if (name === zone || name.endsWith('.' + zone)) {
    const refused = checkQuestion(question)
    if (refused) return refused
    const labels = name === zone ? [] : name.slice(0, name.length - zone.length - 1).split('.')
    const node = locate(index, labels)
    if (!node) return negative(index, Rcode.NXDOMAIN, zone)
    return positive(index, question, node, depth)
  }
  const reverseZone = reverseZoneOf(name)
  if (!reverseZone) return undefined
  const ip = ipFromReverseName(name)
  const owners = ip === undefined ? [] : index.ptrOwners(ip)
  if (owners.length === 0) return undefined
  const refused = checkQuestion(question)
  if (refused) return refused
  if (question.type !== RRType.PTR && question.type !== RRType.ANY) return negative(index, Rcode.NOERROR, reverseZone)
  const ttl = index.config.ttl
  const answers = owners.map((o): ResourceRecord => ({ name: question.name, type: RRType.PTR, class: RRClass.IN, ttl, data: { target: index.ownerName(o) } }))
  return { rcode: Rcode.NOERROR, authoritative: true, answers, authority: [], additional: [] }
}

/** Zone transfers and classes other than IN are refused. */
function checkQuestion(question: Question): Answer | undefined {
  const badClass = question.class !== RRClass.IN && question.class !== RRClass.ANY
  if (!badClass && question.type !== RRType.AXFR && question.type !== RRType.IXFR) return undefined
  return { rcode: Rcode.REFUSED, authoritative: false, answers: [], authority: [], additional: [] }
}

/** `labels` are the name's labels left of the zone, leftmost first. */
function locate(index: ZoneIndex, labels: string[]): Node | undefined {
  const n = labels.length
  if (n === 0) return { kind: 'apex' }
  const top = labels[n - 1]
  if (top === 'svc') {
    if (n === 1) return index.hasServices() ? EMPTY : undefined
    if (n === 2) return index.hasServiceNamespace(labels[0]) ? EMPTY : undefined
    const service = index.service(labels[n - 2], labels[n - 3])
    if (!service) return undefined
    if (n === 3) return { kind: 'service', service }
    if (service.kind === 'external') return undefined
    if (n === 4) {
      const label = labels[0]
      if (label.startsWith('_')) {
        const proto = label.slice(1)
        return portsOf(service).some((p) => p.proto === proto) ? EMPTY : undefined
      }
      if (service.kind !== 'headless') return undefined
      const endpoints = index.endpointsNamed(service, label)
      return endpoints.length ? { kind: 'host', service, endpoints } : undefined
    }
    if (n === 5 && labels[0].startsWith('_') && labels[1].startsWith('_')) {
      const port = labels[0].slice(1)
      const proto = labels[1].slice(1)
      return portsOf(service).some((p) => p.name === port && p.proto === proto) ? { kind: 'srv', service, port, proto } : undefined
    }
    return undefined
  }
  if (top === 'pod') return locatePod(index, labels)
  if (n === 1 && top === 'dns-version') return { kind: 'version' }
  if (top === 'dns') {
    if (n === 1) return EMPTY
    if (n === 2 && labels[0] === 'ns') return { kind: 'nameserver' }
  }
  return undefined
}

function locatePod(index: ZoneIndex, labels: string[]): Node | undefined {
  const mode = index.config.pods
  if (mode === 'disabled' || labels.length > 3) return undefined
  const insecure = mode === 'insecure'
  if (labels.length === 1) return insecure || index.hasPods() ? EMPTY : undefined
  const namespace = labels[labels.length - 2]
  if (labels.length === 2) return insecure || index.hasPodNamespace(namespace) ? EMPTY : undefined
  const ip = ipFromDashed(labels[0])
  if (ip === undefined) return undefined
  return insecure || index.hasPod(namespace, ip) ? { kind: 'pod', ip } : undefined
}

/** Named ports of a Service: its own for a ClusterIP Service, its endpoints' for a headless one. */
function portsOf(service: ServiceEntry): readonly NamedPort[] {
  if (service.kind !== 'headless') return service.ports
  const seen = new Set<readonly NamedPort[]>()
  const ports: NamedPort[] = []
  for (const ep of service.endpoints) {
    if (seen.has(ep.ports)) continue
    seen.add(ep.ports)
    ports.push(...ep.ports)
  }
  return ports
}

function positive(index: ZoneIndex, question: Question, node: Node, depth: number): Answer {
  const { ttl, zone } = index.config
  const qtype = question.type
  const owner = question.name
  const any = qtype === RRType.ANY
  const answers: ResourceRecord[] = []
  const additional: ResourceRecord[] = []
  const want = (type: number): boolean => any || qtype === type

  switch (node.kind) {
    case 'apex':
      if (want(RRType.SOA)) answers.push(soa(index, owner))
      if (want(RRType.NS)) {
        const ns = `ns.dns.${zone}`
        answers.push({ name: owner, type: RRType.NS, class: RRClass.IN, ttl, data: { target: ns } })
        if (!any) addresses(additional, ns, index.config.nameserverIPs, RRType.ANY, ttl)
      }
      break
    case 'version':
      if (want(RRType.TXT)) answers.push({ name: owner, type: RRType.TXT, class: RRClass.IN, ttl, data: { texts: [DNS_SCHEMA_VERSION] } })
      break
    case 'nameserver':
      addresses(answers, owner, index.config.nameserverIPs, qtype, ttl)
      break
    case 'empty':
      break
    case 'pod':
      addresses(answers, owner, [node.ip], qtype, ttl)
      break
    case 'host':
      addresses(answers, owner, unique(node.endpoints.map((e) => e.address)), qtype, ttl)
      break
    case 'srv':
      if (want(RRType.SRV)) srvRecords(index, node.service, node.port, node.proto, owner, answers, additional)
      break
    case 'service': {
      const service = node.service
      if (service.kind === 'external') return externalName(index, question, service, depth)
      addresses(answers, owner, service.v4, qtype, ttl)
      addresses(answers, owner, service.v6, qtype, ttl)
      if (qtype === RRType.SRV) srvRecords(index, service, undefined, undefined, owner, answers, additional)
      break
    }
  }
  if (answers.length === 0) return negative(index, Rcode.NOERROR, zone)
  return { rcode: Rcode.NOERROR, authoritative: true, answers, authority: [], additional }
}

/** A/AAAA records of `ips` wanted by `qtype` (ANY: both). */
function addresses(out: ResourceRecord[], owner: string, ips: readonly string[], qtype: number, ttl: number): void {
  for (const ip of ips) {
    const type = isIPv6Text(ip) ? RRType.AAAA : RRType.A
    if (qtype === type || qtype === RRType.ANY) out.push({ name: owner, type, class: RRClass.IN, ttl, data: { address: ip } })
  }
}

function unique(list: string[]): string[] {
  return list.length < 2 ? list : [...new Set(list)]
}

/** SRV records for one named port (or every named port when `port` is undefined), with the
 *  targets' addresses in `additional`. */
function srvRecords(index: ZoneIndex, service: ServiceEntry, port: string | undefined, proto: string | undefined, owner: string, answers: ResourceRecord[], additional: ResourceRecord[]): void {
  const ttl = index.config.ttl
  const matches = (p: NamedPort): boolean => port === undefined || (p.name === port && p.proto === proto)
  const srv = (target: string, p: NamedPort): ResourceRecord => ({ name: owner, type: RRType.SRV, class: RRClass.IN, ttl, data: { priority: 0, weight: 100, port: p.port, target } })
  if (service.kind !== 'headless') {
    const target = index.serviceName(service)
    const before = answers.length
    for (const p of service.ports) if (matches(p)) answers.push(srv(target, p))
    if (answers.length > before) {
      addresses(additional, target, service.v4, RRType.ANY, ttl)
      addresses(additional, target, service.v6, RRType.ANY, ttl)
    }
    return
  }
  const seen = new Set<string>()
  const hosts = new Set<string>()
  const base = index.serviceName(service)
  for (const ep of service.endpoints) {
    const host = ep.host
    for (const p of ep.ports) {
      if (!matches(p)) continue
      const key = `${host} ${p.port}`
      if (seen.has(key)) continue
      seen.add(key)
      answers.push(srv(`${host}.${base}`, p))
      hosts.add(host)
    }
  }
  // A target name stands for every endpoint sharing its hostname.
  for (const host of hosts) {
    addresses(additional, `${host}.${base}`, unique(index.endpointsNamed(service, host).map((e) => e.address)), RRType.ANY, ttl)
  }
}

/** CNAME to the external name; an in-zone target is followed (up to MAX_CNAME_CHAIN links).
 *  An out-of-zone target is left for the server (or the client) to resolve. */
function externalName(index: ZoneIndex, question: Question, service: ServiceEntry, depth: number): Answer {
  const cname: ResourceRecord = { name: question.name, type: RRType.CNAME, class: RRClass.IN, ttl: index.config.ttl, data: { target: service.externalName } }
  const plain: Answer = { rcode: Rcode.NOERROR, authoritative: true, answers: [cname], authority: [], additional: [] }
  const target = service.externalName
  const zone = index.zone
  if (question.type === RRType.CNAME || question.type === RRType.ANY || depth >= MAX_CNAME_CHAIN) return plain
  if (target !== zone && !target.endsWith('.' + zone)) return plain
  const next = answerName(index, { name: target, type: question.type, class: question.class }, target, depth + 1)
  if (!next) return plain
  return { ...next, authoritative: true, answers: [cname, ...next.answers] }
}

function soa(index: ZoneIndex, owner: string): ResourceRecord {
  const { ttl, zone } = index.config
  return {
    name: owner,
    type: RRType.SOA,
    class: RRClass.IN,
    ttl,
    data: { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial: index.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl },
  }
}

/** NXDOMAIN or NODATA, with the SOA of `apex` (the zone, or a reverse zone) in authority. */
function negative(index: ZoneIndex, rcode: number, apex: string): Answer {
  return { rcode, authoritative: true, answers: [], authority: [soa(index, apex)], additional: [] }
}
