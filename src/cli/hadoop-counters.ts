/**
 * Hadoop Streaming counters (`route --hadoop-counters`): Streaming reads stderr lines of the form
 * `reporter:counter:GROUP,NAME,AMOUNT` from a mapper and adds AMOUNT to that job counter, so the
 * job's per-expert totals show in the job history without a pass over the output.
 *
 * Only an explicit option turns them on (not a guess from Streaming's `mapreduce_task_id`
 * environment variable): the variable also reaches every tool a task starts, and outside
 * Streaming these lines are noise in a log.
 */
import type { RouteJobListener } from '../job/events.js';
import type { RunStats } from '../job/run-stats.js';

export const HADOOP_COUNTER_GROUP = 'moe-router';

/**
 * The counter lines of a run, one per counter, each ending in LF: records-in, records-out,
 * routed, errors, bytes-in, then expert-0 .. expert-(N-1) (every expert, zeros included, so
 * the job shows all of them). Counters add up across tasks, which is what a job wants.
 */
export function hadoopCounterLines(stats: RunStats, group: string = HADOOP_COUNTER_GROUP): string[] {
  const counters: [string, number][] = [
    ['records-in', stats.recordsIn],
    ['records-out', stats.recordsOut],
    ['routed', stats.routed],
    ['errors', stats.errors],
    ['bytes-in', stats.bytes],
    ...stats.perExpert.map((n, e): [string, number] => [`expert-${e}`, n]),
  ];
  return counters.map(([name, n]) => `reporter:counter:${group},${name},${n}\n`);
}

/** A route-job listener that writes the counters once, at the end of the run (also a stopped one). */
export function hadoopCountersListener(write: (text: string) => void): RouteJobListener {
  return {
    onEnd(stats: RunStats): void {
      write(hadoopCounterLines(stats).join(''));
    },
  };
}
