package standin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"kubespray-ha/provider-standins/internal/command"
	"kubespray-ha/provider-standins/internal/kubernetes"
)

// noLoader: the stand-in schemas reference no other package.
type noLoader struct{}

func (noLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("no package %s", pkg)
}

func (noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, fmt.Errorf("no package %s", d.Name)
}

// The schemas must pass the engine's own validation (metaschema + binding).
func TestSchemasBind(t *testing.T) {
	for _, p := range []interface {
		GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error)
		GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error)
	}{command.New(), kubernetes.New()} {
		res, err := p.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var spec schema.PackageSpec
		if err := json.Unmarshal([]byte(res.GetSchema()), &spec); err != nil {
			t.Fatal(err)
		}
		pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
		if err != nil || diags.HasErrors() {
			t.Fatalf("%s schema does not bind: %v %v", spec.Name, err, diags)
		}
		info, _ := p.GetPluginInfo(context.Background(), &emptypb.Empty{})
		if pkg.Version == nil || pkg.Version.String() != info.GetVersion() {
			t.Errorf("%s schema version %v != plugin version %s", spec.Name, pkg.Version, info.GetVersion())
		}
	}
}
