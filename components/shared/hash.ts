// The content hash every command's `triggers` are made of.
import { createHash } from "crypto";

/** sha256 of a canonical JSON encoding (object keys sorted): the `triggers` of the commands. */
export function contentHash(value: unknown): string {
    const canonical = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(canonical);
        if (v && typeof v === "object") {
            return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
        }
        return v;
    };
    return createHash("sha256").update(JSON.stringify(canonical(value) ?? null)).digest("hex");
}
