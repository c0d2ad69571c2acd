import t from 'tap'
import { concurrentAdds } from './bridge-concurrency.ts'

// 100 Node.js processes on a small machine take minutes.
t.setTimeout(600_000)
t.test('100 concurrent ADDs get distinct addresses (standalone, one Node.js each)', (t) => concurrentAdds(t, 'standalone', 100))
