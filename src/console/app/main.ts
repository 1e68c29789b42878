import { start } from './console.js';

void start();
