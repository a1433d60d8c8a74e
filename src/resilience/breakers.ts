// The breaker registry: one breaker per function, kept across reloads while its options are unchanged,
// shut down when its function goes away. It is the FunctionGate the request path calls through.
import type { Config } from '../config/schema.ts';
import type { FunctionGate } from '../request-path.ts';
import { type Breaker, type BreakerState, createBreaker } from './breaker.ts';

export function createBreakerRegistry(functions: Config['functions']) {
  let breakers = new Map<string, Breaker>();

  function update(next: Config['functions']): void {
    const kept = new Map<string, Breaker>();
    for (const [name, spec] of Object.entries(next)) {
      const existing = breakers.get(name);
      if (existing && JSON.stringify(existing.config) === JSON.stringify(spec.breaker)) {
        kept.set(name, existing);
      } else {
        existing?.shutdown();
        kept.set(name, createBreaker(name, spec.breaker));
      }
    }
    for (const [name, breaker] of breakers) if (!kept.has(name)) breaker.shutdown();
    breakers = kept;
  }

  update(functions);

  const gate: FunctionGate = {
    isOpen: (name) => breakers.get(name)?.isOpen() ?? false,
    call: (name, attempt) => {
      const breaker = breakers.get(name);
      return breaker ? breaker.call(attempt) : attempt();
    },
  };

  return {
    gate,
    update,
    state(name: string): BreakerState | undefined {
      return breakers.get(name)?.state();
    },
    get(name: string): Breaker | undefined {
      return breakers.get(name);
    },
    shutdown(): void {
      for (const breaker of breakers.values()) breaker.shutdown();
      breakers = new Map();
    },
  };
}

export type BreakerRegistry = ReturnType<typeof createBreakerRegistry>;
