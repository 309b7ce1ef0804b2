// Temp dirs for a test file, removed after its tests.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Returns `tmp(prefix)`, which makes a fresh temp dir; all of them go in the file's afterAll. */
export function tempDirs(): (prefix: string) => string {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
    return (prefix: string) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        dirs.push(dir);
        return dir;
    };
}
