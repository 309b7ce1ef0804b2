// A short human summary of a validated stack, and writing a rendered inventory to disk.
import * as fs from "fs";
import * as path from "path";
import { ClusterConfig } from "../config/config";
import { InventoryMachine, RenderedFiles } from "../kubespray/inventory";

export function summaryLines(config: ClusterConfig, machines: readonly InventoryMachine[]): string[] {
    const modeText = {
        arp: "kube-vip ARP (layer 2)",
        bgp: "kube-vip BGP",
        loadbalancer: "Hetzner Load Balancer (private)",
    }[config.vip.mode];
    return [
        `stack:    ${config.name} (backend ${config.backend}, Kubespray ${config.kubesprayVersion})`,
        `VIP:      ${config.vip.address}${config.vip.picked ? " (picked: vip.address not set)" : ""} via ${modeText}`,
        `API URL:  ${config.apiServerUrl}`,
        `network:  ${config.subnet.cidr} gateway ${config.subnet.gateway}` +
            (config.network.dhcpRange ? ` DHCP ${config.network.dhcpRange.start}-${config.network.dhcpRange.end}` : ""),
        `nodes:`,
        ...machines.map((m) => `  ${m.name.padEnd(16)} ${m.ip.padEnd(15)} ssh ${m.sshAddress}  [${m.roles.join(", ")}]`),
    ];
}

/** Writes rendered files below `dir` (replacing the group_vars that were there), files 0644. */
export function writeInventory(dir: string, files: RenderedFiles): void {
    fs.rmSync(path.join(dir, "group_vars"), { recursive: true, force: true });
    for (const [rel, content] of Object.entries(files)) {
        const file = path.join(dir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode: 0o644 });
    }
}
