// A kubeconfig shaped like Kubespray's artifacts/admin.conf, for the pure and the mock tests.

export const CA_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

/** A kubeconfig shaped like Kubespray's artifacts/admin.conf; `ca: null` leaves out certificate-authority-data. */
export function adminConf(server: string, ca: string | null = CA_DATA): string {
    return `apiVersion: v1
kind: Config
clusters:
- cluster:
${ca === null ? "" : `    certificate-authority-data: ${ca}\n`}    server: ${server}
  name: cluster.local
contexts:
- context:
    cluster: cluster.local
    user: kubernetes-admin-cluster.local
  name: kubernetes-admin-cluster.local@cluster.local
current-context: kubernetes-admin-cluster.local@cluster.local
preferences: {}
users:
- name: kubernetes-admin-cluster.local
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
`;
}
