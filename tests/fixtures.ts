// Valid raw stack configs to start each test from; tests change one thing at a time.
export const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKh3XzbHq6cSq8pp2XJDG7m3zvKVhKCIxvX2tYz1W8Jg test@kubespray-ha";

export function libvirtRaw(): any {
    return {
        backend: "libvirt",
        kubesprayVersion: "v2.31.0",
        network: { cidr: "192.168.122.0/24", dhcpRange: { start: "192.168.122.150", end: "192.168.122.254" } },
        interface: "enp1s0",
        vip: { address: "192.168.122.100", mode: "arp" },
        ssh: { publicKey: PUBLIC_KEY, privateKeyPath: "/nonexistent/id_ed25519" },
        nodes: [
            { name: "kubenode1", ip: "192.168.122.21", roles: ["control-plane", "etcd", "worker"] },
            { name: "kubenode2", ip: "192.168.122.22", roles: ["control-plane", "etcd", "worker"] },
            { name: "kubenode3", ip: "192.168.122.23", roles: ["control-plane", "etcd", "worker"] },
        ],
    };
}

export function hcloudRaw(controlPlanes = 3, workers = 2): any {
    const nodes = [];
    for (let i = 1; i <= controlPlanes; i++) {
        nodes.push({ name: `cp${i}`, ip: `10.0.1.${10 + i}`, roles: ["control-plane", "etcd"] });
    }
    for (let i = 1; i <= workers; i++) {
        nodes.push({ name: `worker${i}`, ip: `10.0.1.${100 + i}`, roles: ["worker"] });
    }
    return {
        backend: "hcloud",
        network: { cidr: "10.0.1.0/24" },
        vip: { address: "10.0.1.5" },
        ssh: { publicKey: PUBLIC_KEY },
        hcloud: { firewall: { sshSourceCidrs: ["203.0.113.0/24"], apiSourceCidrs: ["203.0.113.0/24"] } },
        nodes,
    };
}

export function baremetalRaw(): any {
    return {
        backend: "baremetal",
        network: { cidr: "10.250.0.0/24" },
        interface: "enp1s0",
        vip: { address: "10.250.0.100" },
        ssh: { user: "root", privateKeyPath: "/nonexistent/id_ed25519" },
        nodes: [
            { name: "node1", ip: "10.250.0.11", roles: ["control-plane", "etcd", "worker"] },
            { name: "node2", ip: "10.250.0.12", roles: ["control-plane", "etcd", "worker"], sshAddress: "127.0.0.1" },
            { name: "node3", ip: "10.250.0.13", roles: ["control-plane", "etcd", "worker"] },
        ],
    };
}
