// How many cores other programs keep busy right now, so llama.cpp can leave them be. llama.cpp's
// threads spin-wait for each other at every step: one thread that loses its core to another
// program stalls all of them (measured on 2 cores: one busy core turned a 1.5 s answer into
// 16-37 s with a thread per core, about 2 s with one thread). Measured from the machine's CPU
// times less this process's own, so caro's own work never counts as load.

import { cpus } from "node:os";

export interface Sample {
  at: number;
  /** Busy time of all cores, in ms. */
  busyMs: number;
  /** This process's CPU time (every thread), in ms. */
  ownMs: number;
}

const SAMPLE_EVERY_MS = 250;
/** The window load is judged over: long enough to tell a blip, short enough to see a build start. */
const WINDOW_MS = 1000;
/** A stretch shorter than this is left out: CPU times tick every 10 ms, too coarse for less. */
const SHORTEST_STRETCH_MS = 150;

/** The share of a core others must use before it counts as theirs. */
const TAKEN_FROM = 0.25;

function sample(): Sample {
  let busyMs = 0;
  for (const cpu of cpus()) busyMs += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  const own = process.cpuUsage();
  return { at: performance.now(), busyMs, ownMs: (own.user + own.system) / 1000 };
}

/**
 * The cores others kept busy over the samples' span, less its busiest stretch (between two
 * samples): a build, a browser or a program that wakes every so often keeps its load up over most
 * stretches; a blip does not. The likeliest blip is the very client asking (a `caro` process
 * starting takes a fifth of a core-second just before its request), which must not cost its
 * request a thread.
 */
export function sustainedLoad(samples: readonly Sample[]): number {
  const stretches: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [from, to] = [samples[i - 1], samples[i]];
    const elapsed = to.at - from.at;
    if (elapsed < SHORTEST_STRETCH_MS) continue;
    stretches.push(Math.max(0, (to.busyMs - from.busyMs - (to.ownMs - from.ownMs)) / elapsed));
  }
  if (stretches.length === 0) return 0;
  if (stretches.length > 1) stretches.splice(stretches.indexOf(Math.max(...stretches)), 1);
  return stretches.reduce((sum, x) => sum + x, 0) / stretches.length;
}

/** Samples the CPU times in the background (an unref'd timer) and says how loaded the machine is. */
export class CpuLoad {
  private readonly samples: Sample[] = [sample()];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => {
      this.samples.push(sample());
      while (this.samples.length > 2 && this.samples[1].at <= performance.now() - WINDOW_MS) this.samples.shift();
    }, SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  /** Cores other programs kept busy over about the last second (0 when nothing is known yet). */
  othersBusyCores(): number {
    return sustainedLoad([...this.samples, sample()]);
  }

  /**
   * Threads for the next evaluation: one per core other programs leave free, never more than
   * `max` nor fewer than one. A core counts as taken once others use a quarter of it: a thread
   * that shares its core stalls all the others, which costs far more than one thread fewer
   * (measured on 2 cores under other load: 2 threads 1.9x slower than 1, 1 thread 1.7x slower than
   * 2 on an idle machine).
   */
  threadsFor(max: number): number {
    const taken = Math.max(0, Math.ceil(this.othersBusyCores() - TAKEN_FROM));
    return Math.max(1, Math.min(max, cpus().length - taken));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
