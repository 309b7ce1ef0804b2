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

function heredocDelimiter(contents: readonly string[]): string {
    const lines = new Set(contents.flatMap((c) => c.split("\n")));
    let n = 0;
    while (lines.has(`KHA_EOF_${n}`)) n++;
    return `KHA_EOF_${n}`;
}

/** `cat > target <<'EOF'` with `content`, quoted (no expansion), under a delimiter the content does not hold. */
export function heredoc(target: string, content: string): string {
    const body = content.endsWith("\n") ? content : `${content}\n`;
    const eof = heredocDelimiter([body]);
    return `cat > ${target} <<'${eof}'\n${body}${eof}\n`;
}

/** Lines of <runDir>/inventory.meta: forks, kube_version and node names, read by the commands at run time. */
