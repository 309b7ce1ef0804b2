// A first cluster.yml that failed midway must leave a stack the next `up` completes. Kubespray skips
// `kubeadm init` (and a control plane's `kubeadm join`) once /var/lib/kubelet/config.yaml exists, which
// kubeadm writes before it waits for the control plane; after an aborted init no API server ever comes
// up, and every later run fails on the joins ("no route to host" to the VIP). Measured by hand on
// Kubespray v2.31.0: `kubeadm reset -f` on that node, then cluster.yml, completes.
//
// So the cluster command's create, before cluster.yml and only while this run dir has never seen
// cluster.yml complete (no cluster-run record) but has seen an attempt (cluster-attempt), runs a small
// playbook over kube_control_plane: on a node where kubeadm ran (config.yaml or admin.conf) and nothing
// listens on the API port for 60 s, `kubeadm reset -f`. A cluster that once completed from this run dir
// is never touched; a node with a running API server is never touched; etcd is not touched (Kubespray's
// host etcd; reset.yml would wipe it and every node). Pure: text only.
import { API_PORT } from "../config/vip";

/** The run dir's record that a cluster.yml create started (its UTC time); written before cluster.yml runs. */
export const CLUSTER_ATTEMPT_FILE = "cluster-attempt";
/** The record a completed cluster.yml writes (playbook.ts); its presence means "once completed". */
export const CLUSTER_RUN_FILE = "cluster-run";

/** The playbook run before a retried first cluster.yml (Kubespray's inventory and ansible.cfg). */
export const RECOVER_PLAYBOOK = `# kubespray-ha: before retrying a first cluster.yml that never completed (components/kubespray/recover.ts)
- name: kubespray-ha | reset control planes left by an aborted kubeadm init or join
  hosts: kube_control_plane
  gather_facts: false
  become: true
  tasks:
    - name: kubespray-ha | did kubeadm run here (kubelet config written by kubeadm init/join)
      ansible.builtin.stat:
        path: /var/lib/kubelet/config.yaml
      register: kha_kubelet_config
    - name: kubespray-ha | admin.conf
      ansible.builtin.stat:
        path: /etc/kubernetes/admin.conf
      register: kha_admin_conf
    - name: kubespray-ha | does an API server listen on this node
      ansible.builtin.wait_for:
        host: 127.0.0.1
        port: ${API_PORT}
        timeout: 60
      register: kha_api
      ignore_errors: true
      when: kha_kubelet_config.stat.exists or kha_admin_conf.stat.exists
    - name: kubespray-ha | kubeadm reset -f (kubeadm ran here, but no API server came up)
      ansible.builtin.command: kubeadm reset -f
      environment:
        PATH: /usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
      when:
        - kha_kubelet_config.stat.exists or kha_admin_conf.stat.exists
        - kha_api is failed
`;

const EOF = "KHA_RECOVER_EOF";

/**
 * Shell for the cluster command's create (after the preamble, before cluster.yml): the recovery when
 * an earlier attempt of this run dir never completed, then the attempt record.
 */
export function recoverAbortedFirstRun(): string {
    return `# A first cluster.yml that never completed (components/kubespray/recover.ts).
if [ ! -f "$KHA_RUN_DIR/${CLUSTER_RUN_FILE}" ]; then
  if [ -f "$KHA_RUN_DIR/${CLUSTER_ATTEMPT_FILE}" ]; then
    echo "kubespray-ha: the cluster.yml started $(cat "$KHA_RUN_DIR/${CLUSTER_ATTEMPT_FILE}") never completed: kubeadm reset -f on each control plane where kubeadm ran but no API server listens" >&2
    cat > "$kha_tmp/kubespray-ha-recover.yml" <<'${EOF}'
${RECOVER_PLAYBOOK}${EOF}
    kha_playbook "$kha_tmp/kubespray-ha-recover.yml"
  fi
  date -u +%Y-%m-%dT%H:%M:%SZ > "$KHA_RUN_DIR/${CLUSTER_ATTEMPT_FILE}"
fi
`;
}
