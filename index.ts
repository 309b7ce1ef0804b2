// The program: read and validate the stack config, create the nodes, hold the VIP,
// run Kubespray, export the kubeconfig. Each step lives in its own file in components/.
import { loadProgramInputs } from "./components/stack";
import { renderInventory, renderTimeMachines } from "./components/inventory";

const { config } = loadProgramInputs();

export const vip = config.vip.address;
export const vipMode = config.vip.mode;
export const apiServerUrl = config.apiServerUrl;
export const nodes = config.nodes.map((n) => ({ name: n.name, roles: n.roles, ip: n.ip }));
export const inventory = renderInventory(config, renderTimeMachines(config));
