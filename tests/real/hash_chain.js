// The hash chain of hash_chain.py in node: an event loop (libuv: epoll,
// eventfd, a thread pool) with state.  Usage: node hash_chain.js FILE TOTAL READY
// Appends TOTAL lines "STEP HASH", HASH = sha256("PREVIOUS STEP"), PREVIOUS
// starting as 64 zeros; prints "ready" after step READY, then takes one
// stdin line per step (each step runs from a timer callback, so timers and
// stdin events both cross the checkpoint); prints "done" at the end.
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const [path, total, ready] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const chain = fs.openSync(path, 'a');
let previous = '0'.repeat(64);
let step = 0;
let pendingLines = 0;
let buffered = '';

function nextStep() {
	step += 1;
	previous = crypto.createHash('sha256').update(previous + ' ' + step).digest('hex');
	fs.writeSync(chain, step + ' ' + previous + '\n');
	if (step === ready)
		process.stdout.write('ready\n');
	if (step === total) {
		process.stdout.write('done\n');
		process.exit(0);
	}
}

function takeLines() {
	while (pendingLines > 0 && step < total) {
		pendingLines -= 1;
		setTimeout(nextStep, 0);
	}
}

process.stdin.on('data', (data) => {
	buffered += data.toString();
	const lines = buffered.split('\n');
	buffered = lines.pop();
	pendingLines += lines.length;
	takeLines();
});
function checkEnded() {
	process.stdout.write('stdin ended before step ' + (step + 1) + '\n');
	process.exit(1);
}

// Steps already queued run first (timers of one delay run in order).
process.stdin.on('end', () => setTimeout(checkEnded, 0));
while (step < ready)
	nextStep();
