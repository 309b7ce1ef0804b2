package kubernetes

import (
	"context"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestKubernetesStandIn(t *testing.T) {
	ctx := context.Background()
	p := New()
	info, err := p.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "4.34.2" {
		t.Errorf("plugin info %v %v", info, err)
	}
	cfg, err := structpb.NewStruct(map[string]any{"kubeconfig": "apiVersion: v1\nkind: Config\n"})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := p.CheckConfig(ctx, &pulumirpc.CheckRequest{News: cfg})
	if err != nil || cr.GetInputs() != cfg {
		t.Errorf("CheckConfig %v %v", cr, err)
	}
	dr, err := p.DiffConfig(ctx, &pulumirpc.DiffRequest{OldInputs: cfg, News: cfg})
	if err != nil || dr.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("DiffConfig same %v %v", dr, err)
	}
	cfg2, _ := structpb.NewStruct(map[string]any{"kubeconfig": "other"})
	dr, err = p.DiffConfig(ctx, &pulumirpc.DiffRequest{OldInputs: cfg, News: cfg2})
	if err != nil || dr.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(dr.GetReplaces()) != 0 {
		t.Errorf("DiffConfig changed %v %v", dr, err)
	}
	conf, err := p.Configure(ctx, &pulumirpc.ConfigureRequest{Args: cfg})
	if err != nil || !conf.GetAcceptSecrets() {
		t.Errorf("Configure %v %v", conf, err)
	}
	_, err = p.Create(ctx, &pulumirpc.CreateRequest{Urn: "urn:pulumi:s::p::kubernetes:core/v1:Namespace::n"})
	if err == nil || !strings.Contains(err.Error(), "stand-in") ||
		!strings.Contains(err.Error(), "only the provider resource") {
		t.Errorf("Create error unclear: %v", err)
	}
}
