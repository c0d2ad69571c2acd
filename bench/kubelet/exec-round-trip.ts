// The exec round-trip measurement the port-forward benchmark runs when the kubelet has an
// exec endpoint: `weft/exec` hooks register here (set `execRoundTrip`), and the benchmark
// reports p50/p99 of its samples. With nothing registered the benchmark says so and skips it.

export interface ExecRoundTripContext {
  /** The kubelet's unix socket and a directory with ca.pem, client.pem, client-key.pem. */
  socketPath: string
  certDir: string
  /** The pod the benchmark set up: namespace `default`, name `bench`, its netns path. */
  netnsPath: string
}

/** Measures `samples` exec round trips (ms each): open exec, send a line, read the echo, close. */
export type ExecRoundTrip = (ctx: ExecRoundTripContext, samples: number) => Promise<number[]>

export const execRoundTrip: ExecRoundTrip | undefined = undefined
