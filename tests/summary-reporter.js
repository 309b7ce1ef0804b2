// Prints, at the very end of a jest run (after jest's own summary): a per-file time table (slowest first,
// with each file's counts), then one plain closing line, "tests: N passed, N failed, N skipped", as the
// last line, so tools that read a run's last line see its totals and CI's log shows where the time went.
const path = require("path");

/** The table's rows: file, seconds, passed, failed, skipped; slowest first. */
function timeRows(results, root) {
    return results.testResults
        .map((r) => ({
            file: path.relative(root, r.testFilePath),
            seconds: Math.max(0, (r.perfStats.end - r.perfStats.start) / 1000),
            passed: r.numPassingTests,
            failed: r.numFailingTests + (r.testExecError ? 1 : 0),
            skipped: r.numPendingTests + r.numTodoTests,
        }))
        .sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file));
}

function formatTable(rows) {
    const total = rows.reduce((s, r) => s + r.seconds, 0);
    const width = Math.max(4, ...rows.map((r) => r.file.length));
    const line = (f, s, p, x, k) => `${f.padEnd(width)}  ${s.padStart(8)}  ${p.padStart(6)}  ${x.padStart(6)}  ${k.padStart(7)}`;
    const out = ["time per test file (slowest first):", line("file", "seconds", "passed", "failed", "skipped")];
    for (const r of rows) out.push(line(r.file, r.seconds.toFixed(1), String(r.passed), String(r.failed), String(r.skipped)));
    out.push(line("total", total.toFixed(1), "", "", ""));
    return `${out.join("\n")}\n`;
}

class SummaryReporter {
    constructor(globalConfig) {
        this.root = globalConfig.rootDir;
    }

    onRunComplete(_contexts, results) {
        const skipped = results.numPendingTests + results.numTodoTests;
        const table = formatTable(timeRows(results, this.root));
        const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
        // jest's default summary is printed after custom reporters run: wait for the process to end.
        process.on("exit", () => process.stderr.write(`\n${table}${line}`));
    }
}
module.exports = SummaryReporter;
module.exports.timeRows = timeRows;
module.exports.formatTable = formatTable;
