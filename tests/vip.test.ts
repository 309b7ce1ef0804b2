import { checkDhcpRange, checkVip, hostAddressProblem, parseIPv4, parseSubnet, pickVip } from "../components/config/vip";

const subnet = parseSubnet("192.168.122.0/24");
const nodeIps = ["192.168.122.21", "192.168.122.22", "192.168.122.23"];
const dhcpRange = { start: "192.168.122.50", end: "192.168.122.200" };

describe("parseSubnet", () => {
    it("computes network, broadcast and the .1 gateway", () => {
        expect(subnet).toEqual({
            cidr: "192.168.122.0/24", network: "192.168.122.0", broadcast: "192.168.122.255", gateway: "192.168.122.1", prefix: 24,
        });
        expect(parseSubnet("172.16.0.0/16").broadcast).toBe("172.16.255.255");
        expect(parseSubnet("10.0.0.0/24", "10.0.0.254").gateway).toBe("10.0.0.254");
    });
    it.each([
        ["192.168.122.0", /not a CIDR/],
        ["192.168.122.0/33", /not a valid IPv4 CIDR/],
        ["192.168.300.0/24", /not a valid IPv4 CIDR/],
        ["192.168.122.5/24", /host bits set; the network is 192.168.122.0\/24/],
        ["fd00::/64", /not a valid IPv4 CIDR/],
        ["10.0.0.0/31", /too small/],
    ])("rejects %s", (cidr, reason) => {
        expect(() => parseSubnet(cidr)).toThrow(reason);
    });
});

describe("parseIPv4", () => {
    it("accepts only canonical dotted quads", () => {
        expect(parseIPv4("10.0.0.1")?.correctForm()).toBe("10.0.0.1");
        for (const bad of ["10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.1/32", "::1", "", "host.example"]) {
            expect(parseIPv4(bad)).toBeUndefined();
        }
    });
});

describe("checkVip", () => {
    it("accepts a free address outside the DHCP range", () => {
        expect(checkVip({ vip: "192.168.122.10", subnet, nodeIps, dhcpRange })).toEqual([]);
        expect(checkVip({ vip: "192.168.122.201", subnet, nodeIps, dhcpRange })).toEqual([]);
    });
    it.each([
        ["192.168.123.10", /outside the node subnet 192.168.122.0\/24/],
        ["192.168.122.0", /network address/],
        ["192.168.122.255", /broadcast address/],
        ["192.168.122.1", /gateway address/],
        ["192.168.122.22", /already a node IP/],
        ["192.168.122.50", /inside the DHCP range 192.168.122.50-192.168.122.200/],
        ["192.168.122.200", /inside the DHCP range/],
        ["192.168.122.100", /inside the DHCP range/],
        ["192.168.122", /not an IPv4 address/],
    ])("rejects %s", (vip, reason) => {
        const problems = checkVip({ vip, subnet, nodeIps, dhcpRange });
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(reason);
    });
    it("honours a configured gateway instead of .1", () => {
        const custom = parseSubnet("192.168.122.0/24", "192.168.122.254");
        expect(checkVip({ vip: "192.168.122.1", subnet: custom, nodeIps })).toEqual([]);
        expect(checkVip({ vip: "192.168.122.254", subnet: custom, nodeIps })[0]).toMatch(/gateway/);
    });
});

describe("pickVip", () => {
    it("takes the highest free address outside the DHCP range", () => {
        expect(pickVip(subnet, nodeIps, dhcpRange)).toBe("192.168.122.254");
        expect(pickVip(subnet, nodeIps, { start: "192.168.122.100", end: "192.168.122.254" })).toBe("192.168.122.99");
    });
    it("keeps away from node IPs and their neighbours", () => {
        expect(pickVip(subnet, ["192.168.122.254", "192.168.122.252"])).toBe("192.168.122.250");
    });
    it("is deterministic and never breaks the rules it checks", () => {
        const picks = new Set<string>();
        for (let i = 0; i < 5; i++) picks.add(pickVip(subnet, nodeIps, dhcpRange)!);
        expect(picks.size).toBe(1);
        const [vip] = [...picks];
        expect(checkVip({ vip, subnet, nodeIps, dhcpRange })).toEqual([]);
    });
    it("skips a DHCP range that covers most of a large subnet quickly", () => {
        const big = parseSubnet("10.0.0.0/8");
        expect(pickVip(big, ["10.0.0.10"], { start: "10.0.1.0", end: "10.255.255.254" })).toBe("10.0.0.255");
    });
    it("returns undefined when nothing is free", () => {
        expect(pickVip(subnet, [], { start: "192.168.122.2", end: "192.168.122.254" })).toBeUndefined();
    });
});

describe("host addresses and DHCP ranges", () => {
    it("names the problem with a node address", () => {
        expect(hostAddressProblem("192.168.122.255", subnet)).toMatch(/broadcast/);
        expect(hostAddressProblem("192.168.122.30", subnet)).toBeUndefined();
    });
    it("checks both ends and their order", () => {
        expect(checkDhcpRange({ start: "192.168.122.200", end: "192.168.122.50" }, subnet, "network.dhcpRange")).toEqual([
            { key: "network.dhcpRange", message: expect.stringMatching(/after end/) },
        ]);
        expect(checkDhcpRange({ start: "192.168.1.2", end: "192.168.122.50" }, subnet, "network.dhcpRange")[0].key).toBe("network.dhcpRange.start");
    });
});
