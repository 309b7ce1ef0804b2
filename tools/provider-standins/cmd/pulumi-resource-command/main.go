// pulumi-resource-command is kubespray-ha's STAND-IN for Pulumi's command provider
// plugin, built by tests/infra/install-pulumi.sh only when the real provider
// cannot be built (see tools/provider-standins/README.md).
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/pkg/v3/resource/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"kubespray-ha/provider-standins/internal/command"
)

func main() {
	p := command.New()
	err := provider.Main("command", func(h *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		p.SetHost(h)
		return p, nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command (stand-in): %v\n", err)
		os.Exit(1)
	}
}
