// SSH key pairs for the tests that log in to hosts they made (network namespaces, VMs).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** An ed25519 key pair (OpenSSH format, no passphrase) at `<dir>/<name>`: `{ privateKeyPath, publicKeyPath }`. */
export function generateKeyPair(dir: string, name = "id_ed25519", comment = "kubespray-ha-test"): { privateKeyPath: string; publicKeyPath: string } {
    const privateKeyPath = path.join(dir, name);
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", privateKeyPath], { stdio: "pipe" });
    return { privateKeyPath, publicKeyPath: `${privateKeyPath}.pub` };
}
