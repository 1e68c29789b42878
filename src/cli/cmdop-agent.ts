#!/usr/bin/env node
/** The `cmdop-agent` command (see agent-main.ts). */
import './threadpool.js';
import { main } from './agent-main.js';

await main(process.argv.slice(2));
