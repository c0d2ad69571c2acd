// Limits of Node.js timers, shared by the flags that become timers and the code that arms them.

/** The longest timer Node.js keeps (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1
