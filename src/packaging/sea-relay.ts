/** Entry of the cmdop-relay single executable (in a SEA, argv[1] is the executable again). */
process.env.UV_THREADPOOL_SIZE ??= '16';

void import('../cli/relay-main.js').then((m) => m.main(process.argv.slice(2)));
