// Prints one plain closing line, "tests: N passed, N failed, N skipped", as the very last line of
// a jest run (after jest's own summary), so tools that read a run's last line see its totals.
class SummaryReporter {
    onRunComplete(_contexts, results) {
        const skipped = results.numPendingTests + results.numTodoTests;
        const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
        // jest's default summary is printed after custom reporters run: wait for the process to end.
        process.on("exit", () => process.stderr.write(line));
    }
}
module.exports = SummaryReporter;
