// What a real-infrastructure test (the engine, root, network namespaces, libvirtd, nspawn nodes, the
// offline mirror, the Kubespray trees, the upstream snapshots) does when a prerequisite is missing.
//
//   requireOrSkip("tests/mirror.test.ts", missingReason(), "the offline mirror is built");
//
// Elsewhere than CI: skipped, the reason printed. Under CI (CI set): a failing test, because .ci/run's
// machine has everything and a skip there would hide a broken set-up. A CI that has none of it by design
// (GitHub's runners, .github/workflows/preview.yml) says so explicitly with KUBESPRAY_HA_REAL_TESTS=skip:
// a missing prerequisite is then a skip with its reason, as on a developer's machine. Never a default:
// .ci/run and `npm test` do not set it (tests/workflow.test.ts checks both).

export const REAL_TESTS_ENV = "KUBESPRAY_HA_REAL_TESTS";

/** KUBESPRAY_HA_REAL_TESTS=skip: this run has no real infrastructure on purpose. Any other non-empty value is an error. */
export function realTestsSkipped(): boolean {
    const value = process.env[REAL_TESTS_ENV];
    if (value === undefined || value === "") return false;
    if (value === "skip") return true;
    throw new Error(`${REAL_TESTS_ENV}=${value}: the only value is "skip" (a missing prerequisite of a real-infrastructure test is then skipped under CI too); unset it otherwise`);
}

/** Whether a missing prerequisite fails the run: under CI, unless KUBESPRAY_HA_REAL_TESTS=skip. */
export function missingPrerequisiteFails(): boolean {
    return Boolean(process.env.CI) && !realTestsSkipped();
}

/**
 * The prerequisite block of a real-infrastructure test file. With no `reason`, nothing. Else a test
 * `title` stands for the prerequisite: failing with "<what> cannot run under CI: <reason>" when
 * missingPrerequisiteFails(), otherwise skipped, with "skipping <what>: <reason>" printed.
 */
export function requireOrSkip(what: string, reason: string | undefined, title: string): void {
    if (!reason) return;
    if (missingPrerequisiteFails()) {
        test(title, () => {
            throw new Error(`${what} cannot run under CI: ${reason}`);
        });
        return;
    }
    console.warn(`skipping ${what}: ${reason}${process.env.CI ? ` (${REAL_TESTS_ENV}=skip)` : ""}`);
    test.skip(title, () => undefined);
}
