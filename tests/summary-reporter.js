// Prints one plain closing line, "tests: N passed, N failed, N skipped", after jest's own summary,
// so tools that read the last line of a run see its totals.
class SummaryReporter {
    onRunComplete(_contexts, results) {
        const skipped = results.numPendingTests + results.numTodoTests;
        process.stderr.write(`tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
    }
}
module.exports = SummaryReporter;
