import t from 'tap'
import { concurrentAdds } from './bridge-concurrency.ts'

// One Node.js process per plugin call: 100 of them take minutes on a two-core machine, so
// the standalone path is exercised with fewer (the lock is the same one the service path's
// 100-ADD test goes through, across processes here).
t.setTimeout(300_000)
t.test('concurrent ADDs from separate processes get distinct addresses (standalone, one Node.js each)', (t) => concurrentAdds(t, 'standalone', 24))
