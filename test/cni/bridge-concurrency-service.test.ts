import t from 'tap'
import { concurrentAdds } from './bridge-concurrency.ts'

t.test('100 concurrent ADDs get distinct addresses (through the service)', (t) => concurrentAdds(t, 'service', 100))
