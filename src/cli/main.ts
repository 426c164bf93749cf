#!/usr/bin/env node
/**
 * The `moe-router` command's entry. A `route` run that will most likely use worker threads gets
 * them started here, before the rest of the CLI is loaded (warm-workers.ts); then the program runs.
 */
import { prestartWorkers } from '../job/parallel/warm-workers.js';

prestartWorkers(process.argv.slice(2));
const { main } = await import('./program.js');
process.exitCode = await main(process.argv);
