// A first cluster.yml that failed midway must leave a stack the next `up` completes, and a working cluster
// must never be reset. Kubespray skips `kubeadm init` (and a control plane's `kubeadm join`) once
// /var/lib/kubelet/config.yaml exists, which kubeadm writes before it waits for the control plane; after an
// aborted first init no API server ever comes up, and every later run fails on the joins ("no route to host"
// to the VIP). Measured by hand on Kubespray v2.31.0: `kubeadm reset -f` on that node, then cluster.yml,
// completes. Kubespray itself resets only secondaries that never got a kubelet config
// (roles/kubernetes/control-plane/tasks/kubeadm-secondary.yml); this goes one step further, and only for a
// cluster that never answered.
//
// The decision is read from the cluster, never from local files (a fresh checkout, a second operator or a
// CI runner whose earlier cluster.yml failed has the same records as a first run that failed): before
// cluster.yml, when a cluster.yml started from this run dir never completed (a cluster-attempt record, no
// cluster-run record), the cluster command's create runs RECOVER_PLAYBOOK, which
//   1. reads, on every control plane, whether kubeadm ran there (kubelet config or admin.conf) and, where it
//      did, whether an API server answers there (TCP 127.0.0.1:6443 within 60 s), and, on every etcd member, whether etcd
//      holds Kubernetes data: `etcdctl get /registry --prefix --keys-only --limit=1` with the member's own
//      client certificate (Kubespray's host etcd: /etc/ssl/etcd/ssl/admin-<host>.pem; kubeadm's etcd:
//      /etc/kubernetes/pki/etcd/healthcheck-client.crt). A key there means an API server once wrote to
//      this cluster: it has answered. One successful read is a quorum read for the whole cluster; no read
//      at all (etcd down, no etcdctl, no certificate) counts as "may hold data";
//   2. resets (`kubeadm reset -f`) a control plane only if kubeadm ran there, no control plane's API answers,
//      and etcd was read and holds no Kubernetes data: a first init or join that never completed. Anything
//      else resets nothing, kube_control_plane[0] included (a cluster that has answered has /registry keys).
//   Each control plane's decision and its reason go to the log (the run's log file, and Pulumi's: the
//   progress filter passes the "kubespray-ha recovery:" lines).
// etcd itself is never touched (reset.yml would wipe it and every node).
// Kubespray's documents: none covers an aborted first run (docs/operations/recover-control-plane.md is for a
// cluster that lost its etcd quorum or control planes, which this never guesses at: a membership change then is
// refused with a pointer to that document, ./membership.ts). Pure: text only.
import { API_PORT } from "../config/vip";

/** The run dir's record that a cluster.yml create started (its UTC time); written before cluster.yml runs. */
export const CLUSTER_ATTEMPT_FILE = "cluster-attempt";
/** The record a completed cluster.yml writes (playbook.ts); its presence means "once completed". */
export const CLUSTER_RUN_FILE = "cluster-run";

/** Where the recovery looks (overridable per host: tests point them at files they made). */
export const RECOVER_DEFAULTS = {
    kha_kubelet_config: "/var/lib/kubelet/config.yaml",
    kha_admin_conf: "/etc/kubernetes/admin.conf",
    kha_api_host: "127.0.0.1",
    kha_api_port: API_PORT,
    kha_api_timeout: 60,
    kha_reset_command: "kubeadm reset -f",
} as const;

/** Prints the first Kubernetes key in the member's etcd (nothing: none), or fails when etcd cannot be read. */
const ETCD_REGISTRY_READ = `PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
h='{{ inventory_hostname }}'
if [ -f "/etc/ssl/etcd/ssl/admin-$h.pem" ]; then
  set -- --cacert /etc/ssl/etcd/ssl/ca.pem --cert "/etc/ssl/etcd/ssl/admin-$h.pem" --key "/etc/ssl/etcd/ssl/admin-$h-key.pem"
elif [ -f /etc/kubernetes/pki/etcd/healthcheck-client.crt ]; then
  set -- --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key
else
  echo "no etcd client certificate on $h" >&2; exit 3
fi
ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --dial-timeout=5s --command-timeout=10s "$@" get /registry --prefix --keys-only --limit=1`;

const defaultVar = (name: keyof typeof RECOVER_DEFAULTS) => {
    const v = RECOVER_DEFAULTS[name];
    return `{{ ${name} | default(${typeof v === "number" ? v : `'${v}'`}) }}`;
};

