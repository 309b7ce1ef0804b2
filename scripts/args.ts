// What the commands in scripts/ that take a stack (plan, offline-list) share: their flags
// (`--flag value` or `--flag=value`), the --stack check, and how they talk to the outside.

/** Where a command runs and writes; tests pass their own to run it in-process. */
export interface CommandIo {
    /** Directory the command runs in (--dir is relative to it). */
    cwd: string;
    stdout: (text: string) => void;
    stderr: (text: string) => void;
}

/** A wrong command line; the message ends with the usage line where that helps. */
export class UsageError extends Error {}

/**
 * Parses `--<flag> value` / `--<flag>=value` for the given flags (the last one given wins); anything
 * else, or a flag without a value, is a UsageError naming `usage`. --stack is required and must be a
 * stack name.
 */
export function parseStackArgs<F extends string>(argv: string[], flags: readonly F[], usage: string): Partial<Record<F, string>> & { stack: string } {
    const pattern = new RegExp(`^--(${["stack", ...flags].join("|")})(?:=(.*))?$`);
    const args: Record<string, string> = {};
    for (let i = 0; i < argv.length; i++) {
        const m = pattern.exec(argv[i]);
        if (!m) throw new UsageError(`unknown argument ${argv[i]}; ${usage}`);
        const value = m[2] ?? argv[++i];
        if (value === undefined || value === "") throw new UsageError(`--${m[1]} needs a value; ${usage}`);
        args[m[1]] = value;
    }
    if (!args.stack) throw new UsageError(`--stack is required; ${usage}`);
    // The stack name becomes part of a file name (and a git path): keep it to one plain component.
    if (!/^[A-Za-z0-9_.-]+$/.test(args.stack) || args.stack.startsWith(".")) {
        throw new UsageError(`--stack "${args.stack}" is not a stack name (letters, digits, '-', '_', '.')`);
    }
    return args as Partial<Record<F, string>> & { stack: string };
}
