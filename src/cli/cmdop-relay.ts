#!/usr/bin/env node
/** The `cmdop-relay` command (see relay-main.ts). */
import './threadpool.js';
import { main } from './relay-main.js';

await main(process.argv.slice(2));
