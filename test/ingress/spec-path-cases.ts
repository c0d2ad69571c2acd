// The path-matching examples of the Kubernetes Ingress documentation (plus query strings,
// encoded slashes and regex-looking paths taken literally): one Ingress's paths, a request
// path, and the Service that should answer ('404' for none). Shared by the route-table unit
// test and the end-to-end routing test, so both check the same table.
import type { V1HTTPIngressPath } from '@kubernetes/client-node'

export interface PathCase {
  paths: V1HTTPIngressPath[]
  req: string
  want: string
}

function p(path: string, service: string, pathType = 'Prefix'): V1HTTPIngressPath {
  return { path, pathType, backend: { service: { name: service, port: { number: 80 } } } }
}

export const specPathCases: readonly PathCase[] = [
  { paths: [p('/', 'root')], req: '/any/thing', want: 'root' },
  { paths: [p('/foo', 'foo', 'Exact')], req: '/foo', want: 'foo' },
  { paths: [p('/foo', 'foo', 'Exact')], req: '/bar', want: '404' },
  { paths: [p('/foo', 'foo', 'Exact')], req: '/foo/', want: '404' },
  { paths: [p('/foo/', 'foo', 'Exact')], req: '/foo', want: '404' },
  { paths: [p('/foo', 'foo')], req: '/foo', want: 'foo' },
  { paths: [p('/foo', 'foo')], req: '/foo/', want: 'foo' },
  { paths: [p('/foo/', 'foo')], req: '/foo', want: 'foo' },
  { paths: [p('/foo/', 'foo')], req: '/foo/', want: 'foo' },
  { paths: [p('/aaa/bb', 'x')], req: '/aaa/bbb', want: '404' },
  { paths: [p('/aaa/bbb', 'x')], req: '/aaa/bbb', want: 'x' },
  { paths: [p('/aaa/bbb/', 'x')], req: '/aaa/bbb', want: 'x' },
  { paths: [p('/aaa/bbb', 'x')], req: '/aaa/bbb/', want: 'x' },
  { paths: [p('/aaa/bbb', 'x')], req: '/aaa/bbb/ccc', want: 'x' },
  { paths: [p('/aaa/bbb', 'x')], req: '/aaa/bbbxyz', want: '404' },
  { paths: [p('/aaa/bbb/', 'x')], req: '/aaa/bbb/ccc', want: 'x' },
  { paths: [p('/', 'root'), p('/aaa', 'aaa')], req: '/aaa/ccc', want: 'aaa' },
  { paths: [p('/', 'root'), p('/aaa', 'aaa'), p('/aaa/bbb', 'bbb')], req: '/aaa/bbb', want: 'bbb' },
  { paths: [p('/', 'root'), p('/aaa', 'aaa'), p('/aaa/bbb', 'bbb')], req: '/ccc', want: 'root' },
  { paths: [p('/aaa', 'aaa')], req: '/ccc', want: '404' },
  { paths: [p('/foo', 'prefix'), p('/foo', 'exact', 'Exact')], req: '/foo', want: 'exact' },
  { paths: [p('/aaa', 'exact', 'Exact'), p('/aaa', 'prefix')], req: '/aaa', want: 'exact' },
  { paths: [p('/aaa', 'exact', 'Exact'), p('/aaa', 'prefix')], req: '/aaa/x', want: 'prefix' },
  { paths: [p('/foo', 'foo', 'ImplementationSpecific')], req: '/foo/bar', want: 'foo' },
  { paths: [p('/foo', 'foo', 'ImplementationSpecific')], req: '/foobar', want: '404' },
  { paths: [p('/foo', 'foo')], req: '/foo?x=/bar', want: 'foo' },
  { paths: [p('/foo', 'foo', 'Exact')], req: '/foo?x=1', want: 'foo' },
  { paths: [p('/foo', 'foo')], req: '/foo%2Fbar', want: '404' },
  { paths: [p('/api.v1/[a-z]+', 'regex')], req: '/api.v1/[a-z]+/x', want: 'regex' },
  { paths: [p('/api.v1/[a-z]+', 'regex')], req: '/apixv1/abc', want: '404' },
]
