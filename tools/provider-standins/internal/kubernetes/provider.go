// Package kubernetes is the stand-in for pulumi-resource-kubernetes 4.34.2:
// just enough for a program whose only Kubernetes resource is the provider
// resource itself (pulumi:providers:kubernetes, e.g. made from a
// kubeconfig).  Every resource or function call fails with a clear message.
// Written for kubespray-ha; not Pulumi's provider.
package kubernetes

import (
	"context"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"kubespray-ha/provider-standins/internal/standin"
)

// Version is the @pulumi/kubernetes version this stands in for.
const Version = "4.34.2"

const schemaJSON = `{"name":"kubernetes","version":"4.34.2",` +
	`"displayName":"Kubernetes (kubespray-ha stand-in)",` +
	`"description":"STAND-IN for pulumi-resource-kubernetes 4.34.2, written for kubespray-ha ` +
	`(tools/provider-standins): supports only the provider resource itself. Not Pulumi's provider."}`

// Provider is the kubernetes stand-in's gRPC server.
type Provider struct {
	standin.Base
}

// New makes the provider.
func New() *Provider {
	return &Provider{Base: standin.Base{Name: "kubernetes", Version: Version, Schema: schemaJSON}}
}

func unsupported(what, urnOrTok string) error {
	return standin.Unsupported("kubernetes",
		"only the provider resource (pulumi:providers:kubernetes) is supported; %s %s is not", what, urnOrTok)
}

func (p *Provider) Check(_ context.Context, r *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return nil, unsupported("Check of", r.GetUrn())
}

func (p *Provider) Diff(_ context.Context, r *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return nil, unsupported("Diff of", r.GetUrn())
}

func (p *Provider) Create(_ context.Context, r *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	return nil, unsupported("Create of", r.GetUrn())
}

func (p *Provider) Read(_ context.Context, r *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return nil, unsupported("Read of", r.GetUrn())
}

func (p *Provider) Update(_ context.Context, r *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	return nil, unsupported("Update of", r.GetUrn())
}

func (p *Provider) Delete(_ context.Context, r *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return nil, unsupported("Delete of", r.GetUrn())
}

func (p *Provider) Invoke(_ context.Context, r *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, unsupported("function", r.GetTok())
}

func (p *Provider) Call(_ context.Context, r *pulumirpc.CallRequest) (*pulumirpc.CallResponse, error) {
	return nil, unsupported("method", r.GetTok())
}

func (p *Provider) Construct(_ context.Context, r *pulumirpc.ConstructRequest) (*pulumirpc.ConstructResponse, error) {
	return nil, unsupported("component", r.GetType()+" "+r.GetName())
}
