// The one shell-quoting function every generated script uses, and argv -> command line.

// '=' stays bare: it only matters in command position (NAME=value), where no caller puts a quoted word.
const SAFE_WORD = /^[A-Za-z0-9_/.:@%+,=-]+$/;

/**
 * Quotes one argument for a POSIX shell (and virsh's batch parser, which follows the same
 * rules): single quotes around everything, each `'` written as `'\''`. Plain words stay bare.
 */
export function shQuote(value: string): string {
    if (value.includes("\0")) {
        throw new Error("a shell argument cannot contain a NUL byte");
    }
    if (SAFE_WORD.test(value)) {
        return value;
    }
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

export type Argv = readonly string[];

/** A command line from an argv: every word quoted. */
export function shellLine(argv: Argv): string {
    return argv.map(shQuote).join(" ");
}
