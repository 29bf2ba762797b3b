// Simulated time: one event queue for the whole run, in milliseconds, and a RuntimeClock per node
// incarnation on top of it. Events fire in (time, insertion) order; after the events of one
// instant the scheduler lets every promise chain they started run to completion (a real
// setImmediate turn, which runs only after the microtask queue is empty) before time moves on.
// Nothing else in the run reads real time or real timers, so a run depends on its seed alone.
import { assert } from "../errors.js";
import type { RuntimeClock, TimerHandle } from "../runtime/ports.js";

interface SimEvent {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Events fired in one instant at most: a loop that keeps scheduling at "now" is a bug. */
const eventsPerInstantMax = 100_000;

export class SimScheduler {
  private nowMs = 0;
  private seq = 0;
  /** A binary min-heap on (at, seq). */
  private readonly heap: SimEvent[] = [];

  now(): number {
    return this.nowMs;
  }

  /** Run `fn` `ms` milliseconds from now (0: later in this instant). */
  after(ms: number, fn: () => void): SimEvent {
    assert(ms >= 0 && Number.isFinite(ms), `scheduler: bad delay ${ms}`);
    const ev: SimEvent = { at: this.nowMs + Math.ceil(ms), seq: this.seq++, fn, cancelled: false };
    this.push(ev);
    return ev;
  }

  cancel(ev: SimEvent): void {
    ev.cancelled = true;
  }

  /**
   * Moves to the next instant with events and fires them, letting their promise chains settle
   * between rounds. Returns false when nothing is scheduled.
   */
  async runInstant(): Promise<boolean> {
    const first = this.heap[0];
    if (first === undefined) return false;
    this.nowMs = first.at;
    let fired = 0;
    while (this.heap[0] !== undefined && this.heap[0].at === this.nowMs) {
      while (this.heap[0] !== undefined && this.heap[0].at === this.nowMs) {
        const ev = this.pop();
        if (ev.cancelled) continue;
        assert(++fired <= eventsPerInstantMax, `scheduler: more than ${eventsPerInstantMax} events at ${this.nowMs}`);
        ev.fn();
      }
      await settle();
    }
    return true;
  }

  private push(ev: SimEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, h[parent] as SimEvent)) break;
      h[i] = h[parent] as SimEvent;
      i = parent;
    }
    h[i] = ev;
  }

  private pop(): SimEvent {
    const h = this.heap;
    const top = h[0] as SimEvent;
    const last = h.pop() as SimEvent;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r] as SimEvent, h[l] as SimEvent) ? r : l;
        if (!before(h[c] as SimEvent, last)) break;
        h[i] = h[c] as SimEvent;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

/** Lets every promise chain started so far run to completion (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

interface SimInterval {
  ev: SimEvent | null;
  cancelled: boolean;
}

/**
 * One node incarnation's clock. stop() is the crash: none of its timers fire again, and a turn
 * it yields never ends, so the dead runtime's loop stays where it was.
 */
export class SimClock implements RuntimeClock {
  private readonly sched: SimScheduler;
  private alive = true;

  constructor(sched: SimScheduler) {
    this.sched = sched;
  }

  stop(): void {
    this.alive = false;
  }

  now(): number {
    return this.sched.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.sched.after(ms, () => {
      if (this.alive) fn();
    });
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as SimEvent).cancelled = true;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const iv: SimInterval = { ev: null, cancelled: false };
    const arm = (): void => {
      iv.ev = this.sched.after(ms, () => {
        if (!this.alive || iv.cancelled) return;
        arm();
        fn();
      });
    };
    arm();
    return iv;
  }

  clearInterval(handle: TimerHandle): void {
    const iv = handle as SimInterval;
    iv.cancelled = true;
    if (iv.ev !== null) iv.ev.cancelled = true;
  }

  yieldTurn(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.sched.after(0, () => {
        if (this.alive) resolve();
      });
    });
  }
}
