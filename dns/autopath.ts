// CoreDNS `autopath @kubernetes`: a pod's resolver walks its search path one query at a time
// (ndots:5 makes `example.com` cost up to six round trips). When the first query arrives, the
// server walks the same path itself. The shell calls answer() (or forwards) for each
// candidate in order and replies to the first result that is not NXDOMAIN with
// autopathAnswer(asked, candidate, result): a CNAME from the asked name to the hit, then the
// hit's records. When every candidate is NXDOMAIN it replies with the first result (the asked
// name's own NXDOMAIN), as CoreDNS does. An upstream failure on the way (SERVFAIL, REFUSED,
// any other error rcode, no reply in time) ends the walk with SERVFAIL: the names after it
// were not looked up, so nothing may be claimed about them (handler.ts).
import type { Answer } from './records.ts'
import { RRClass, RRType } from './records.ts'
import { lowerName } from './names.ts'

/** The pod's search path: `<ns>.svc.<zone>`, `svc.<zone>`, `<zone>`, then the host's. */
export function podSearchPath(namespace: string, zone: string, hostSearch: readonly string[]): string[] {
  const path = [`${namespace}.svc.${zone}`, `svc.${zone}`, zone].map(lowerName)
  for (const domain of hostSearch) {
    const d = lowerName(domain)
    if (d !== '' && !path.includes(d)) path.push(d)
  }
  return path
}

/** CoreDNS autopath: when `qname` is what a pod's resolver asks first (base + '.' + first search
 *  domain `<ns>.svc.<zone>`), the search path to walk server-side: the names to try in order
 *  (lower case), ending with the bare base name; undefined when autopath does not apply. */
export function autopathCandidates(qname: string, namespace: string, zone: string, hostSearch: readonly string[]): string[] | undefined {
  const name = lowerName(qname)
  const path = podSearchPath(namespace, zone, hostSearch)
  const suffix = '.' + path[0]
  if (!name.endsWith(suffix) || name.length === suffix.length) return undefined
  const base = name.slice(0, name.length - suffix.length)
  // A candidate may be too long for the wire (a long host search domain): such a name cannot
  // exist. The walk skips it when it would go upstream (handler.ts); checking every candidate
  // here would cost every autopath query, answers from memory included.
  return [...path.map((domain) => `${base}.${domain}`), base]
}

/** The hit's answer with a CNAME askedName → hitName first (owner askedName as asked), or the hit
 *  unchanged when hitName is askedName. */
export function autopathAnswer(askedName: string, hitName: string, hit: Answer, ttl: number): Answer {
  const target = lowerName(hitName)
  if (lowerName(askedName) === target) return hit
  const cname = { name: askedName, type: RRType.CNAME, class: RRClass.IN, ttl, data: { target } }
  return { ...hit, answers: [cname, ...hit.answers] }
}
