import t from 'tap'
import {
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidLabelValue,
  isValidPercent,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
} from '../../src/api/names.ts'

t.test('DNS-1123 label', async (t) => {
  for (const good of ['a', 'my-name', '123-abc', '0', 'a'.repeat(63)]) t.same(isDNS1123Label(good), [], good)
  for (const bad of ['', 'A', '-a', 'a-', 'a.b', 'a_b', 'über']) t.equal(isDNS1123Label(bad).length, 1, bad)
  t.same(isDNS1123Label('My-Name'), [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ])
  t.same(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters'])
})

t.test('DNS-1123 subdomain', async (t) => {
  for (const good of ['example.com', 'a', 'a.b-c.d', `${'a'.repeat(63)}.${'b'.repeat(63)}`]) t.same(isDNS1123Subdomain(good), [], good)
  for (const bad of ['', '.a', 'a.', 'a..b', 'A.com', 'a_b']) t.equal(isDNS1123Subdomain(bad).length, 1, bad)
  t.same(isDNS1123Subdomain('Foo'), [
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ])
  const long = `${'a.'.repeat(126)}ab`
  t.equal(long.length, 254)
  t.same(isDNS1123Subdomain(long), ['must be no more than 253 characters'])
  t.same(isDNS1123Subdomain(long.slice(1).replace(/^\./, 'a')), [])
})

t.test('DNS-1035 label', async (t) => {
  t.same(isDNS1035Label('my-svc'), [])
  t.same(isDNS1035Label('1abc'), [
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  ])
  t.same(isDNS1035Label(`a${'b'.repeat(63)}`), ['must be no more than 63 characters'])
})

t.test('wildcard subdomain', async (t) => {
  t.same(isWildcardDNS1123Subdomain('*.example.com'), [])
  t.equal(isWildcardDNS1123Subdomain('foo.*.com').length, 1)
  t.equal(isWildcardDNS1123Subdomain('*example.com').length, 1)
})

t.test('qualified names', async (t) => {
  for (const good of ['app', 'MyName', 'my.name', '123-abc', 'example.com/MyName', 'app.kubernetes.io/name', 'a_b', `k8s.io/${'a'.repeat(63)}`])
    t.same(isQualifiedName(good), [], good)
  t.same(isQualifiedName('/name'), ['prefix part must be non-empty'])
  t.same(isQualifiedName('Example.com/name'), [
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ])
  t.same(isQualifiedName('example.com/'), [
    'name part must be non-empty',
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
  ])
  t.same(isQualifiedName('a'.repeat(64)), ['name part must be no more than 63 characters'])
  t.match(isQualifiedName('a/b/c')[0], /^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/)
  t.equal(isQualifiedName('-a').length, 1)
})

t.test('label values', async (t) => {
  for (const good of ['', 'v1', 'MyValue', 'my_value', '12345', 'a'.repeat(63)]) t.same(isValidLabelValue(good), [], good)
  t.same(isValidLabelValue('a'.repeat(64)), ['must be no more than 63 characters'])
  t.same(isValidLabelValue('-bad'), [
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ])
  t.equal(isValidLabelValue('a b').length, 1)
})

t.test('ports', async (t) => {
  t.same(isValidPortNum(1), [])
  t.same(isValidPortNum(65535), [])
  t.same(isValidPortNum(0), ['must be between 1 and 65535, inclusive'])
  t.same(isValidPortNum(65536), ['must be between 1 and 65535, inclusive'])
  t.same(isValidPortName('http'), [])
  t.same(isValidPortName('a'.repeat(16)), ['must be no more than 15 characters'])
  t.same(isValidPortName('80'), ['must contain at least one letter (a-z)'])
  t.same(isValidPortName('a--b'), ['must not contain consecutive hyphens'])
  t.same(isValidPortName('-ab'), ['must not begin or end with a hyphen'])
  t.same(isValidPortName('HTTP'), ['must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'must contain at least one letter (a-z)'])
})

t.test('addresses, env names, keys, percents', async (t) => {
  t.same(isValidIP('10.0.0.1'), [])
  t.same(isValidIP('2001:db8::1'), [])
  t.same(isValidIP('10.0.0.256'), ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'])
  t.same(isValidCIDR('10.244.0.0/24'), [])
  t.same(isValidCIDR('fd00::/64'), [])
  t.equal(isValidCIDR('10.0.0.0/33').length, 1)
  t.equal(isValidCIDR('10.0.0.0').length, 1)
  // As src/util/ip-parse reads them: no zone, no leading zeros; host bits allowed; an IPv4-mapped prefix refused.
  for (const bad of ['fe80::1%eth0', '010.0.0.1', ' 10.0.0.1', '10.0.0.1/32']) t.equal(isValidIP(bad).length, 1, bad)
  t.same(isValidIP('::ffff:10.0.0.1'), [], 'a mapped address is an address')
  t.same(isValidCIDR('10.244.0.7/24'), [], 'host bits set')
  for (const bad of ['fe80::%eth0/64', '10.0.0.0/08', '::ffff:10.0.0.0/104', '10.0.0.0/8/8', '010.0.0.0/8']) t.equal(isValidCIDR(bad).length, 1, bad)
  t.same(isEnvVarName('MY_VAR'), [])
  t.same(isEnvVarName('1.weird-but ok'), [])
  t.same(isEnvVarName('A=B'), ["a valid environment variable name must consist only of printable ASCII characters other than '='"])
  t.same(isConfigMapKey('key.name'), [])
  t.same(isConfigMapKey('..'), ["must not be '..'"])
  t.same(isConfigMapKey('..a'), ["must not start with '..'"])
  t.equal(isConfigMapKey('a/b').length, 1)
  t.same(isValidPercent('25%'), [])
  t.equal(isValidPercent('25').length, 1)
})