/** The playbook run before cluster.yml when a cluster.yml started from this run dir never completed (Kubespray's inventory and ansible.cfg). */
export const RECOVER_PLAYBOOK = `# kubespray-ha: read the cluster before cluster.yml; reset only control planes of a first init/join that never completed (components/kubespray/recover.ts)
- name: kubespray-ha | read the cluster (kubeadm state, API servers, etcd data)
  hosts: kube_control_plane:etcd
  gather_facts: false
  become: true
  any_errors_fatal: false
  tasks:
    - name: kubespray-ha | did kubeadm run here (kubelet config written by kubeadm init/join)
      ansible.builtin.stat:
        path: "${defaultVar("kha_kubelet_config")}"
      register: kha_kubelet_config_stat
      when: "'kube_control_plane' in group_names"
    - name: kubespray-ha | admin.conf
      ansible.builtin.stat:
        path: "${defaultVar("kha_admin_conf")}"
      register: kha_admin_conf_stat
      when: "'kube_control_plane' in group_names"
    - name: kubespray-ha | does an API server answer on this control plane
      ansible.builtin.wait_for:
        host: "${defaultVar("kha_api_host")}"
        port: "${defaultVar("kha_api_port")}"
        timeout: "${defaultVar("kha_api_timeout")}"
      register: kha_api
      ignore_errors: true
      when: "'kube_control_plane' in group_names and (kha_kubelet_config_stat.stat.exists or kha_admin_conf_stat.stat.exists)"
    - name: kubespray-ha | does etcd hold Kubernetes data (a key under /registry)
      ansible.builtin.shell: "{{ kha_etcd_registry_read | default(kha_etcd_registry_read_default) }}"
      vars:
        kha_etcd_registry_read_default: ${JSON.stringify(ETCD_REGISTRY_READ)}
      register: kha_etcd_read
      changed_when: false
      failed_when: false
      when: "'etcd' in group_names"
    - name: kubespray-ha | what this node says
      ansible.builtin.set_fact:
        kha_kubeadm_ran: "{{ ('kube_control_plane' in group_names) and (kha_kubelet_config_stat.stat.exists or kha_admin_conf_stat.stat.exists) }}"
        kha_api_ok: "{{ (('kube_control_plane' in group_names) and (kha_api is succeeded) and not (kha_api is skipped)) | bool }}"
        kha_etcd_state: "{{ 'none' if 'etcd' not in group_names else ('unread' if kha_etcd_read.rc != 0 else ('data' if kha_etcd_read.stdout | trim | length > 0 else 'empty')) }}"

- name: kubespray-ha | reset control planes left by a first kubeadm init or join that never completed
  hosts: kube_control_plane
  gather_facts: false
  become: true
  tasks:
    - name: kubespray-ha | the cluster as read
      ansible.builtin.set_fact:
        kha_answering: "{{ groups['kube_control_plane'] | select('in', hostvars) | map('extract', hostvars) | selectattr('kha_api_ok', 'defined') | selectattr('kha_api_ok', 'equalto', true) | map(attribute='inventory_hostname') | list }}"
        kha_etcd_states: "{{ groups['etcd'] | map('extract', hostvars) | map(attribute='kha_etcd_state', default='unread') | list }}"
    - name: kubespray-ha | decide
      ansible.builtin.set_fact:
        kha_etcd_cluster: "{{ 'data' if 'data' in kha_etcd_states else ('empty' if 'empty' in kha_etcd_states else 'unread') }}"
    - name: kubespray-ha | decide (reset or not, and why)
      ansible.builtin.set_fact:
        kha_reset: "{{ (kha_kubeadm_ran | default(false) | bool) and kha_answering | length == 0 and kha_etcd_cluster == 'empty' }}"
        kha_why: >-
          {{ 'kubeadm never ran here' if not (kha_kubeadm_ran | default(false) | bool)
             else ('the API answers on ' ~ (kha_answering | join(', ')) if kha_answering | length > 0
             else ('etcd holds Kubernetes data: this cluster has answered before' if kha_etcd_cluster == 'data'
             else ('etcd could not be read, so it may hold cluster data' if kha_etcd_cluster == 'unread'
             else 'kubeadm ran here, no API server answers on any control plane and etcd holds no Kubernetes data: a first init/join that never completed'))) }}
    - name: kubespray-ha | decision
      ansible.builtin.debug:
        msg: "kubespray-ha recovery: {{ inventory_hostname }}{{ ' (kube_control_plane[0])' if inventory_hostname == groups['kube_control_plane'][0] else '' }}: {{ 'RESET' if kha_reset else 'not reset' }}: {{ kha_why }}"
    - name: kubespray-ha | kubeadm reset -f (a first init/join that never completed)
      ansible.builtin.command: "${defaultVar("kha_reset_command")}"
      environment:
        PATH: /usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
      when: kha_reset | bool
`;

const EOF = "KHA_RECOVER_EOF";

/**
 * Shell for the cluster command's create (after the preamble, before cluster.yml): while this run dir has
 * no record of a completed cluster.yml, RECOVER_PLAYBOOK reads the cluster and resets only what a first
 * run that never completed left; then the attempt record.
 */
export function recoverAbortedFirstRun(): string {
    return `# Before cluster.yml, when a cluster.yml started from this run dir never completed (components/kubespray/recover.ts).
if [ ! -f "$KHA_RUN_DIR/${CLUSTER_RUN_FILE}" ]; then
  if [ -f "$KHA_RUN_DIR/${CLUSTER_ATTEMPT_FILE}" ]; then
    echo "kubespray-ha: the cluster.yml started $(cat "$KHA_RUN_DIR/${CLUSTER_ATTEMPT_FILE}") from this run dir never completed: reading the cluster first; kubeadm reset -f only on control planes where kubeadm ran, while no API server answers and etcd holds no Kubernetes data" | tee -a "$kha_log" >&2
    cat > "$kha_tmp/kubespray-ha-recover.yml" <<'${EOF}'
${RECOVER_PLAYBOOK}${EOF}
    kha_playbook "$kha_tmp/kubespray-ha-recover.yml"
  fi
  date -u +%Y-%m-%dT%H:%M:%SZ > "$KHA_RUN_DIR/${CLUSTER_ATTEMPT_FILE}"
fi
`;
}

/** What the plan says the cluster command's create does first (the same rule the playbook logs per node). */
export function recoveryNote(controlPlanes: readonly string[]): string {
    return (
        `before cluster.yml, when a cluster.yml started from this run dir never completed: the recovery check reads the cluster (components/kubespray/recover.ts) and ` +
        `runs kubeadm reset -f only on a control plane where kubeadm ran while no API server answers and etcd holds no Kubernetes data ` +
        `(a first init/join that never completed); on a cluster that has answered it resets nothing, ${controlPlanes[0] ?? "kube_control_plane[0]"} (kube_control_plane[0]) included. ` +
        `Control planes checked: ${controlPlanes.join(", ")}.`
    );
}
