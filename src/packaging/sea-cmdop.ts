/** Entry of the cmdop single executable (in a SEA, argv[1] is the executable again). */
void import('../cli/cmdop-main.js').then((m) => m.main(process.argv.slice(2)));
