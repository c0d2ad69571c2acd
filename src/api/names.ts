// Name and key syntax checks with Kubernetes' exact messages
// (k8s.io/apimachinery/pkg/util/validation). Each returns a list of problems; empty means valid.
import { parseCIDR, parseIP } from '../util/ip-parse.ts'

export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`
}

export function maxLenError(length: number): string {
  return `must be no more than ${length} characters`
}

export const emptyError = 'must be non-empty'

function whole(fmt: string): RegExp {
  return new RegExp(`^(?:${fmt})$`)
}

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?'
const dns1123LabelErr =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
const dns1123LabelRe = whole(dns1123LabelFmt)
export const DNS1123LabelMaxLength = 63

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = []
  if (value.length > DNS1123LabelMaxLength) errs.push(maxLenError(DNS1123LabelMaxLength))
  if (!dns1123LabelRe.test(value)) errs.push(regexError(dns1123LabelErr, dns1123LabelFmt, 'my-name', '123-abc'))
  return errs
}

const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`
const dns1123SubdomainErr =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
const dns1123SubdomainRe = whole(dns1123SubdomainFmt)
export const DNS1123SubdomainMaxLength = 253

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = []
  if (value.length > DNS1123SubdomainMaxLength) errs.push(maxLenError(DNS1123SubdomainMaxLength))
  if (!dns1123SubdomainRe.test(value)) errs.push(regexError(dns1123SubdomainErr, dns1123SubdomainFmt, 'example.com'))
  return errs
}

const dns1035LabelFmt = '[a-z]([-a-z0-9]*[a-z0-9])?'
const dns1035LabelErr =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
const dns1035LabelRe = whole(dns1035LabelFmt)
export const DNS1035LabelMaxLength = 63

export function isDNS1035Label(value: string): string[] {
  const errs: string[] = []
  if (value.length > DNS1035LabelMaxLength) errs.push(maxLenError(DNS1035LabelMaxLength))
  if (!dns1035LabelRe.test(value)) errs.push(regexError(dns1035LabelErr, dns1035LabelFmt, 'my-name', 'abc-123'))
  return errs
}

const wildcardSubdomainFmt = `\\*\\.${dns1123SubdomainFmt}`
const wildcardSubdomainErr =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character"
const wildcardSubdomainRe = whole(wildcardSubdomainFmt)

export function isWildcardDNS1123Subdomain(value: string): string[] {
  const errs: string[] = []
  if (value.length > DNS1123SubdomainMaxLength) errs.push(maxLenError(DNS1123SubdomainMaxLength))
  if (!wildcardSubdomainRe.test(value)) errs.push(regexError(wildcardSubdomainErr, wildcardSubdomainFmt, '*.example.com'))
  return errs
}

const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'
const qualifiedNameErr =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
const qualifiedNameRe = whole(qualifiedNameFmt)
export const QualifiedNameMaxLength = 63

/** Label and annotation keys: `name` or `dns.subdomain/name`. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = []
  const parts = value.split('/')
  let name: string
  if (parts.length === 1) {
    name = parts[0]
  } else if (parts.length === 2) {
    const prefix = parts[0]
    name = parts[1]
    if (prefix.length === 0) errs.push(`prefix part ${emptyError}`)
    else for (const msg of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${msg}`)
  } else {
    return [
      `a qualified name ${regexError(qualifiedNameErr, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ]
  }
  if (name.length === 0) errs.push(`name part ${emptyError}`)
  else if (name.length > QualifiedNameMaxLength) errs.push(`name part ${maxLenError(QualifiedNameMaxLength)}`)
  if (!qualifiedNameRe.test(name)) errs.push(`name part ${regexError(qualifiedNameErr, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')}`)
  return errs
}

const labelValueFmt = `(${qualifiedNameFmt})?`
const labelValueErr =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
const labelValueRe = whole(labelValueFmt)
export const LabelValueMaxLength = 63

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = []
  if (value.length > LabelValueMaxLength) errs.push(maxLenError(LabelValueMaxLength))
  if (!labelValueRe.test(value)) errs.push(regexError(labelValueErr, labelValueFmt, 'MyValue', 'my_value', '12345'))
  return errs
}

export function inclusiveRangeError(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`
}

export function isValidPortNum(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : [inclusiveRangeError(1, 65535)]
}

/** IANA_SVC_NAME: a named port. */
export function isValidPortName(port: string): string[] {
  const errs: string[] = []
  if (port.length > 15) errs.push(maxLenError(15))
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)')
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)')
  if (port.includes('--')) errs.push('must not contain consecutive hyphens')
  if (port.startsWith('-') || port.endsWith('-')) errs.push('must not begin or end with a hyphen')
  return errs
}

/** src/util/ip-parse's strict syntax: no IPv6 zone (`fe80::1%eth0`), no leading zeros. */
export function isValidIP(value: string): string[] {
  return parseIP(value) !== undefined ? [] : ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']
}

/** An IPv4 address in ip-parse's strict syntax (an IPv4-mapped IPv6 text is not one). */
export function isValidIPv4Address(value: string): string[] {
  const ip = parseIP(value)
  return ip?.family === 4 && !ip.mapped ? [] : ['must be a valid IPv4 address']
}

/** An IPv6 address in ip-parse's strict syntax: no zone (`fe80::1%eth0`). */
export function isValidIPv6Address(value: string): string[] {
  const ip = parseIP(value)
  return ip !== undefined && (ip.family === 6 || ip.mapped) ? [] : ['must be a valid IPv6 address']
}

/**
 * src/util/ip-parse's strict syntax. Host bits may be set (Kubernetes allows them, e.g. in
 * loadBalancerSourceRanges); an IPv4-mapped IPv6 prefix (`::ffff:10.0.0.0/104`) is refused,
 * as parseCIDR refuses it everywhere.
 */
export function isValidCIDR(value: string): string[] {
  return parseCIDR(value) !== undefined ? [] : ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']
}

/** Environment variable names (RelaxedEnvironmentVariableValidation, on by default since 1.32). */
export function isEnvVarName(value: string): string[] {
  const errs: string[] = []
  if (!/^[ -<>-~]+$/.test(value)) errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='")
  return errs
}

const configMapKeyFmt = '[-._a-zA-Z0-9]+'
const configMapKeyRe = whole(configMapKeyFmt)

/** Keys of ConfigMap and Secret data. */
export function isConfigMapKey(value: string): string[] {
  const errs: string[] = []
  if (value.length > DNS1123SubdomainMaxLength) errs.push(maxLenError(DNS1123SubdomainMaxLength))
  if (!configMapKeyRe.test(value))
    errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", configMapKeyFmt, 'key.name', 'KEY_NAME', 'key-name'))
  if (value === '.') errs.push("must not be '.'")
  else if (value === '..') errs.push("must not be '..'")
  else if (value.startsWith('..')) errs.push("must not start with '..'")
  return errs
}

const percentFmt = '[0-9]+%'

export function isValidPercent(value: string): string[] {
  return whole(percentFmt).test(value)
    ? []
    : [regexError("a valid percent string must be a numeric string followed by an ending '%'", percentFmt, '1%', '93%')]
}

/** `acme.io/foo`: a DNS subdomain, a slash, and a path (IngressClass controller). */
export function isDomainPrefixedPath(value: string): string[] {
  const slash = value.indexOf('/')
  if (slash <= 0) return ['must be a domain-prefixed path (such as "acme.io/foo")']
  const errs = isDNS1123Subdomain(value.slice(0, slash))
  const path = value.slice(slash + 1)
  if (!/^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(path)) errs.push(regexError('Invalid path', "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"))
  return errs
}
