#!/usr/bin/env node
/** The `cmdop` command (see cmdop-main.ts). */
import { main } from './cmdop-main.js';

await main(process.argv.slice(2));
