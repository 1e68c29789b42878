#!/usr/bin/env node
/** The `cmdop-agent` command (see agent-main.ts). */
import './threadpool.js';
import { entryFor } from './agent-run.js';

const argv = process.argv.slice(2);
await (await entryFor(argv)).main(argv);
